"""The offline main job: ``lightxfer demo`` and the data it runs on."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from lightxfer.datasets import load_movie_reviews


def test_movie_reviews_are_balanced_real_sentences():
    texts, labels = load_movie_reviews()
    assert len(texts) == 200
    assert dict(zip(*np.unique(labels, return_counts=True))) == {"neg": 100, "pos": 100}
    assert all(isinstance(text, str) and text.strip() for text in texts)


def test_demo_prints_lightxfer_and_its_encoder_beside_tfidf(demo_output):
    # The test extra installs lightxfer[encoder], so the demo shows the encoder row.
    code, out = demo_output
    assert code == 0
    assert "3-fold cross-validated accuracy" in out
    rows = [line for line in out.splitlines() if "%" in line]
    assert [row.split()[:2] for row in rows] == [
        ["lightxfer", "make_classifier()"],
        ["lightxfer", "encoder=all-MiniLM-L6-v2"],
        ["TF-IDF", "+"],
    ]
    accuracies = [float(row.split("%")[0].split()[-1]) for row in rows]
    assert all(40 <= accuracy <= 100 for accuracy in accuracies)


def test_console_script_is_installed():
    executable = shutil.which("lightxfer", path=str(Path(sys.executable).parent))
    assert executable, "the lightxfer console script is not installed beside python"
    out = subprocess.run([executable, "--help"], capture_output=True, text=True, check=True)
    assert "demo" in out.stdout
