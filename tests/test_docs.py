"""The README's Python examples run, in order, as a reader would paste them.

Every fenced block opened with ```` ```python ```` in ``README.md`` is executed top to
bottom in one shared namespace, so a later block may use names an earlier one defined.
They run in a temporary working directory (files an example writes, such as a saved
model, do not land in the repository) with ``LIGHTXFER_DATA_DIR`` set to the shared
data folder.

To keep a block out of the test (e.g. one that needs a download or a cluster), put the
HTML comment ``<!-- skip-test -->`` on its own line right before the opening fence
(blank lines in between are allowed); it is invisible in the rendered README.

Docstring examples are run by ``--doctest-modules`` (see ``pyproject.toml``).
"""

import re
from pathlib import Path

import pytest
from conftest import DATA_DIR

README = Path(__file__).parents[1] / "README.md"
SKIP_MARK = "<!-- skip-test -->"
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\n]*)$")


def python_blocks(markdown):
    """Return ``(line number, source, skipped)`` for each ```python block of ``markdown``.

    Examples
    --------
    >>> text = "x\\n```python\\na = 1\\n```\\n<!-- skip-test -->\\n```python\\nb\\n```\\n"
    >>> python_blocks(text)
    [(3, 'a = 1\\n', False), (7, 'b\\n', True)]
    """
    blocks = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence = opening["fence"]
        language = opening["info"].strip().split(" ")[0].lower()
        body, j = [], i + 1
        while j < len(lines):
            closing = FENCE.match(lines[j])
            if closing and closing["fence"].startswith(fence) and not closing["info"].strip():
                break
            body.append(lines[j][len(opening["indent"]) :])
            j += 1
        if language in ("python", "py"):
            before = [line.strip() for line in lines[:i] if line.strip()]
            skipped = bool(before) and before[-1] == SKIP_MARK
            blocks.append((i + 2, "\n".join(body) + "\n", skipped))
        i = j + 1
    return blocks


def test_readme_has_python_examples():
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert [b for b in blocks if not b[2]], "README.md has no ```python example to test"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIGHTXFER_DATA_DIR", str(DATA_DIR))
    namespace = {"__name__": "__readme__"}
    for line, source, skipped in python_blocks(README.read_text(encoding="utf-8")):
        if skipped:
            continue
        code = compile(source, f"README.md (block at line {line})", "exec")
        try:
            exec(code, namespace)
        except Exception as exc:
            pytest.fail(
                f"README.md, block starting at line {line} raised "
                f"{type(exc).__name__}: {exc}\n\n{source}"
            )
