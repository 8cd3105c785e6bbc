"""``import lightxfer`` is light: its exports are imported on first use (PEP 562)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lightxfer

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("sklearn", "scipy", "pandas", "gensim", "torch", "sentence_transformers")


def run(code):
    """``code``'s JSON output in a fresh interpreter that imports this checkout."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_import_alone_imports_nothing_heavy():
    code = f"import json, sys, lightxfer; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    assert run(code) == []


def test_exports_work_without_the_encoder_being_imported():
    code = """
import json, sys
from lightxfer import make_classifier, DEFAULT_VECTORS
import lightxfer
model = lightxfer.make_classifier(vectors=DEFAULT_VECTORS)
model.fit(["a good film", "a bad film", "good fun", "bad acting"], [1, 0, 1, 0])
print(json.dumps({"predicted": model.predict(["good fun"]).tolist(),
                  "torch": "torch" in sys.modules, "sklearn": "sklearn" in sys.modules}))
"""
    assert run(code) == {"predicted": [1], "torch": False, "sklearn": True}


def test_every_export_resolves_and_unknown_names_fail():
    for name in lightxfer.__all__:
        assert getattr(lightxfer, name) is not None
    assert set(lightxfer.__all__) <= set(dir(lightxfer))
    assert lightxfer.distributed.__name__ == "lightxfer.distributed"
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        lightxfer.no_such_name  # noqa: B018
