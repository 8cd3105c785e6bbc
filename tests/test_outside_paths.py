"""Nothing in the repository reads a path outside it: a fresh clone has nothing beside it.

Two checks. A static scan of the sources (package, tests, benchmarks and their results,
notebooks, CI, README) for path expressions that leave the repository: ``../`` climbing above
it, ``Path(__file__).parents[N]`` or ``REPO.parent`` beyond its root, a ``shared/data``
folder and absolute paths in code. And at run time, the audit hook of ``outside_reads.py``, which
``conftest.py`` installs for the whole session (and its Python children): any test, notebook
or benchmark run by the tests that opens a file outside the repository fails. The tests
below show that both checks catch what they are for.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import OUTSIDE_READS
from outside_reads import LOG_VARIABLE, REPO

SCANNED = ("lightxfer", "tests", "benchmarks", "notebooks", ".ci", "README.md", "setup.py")
SUFFIXES = {".py", ".ipynb", ".md", ".json", ".toml", ".txt", ".sh", ""}
CLIMB = re.compile(r"(?<![\w./])((?:\.\./)+)[\w.$-]")
FILE_PARENTS = re.compile(r"__file__\)(?:\.resolve\(\))?(?:\.parents\[(\d+)\]|((?:\.parent\b)+))")
ROOT_PARENT = re.compile(r"\b(?:REPO|ROOT|REPO_ROOT|ROOT_DIR)\.parent\b")
SHARED_DATA = re.compile(r"""["']shared["']\s*/\s*["']data["']|shared/data""")
EXAMPLES = {Path(__file__), REPO / "tests" / "outside_reads.py"}  # hold what they catch
ABSOLUTE = re.compile(r"""["'](?:~/(?!\.)|/(?!(?:dev|proc|sys|tmp)/)[A-Za-z]\w*/)""")


def sources():
    """``(path, text)`` of every scanned file; a notebook contributes its code cells."""
    paths = []
    for name in SCANNED:
        top = REPO / name
        paths += [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
    for path in paths:
        if path.suffix not in SUFFIXES or "__pycache__" in path.parts or path in EXAMPLES:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".ipynb":
            cells = json.loads(text)["cells"]
            text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        yield path, text


def escapes(path, text):
    """Return ``(line, reason)`` for each path expression in ``text`` that leaves the repository.

    ``../`` is resolved against the file's folder and, except in notebooks (which run in
    their own folder), against the repository root, where tests, benchmarks and CI run.

    Examples
    --------
    >>> escapes(REPO / "tests" / "t.py", 'Path(__file__).parents[2] / "x"')
    [(1, 'Path(__file__).parents[2] leaves the repository')]
    >>> escapes(REPO / "notebooks" / "n.ipynb", 'open("../README.md")')
    []
    """
    depth = len(path.parent.relative_to(REPO).parts)
    bases = (depth,) if path.suffix == ".ipynb" else (depth, 0)
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in CLIMB.finditer(line):
            if match[1].count("../") > min(bases):
                found.append((number, f"{match[0]!r} climbs out of the repository"))
        for match in FILE_PARENTS.finditer(line):
            level = int(match[1]) if match[1] else match[2].count(".parent") - 1
            if level > depth:
                found.append((number, f"Path(__file__){match[0][9:]} leaves the repository"))
        for pattern, reason in (
            (ROOT_PARENT, "is the folder beside the repository"),
            (SHARED_DATA, "names the old shared data folder"),
        ):
            found += [(number, f"{m[0]!r} {reason}") for m in pattern.finditer(line)]
        if path.suffix in (".py", ".ipynb", ""):
            found += [(number, f"absolute path {m[0]!r}…") for m in ABSOLUTE.finditer(line)]
    return found


def test_no_source_names_a_path_outside_the_repository():
    problems = [
        f"{path.relative_to(REPO)}:{line}: {reason}"
        for path, text in sources()
        for line, reason in escapes(path, text)
    ]
    assert not problems, "paths outside the repository:\n" + "\n".join(problems)


def test_the_scan_covers_tests_notebooks_and_benchmarks():
    scanned = {path.relative_to(REPO).parts[0] for path, _ in sources()}
    assert {"tests", "notebooks", "benchmarks", "lightxfer", ".ci", "README.md"} <= scanned


@pytest.mark.parametrize(
    ("where", "code"),
    [
        ("tests/conftest.py", 'DATA = Path(__file__).parents[2] / "corpora"'),
        ("tests/conftest.py", "DATA = Path(__file__).resolve().parent.parent.parent"),
        ("benchmarks/x.py", 'default=ROOT.parent / "data"'),
        ("benchmarks/x.py", 'pd.read_csv("../corpora/mpqa.csv")'),
        ("benchmarks/x.py", "default=Path('corpora') / 'shared' / 'data'"),
        ("notebooks/x.ipynb", 'os.environ.get("LIGHTXFER_DATA_DIR", "../../data")'),
        ("README.md", "python benchmarks/accuracy.py --data-dir ../corpora"),
        ("tests/test_x.py", 'read_csv("/home/me/corpora/sst2.csv")'),
        ("tests/test_x.py", 'Path("~/corpora")'),
    ],
)
def test_the_scan_catches_paths_outside_the_repository(where, code):
    assert escapes(REPO / where, code)


@pytest.mark.parametrize(
    ("where", "code"),
    [
        ("tests/test_x.py", 'README = Path(__file__).parents[1] / "README.md"'),
        ("benchmarks/x.py", 'RESULTS = ROOT / "benchmarks" / "results"'),
        ("notebooks/x.ipynb", "see ../README.md"),
        ("tests/test_x.py", 'open("/proc/self/status")'),
        ("README.md", "`~/.cache/lightxfer`"),
    ],
)
def test_the_scan_lets_paths_inside_the_repository_pass(where, code):
    assert not escapes(REPO / where, code)


def test_the_hook_catches_a_read_beside_the_repository():
    beside = REPO.parent / "lightxfer-no-such-folder" / "sst2_train.csv"
    with pytest.raises(FileNotFoundError):
        open(beside)  # noqa: SIM115 - the attempt is what the hook sees
    caught = list(OUTSIDE_READS.caught)
    OUTSIDE_READS.caught.clear()  # this test's read was on purpose
    assert caught == [str(beside)]


def test_the_hook_lets_the_repository_and_temporary_files_pass(tmp_path):
    (REPO / "README.md").read_text(encoding="utf-8")
    (tmp_path / "x.txt").write_text("x")
    assert not OUTSIDE_READS.caught


def test_the_hook_catches_a_read_in_a_child_process(tmp_path):
    # Children of the tests (benchmark scripts, notebook kernels) get the hook through
    # PYTHONPATH; this one logs to its own file so that the session's log stays clean.
    log, beside = tmp_path / "child.log", REPO.parent / "lightxfer-no-such-folder" / "x.csv"
    code = f"import os\ntry:\n    open({str(beside)!r})\nexcept OSError:\n    pass"
    env = {**os.environ, LOG_VARIABLE: str(log)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert log.read_text().splitlines() == [str(beside)]
