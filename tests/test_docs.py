"""The README's Python examples run, in order, as a reader would paste them.

Every fenced block opened with ```` ```python ```` in ``README.md`` is executed top to
bottom in one shared namespace, so a later block may use names an earlier one defined.
They run in a temporary working directory (files an example writes, such as a saved
model, do not land in the repository); their data comes from :mod:`lightxfer.datasets`.

Shell blocks (```` ```bash ````, ``sh``, ``shell``, ``console``) are run too, but only their
``lightxfer ...`` commands (a line may chain several with ``&&``): each goes through the
CLI's ``main`` in this process, in order, and must exit with 0. Installation and tooling
commands (``pip``, ``ruff``, ``pytest``, ...) are left to CI, which runs them for real. The
quick start's ``lightxfer demo`` is the session's one demo run (``demo_output`` in
``conftest.py``: 3 folds instead of 10, shared with ``test_demo.py``). Every
``lightxfer <command>`` mentioned anywhere in the README must be a real subcommand.

To keep a block out of the test (e.g. one that needs a download or a cluster), put the
HTML comment ``<!-- skip-test -->`` on its own line right before the opening fence
(blank lines in between are allowed); it is invisible in the rendered README.

Docstring examples are run by ``--doctest-modules`` (see ``pyproject.toml``).
"""

import re
import shlex
from pathlib import Path

import pytest

from lightxfer.cli.entrypoint import build_parser, main

README = Path(__file__).parents[1] / "README.md"
SECURITY = README.with_name("SECURITY.md")
SKIP_MARK = "<!-- skip-test -->"
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\n]*)$")
PYTHON = ("python", "py")
SHELL = ("bash", "sh", "shell", "console")


def code_blocks(markdown, languages=PYTHON):
    """Return ``(line number, source, skipped)`` for each fenced block in ``languages``.

    Examples
    --------
    >>> text = "x\\n```python\\na = 1\\n```\\n<!-- skip-test -->\\n```python\\nb\\n```\\n"
    >>> code_blocks(text)
    [(3, 'a = 1\\n', False), (7, 'b\\n', True)]
    >>> code_blocks("```bash\\nls\\n```", SHELL)
    [(2, 'ls\\n', False)]
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
        if language in languages:
            before = [line.strip() for line in lines[:i] if line.strip()]
            skipped = bool(before) and before[-1] == SKIP_MARK
            blocks.append((i + 2, "\n".join(body) + "\n", skipped))
        i = j + 1
    return blocks


def lightxfer_commands(shell):
    """Return the argument lists of the ``lightxfer`` commands in a shell block.

    Examples
    --------
    >>> lightxfer_commands("pip install . && lightxfer demo --folds 3\\n$ lightxfer --help\\n")
    [['demo', '--folds', '3'], ['--help']]
    """
    commands = []
    for line in shell.splitlines():
        for part in line.removeprefix("$ ").split("&&"):
            words = shlex.split(part, comments=True)
            if words and words[0] == "lightxfer":
                commands.append(words[1:])
    return commands


@pytest.fixture
def in_scratch_dir(tmp_path, monkeypatch):
    """Run README examples where their files cannot land in the repository."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_has_python_examples():
    blocks = code_blocks(README.read_text(encoding="utf-8"))
    assert [b for b in blocks if not b[2]], "README.md has no ```python example to test"


def test_readme_python_blocks_run(in_scratch_dir):
    namespace = {"__name__": "__readme__"}
    for line, source, skipped in code_blocks(README.read_text(encoding="utf-8")):
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


def test_security_python_blocks_run(in_scratch_dir):
    # SECURITY.md's examples (loading what lightxfer does not trust by default) run too.
    namespace = {"__name__": "__security__"}
    blocks = [b for b in code_blocks(SECURITY.read_text(encoding="utf-8")) if not b[2]]
    assert blocks, "SECURITY.md has no ```python example to test"
    for line, source, _ in blocks:
        exec(compile(source, f"SECURITY.md (block at line {line})", "exec"), namespace)


def test_readme_shell_commands_run(in_scratch_dir, request):
    for line, source, skipped in code_blocks(README.read_text(encoding="utf-8"), SHELL):
        if skipped:
            continue
        for argv in lightxfer_commands(source):
            if argv == ["demo"]:  # the quick start: one shared run, with 3 folds (conftest)
                code = request.getfixturevalue("demo_output")[0]
                assert code == 0, f"README.md, block at line {line}: `lightxfer demo`"
                continue
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: --help exits 0, a usage error 2
                code = exc.code
            assert code == 0, f"README.md, block at line {line}: `lightxfer {shlex.join(argv)}`"


def test_readme_names_only_real_commands():
    subcommands = next(
        action.choices for action in build_parser()._actions if action.dest == "command"
    )
    named = set(re.findall(r"`lightxfer (\w[\w-]*)", README.read_text(encoding="utf-8")))
    unknown = sorted(named - set(subcommands))
    assert not unknown, f"README.md mentions commands the CLI does not have: {unknown}"
