"""Every notebook in ``notebooks/`` runs top to bottom, and is committed without outputs.

Each notebook executes with nbclient in a fresh kernel started from *this* interpreter
(a temporary kernelspec pointing at ``sys.executable``, so it works in any virtualenv
without registering a kernel), with ``notebooks/`` as working directory; their data comes
from :mod:`lightxfer.datasets`. Any cell raising an error fails the test; a cell running
longer than ``CELL_TIMEOUT`` seconds fails it too.

The kernel inherits this process's environment, so the notebooks' vector caches go to
the session's private ``LIGHTXFER_CACHE`` and a file opened outside the repository fails
the test (see ``conftest.py``). BLAS libraries get one
thread each unless the environment says otherwise: the notebooks' matrices are small, and
on a busy two-core machine idle BLAS threads spinning for a core made the notebooks up to
ten times slower.
"""

import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

import lightxfer

NOTEBOOKS_DIR = Path(__file__).parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED = (
    "01_quickstart.ipynb",
    "02_transfer.ipynb",
    "03_bring_your_own_vectors.ipynb",
    "04_inside_the_shared_layer.ipynb",
    "05_few_labels_with_a_sentence_encoder.ipynb",
    "06_labelling_loop.ipynb",
    "07_trusting_probabilities.ipynb",
)
CELL_TIMEOUT = 180
KERNEL_NAME = "lightxfer-test-python"
BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory):
    """A kernelspec manager that knows one kernel: ipykernel on ``sys.executable``."""
    root = tmp_path_factory.mktemp("kernels")
    spec_dir = root / KERNEL_NAME
    spec_dir.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python {sys.version_info.major}.{sys.version_info.minor} (tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return KernelSpecManager(kernel_dirs=[str(root)])


def test_the_notebooks_exist():
    missing = sorted(set(EXPECTED) - {path.name for path in NOTEBOOKS})
    assert not missing, f"notebooks/ lacks {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} have outputs or execution counts; strip them "
        f"(jupyter nbconvert --clear-output --inplace {path.name})"
    )
    assert "widgets" not in notebook.metadata, f"{path.name}: widget state is committed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs(path, kernel_specs, monkeypatch):
    for name in BLAS_THREADS:
        monkeypatch.setenv(name, os.environ.get(name, "1"))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # plots render inline, as for a reader
    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=kernel_specs)
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    start = time.perf_counter()
    try:
        client.execute()  # raises CellExecutionError, naming the cell, on the first error
    finally:
        if manager.has_kernel:  # nbclient leaves a kernel it was given running
            manager.shutdown_kernel(now=True)
    seconds = time.perf_counter() - start
    print(f"{path.name}: {seconds:.1f} s")


def test_notebooks_use_every_public_name():
    """A reader who runs the notebooks in order has used the whole public API.

    A name counts as used when a code cell writes ``lightxfer.<name>`` or imports it with
    ``from lightxfer import ...``.
    """
    code = "\n".join(
        cell.source
        for path in NOTEBOOKS
        for cell in nbformat.read(path, as_version=4).cells
        if cell.cell_type == "code"
    )
    used = set(re.findall(r"\blightxfer\.(\w+)", code))
    imports = re.findall(r"^\s*from lightxfer import (?:\(([^)]*)\)|([\w, ]+)$)", code, re.M)
    for names in map("".join, imports):
        used.update(name.split(" as ")[0].strip() for name in names.split(",") if name.strip())
    unused = sorted(set(lightxfer.__all__) - used)
    assert not unused, f"no notebook uses {unused}"
