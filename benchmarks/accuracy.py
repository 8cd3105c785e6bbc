"""Accuracy benchmark: lightxfer configurations vs TF-IDF and fastText on five real tasks.

Full data: SST-2, SST-5 and TREC on their given splits (test accuracy), SUBJ and MPQA by
stratified 10-fold CV. Few-shot curves: k examples per class drawn from the training
data (for SUBJ and MPQA: from 9 folds, tested on the held-out first fold), several
seeds, the same methods. Results go to ``<out>/accuracy.json``, ``accuracy.md`` and
``accuracy.png``; every JSON row carries the wall time of its fits and predictions.

Run from the repository root::

    python benchmarks/accuracy.py                                    # full, ~hours on 2 cores
    python benchmarks/accuracy.py --quick --out /tmp/bench           # CI smoke run, ~2 min
"""

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.linear_model import LogisticRegressionCV as _SklearnLogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

import lightxfer
from lightxfer import make_classifier
from lightxfer.datasets import load_dataset
from lightxfer.ngram_search import CS

REPO = Path(__file__).resolve().parents[1]
TASKS = ("sst2", "sst5", "trec", "subj", "mpqa")
CV_TASKS = ("subj", "mpqa")
SIZES = (8, 16, 32, 64, 128)
GOAL_SIZES = (8, 32)
RECOMMENDED = "lightxfer recommended: make_classifier()"
ENCODER = "all-MiniLM-L6-v2"
ENCODER_RECOMMENDED = "MiniLM recommended: make_classifier(encoder=...)"
ENCODER_LR = "frozen MiniLM + LR"
ENCODER_MLP = "MiniLM + MLP(256): make_classifier(encoder=..., head='mlp')"

#: Published numbers (test accuracy %). InferSent paper (Conneau et al., 2017, Table 4):
#: bag of word2vec vectors (300-d); Wang & Manning (2012): NB-SVM with bigrams.
REFERENCES = {
    "published: word2vec BoW 300d (Conneau et al. 2017, InferSent paper)": {
        "sst2": 79.7,
        "trec": 83.6,
        "subj": 90.9,
        "mpqa": 88.3,
    },
    "published: NB-SVM bigrams (Wang & Manning 2012)": {"subj": 93.2, "mpqa": 86.3},
}


PROTOCOL = """\
**Recommended configuration** (`lightxfer.make_classifier()`): a `HybridVectorizer` over
a frozen shared layer (here an `EmbeddingVectorizer`) that concatenates the frozen GloVe 6B 50d mean vectors
(scaled to unit root-mean-square norm) and a TF-IDF block of word 1-2 grams and character
2-5 grams (sublinear tf, L2 rows, the two halves weighted equally), then a softmax head
`LogisticRegression(C=1, solver="newton-cg")`. The n-gram weight (0, 0.25, 0.5, 1, 2, 4)
and C (0.1, 1, 10, 100; applied as a feature scale sqrt(C)) are chosen on the training
data only by liblinear logistic models (one-vs-rest beyond two classes): 3-fold
stratified CV (repeated with new shuffles up to 5 times, for about 1000 validation
predictions, below 1000 texts) keeping the lightest n-gram weight within one standard
error of the best validation accuracy, or from 2000 texts on one stratified 75/25 split
keeping the best.

**On the sentence encoder** (`make_classifier(encoder="all-MiniLM-L6-v2")`): the same
`HybridVectorizer` and search over a frozen all-MiniLM-L6-v2 `SentenceEncoder` (384-d, CPU)
instead of GloVe; no setting of the search was changed for it. "frozen MiniLM + LR" is the
encoder's embeddings with the same CV-tuned `LogisticRegressionCV` as the linear baselines;
the MLP row is `make_classifier(encoder=..., head="mlp")` (256 hidden units, early
stopping). Each task's texts are encoded once per machine (`--encoder-cache`). The rows
were written by several runs sharing `--out`: the MiniLM rows
(`--methods MiniLM`), then the few-shot rows of both recommended models again after
their search began repeating its folds on small data (`--methods recommended
--no-full-data`; from 2000 training texts the search is unchanged).

**Protocol.** SST-2, SST-5, TREC: given train/test splits (dev unused). SUBJ, MPQA: full
data by stratified 10-fold CV (seed 0); their few-shot test set is fold 0, the pool the
other nine folds. Few-shot: k examples per class drawn with seeds 0..4 from the training
pool, the same draws for every method. Linear baselines tune C over the same grid by 5-fold
CV (fewer folds when a class has fewer examples). fastText: `train_supervised`, lr 0.1,
bigrams, 25 epochs, `bucket=200000`, one thread, seeded; "GloVe init" reads the GloVe
vectors of the task's vocabulary from a pruned `.vec` file written once per task. fastText
is random, so its full-data scores on SST-2, SST-5 and TREC are means over the 5 seeds
(the other methods are deterministic; SUBJ and MPQA average 10 folds).
Published rows are copied from the papers (300-d vectors, other splits): context only.
With these fixed settings, fastText without pretrained vectors predicts a single class on
the smallest samples (e.g. TREC at 8-32 per class); it is reported as measured, untuned.

Rerun: `python benchmarks/accuracy.py` (add `--tasks subj` etc.
to split the work over processes sharing `--out`; `--quick` is the CI smoke run).
"""


# -- methods ---------------------------------------------------------------------------------


class LogisticRegressionCV(_SklearnLogisticRegressionCV):
    """scikit-learn's ``LogisticRegressionCV`` that also fits on a handful of examples.

    With fewer examples of a class than ``cv`` folds it uses one fold per example of
    the rarest class, and with a single example it skips CV and fits ``C=1``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1]])
    >>> LogisticRegressionCV(cv=5).fit(X, [0, 0, 1, 1]).predict([[0.05], [1.05]])
    array([0, 1])
    """

    def fit(self, X, y, sample_weight=None, **params):
        """Fit with ``min(cv, examples of the rarest class)`` stratified folds."""
        cv = self.cv if self.cv is not None else 5
        if isinstance(cv, int):
            n_splits = int(min(cv, np.unique(y, return_counts=True)[1].min()))
            if n_splits < 2:
                return self._fit_without_cv(X, y, sample_weight)
            cv = StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state or 0)
        fitted = _SklearnLogisticRegressionCV(**{**self.get_params(), "cv": cv})
        fitted.fit(X, y, sample_weight=sample_weight, **params)
        self.__dict__.update({k: v for k, v in vars(fitted).items() if k.endswith("_")})
        return self

    def _fit_without_cv(self, X, y, sample_weight):
        model = LogisticRegression(C=1.0, max_iter=self.max_iter, random_state=self.random_state)
        model.fit(X, y, sample_weight=sample_weight)
        self.__dict__.update({k: v for k, v in vars(model).items() if k.endswith("_")})
        self.C_ = np.full(len(self.classes_), 1.0)
        return self


def _lr_cv():
    # The same C grid and folds for every linear baseline: C tuned on training data only.
    return LogisticRegressionCV(Cs=list(CS), cv=5, max_iter=1000)


def tfidf_lr():
    """TF-IDF of word 1-2 grams (sublinear tf) and a CV-tuned logistic regression."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+")
    return Pipeline([("tfidf", vectorizer), ("head", _lr_cv())])


def frozen(pooling, head="logreg"):
    """Frozen GloVe vectors pooled by ``pooling`` and a head (C tuned by CV for logreg)."""

    def build():
        if head == "logreg":
            return make_classifier(pooling=pooling, head=_lr_cv())
        return make_classifier(pooling=pooling, head=head)

    return build


class FastTextClassifier:
    """fastText supervised, optionally initialised with pretrained vectors (a ``.vec`` file).

    ``bucket`` is 200k rather than fastText's 2M: the same bigram hashing with a tenth
    of the memory, which a laptop with other work running needs.
    """

    def __init__(self, dim=100, epoch=25, word_ngrams=2, pretrained=None, seed=0):
        self.dim, self.epoch, self.word_ngrams = dim, epoch, word_ngrams
        self.pretrained, self.seed = pretrained, seed

    def fit(self, texts, y):
        import fasttext

        # fastText's SGD reads the file in order: a file sorted by label (as SUBJ and
        # MPQA are) would leave the model fitted to the last class only.
        order = np.random.default_rng(self.seed).permutation(len(y))
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
            for text, label in zip(np.asarray(texts)[order], np.asarray(y)[order]):
                handle.write(f"__label__{_label_token(label)} {text}\n")
        self.labels_ = {_label_token(label): label for label in y}
        try:
            self.model_ = fasttext.train_supervised(
                handle.name,
                dim=self.dim,
                epoch=self.epoch,
                wordNgrams=self.word_ngrams,
                pretrainedVectors=self.pretrained or "",
                bucket=200_000,
                thread=1,
                seed=self.seed,
                verbose=0,
            )
        finally:
            os.unlink(handle.name)
        return self

    def predict(self, texts):
        labels, _ = self.model_.predict([" ".join(t.split()) for t in texts])
        return np.array([self.labels_[label[0][len("__label__") :]] for label in labels])


def _label_token(label):
    return str(label).replace(" ", "_")


def write_pruned_vectors(texts, path, vectors=lightxfer.DEFAULT_VECTORS):
    """Write the vectors of the words in ``texts`` as a ``.vec`` file; return its path.

    fastText reads the whole file on every fit; the task's vocabulary is a few percent of it.
    """
    kv = lightxfer.load_vectors(vectors)
    vocab = sorted({w for text in texts for w in text.split()} & set(kv.key_to_index))
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"{len(vocab)} {kv.vector_size}\n")
        for word in vocab:
            handle.write(word + " " + " ".join(f"{v:.5f}" for v in kv[word]) + "\n")
    return str(path)


def build_methods(quick, pretrained_path, fasttext_ok, encoder_ok):
    """Name to a zero-argument factory of an unfitted classifier (seeded ones take ``seed``)."""
    # The methods the goals compare come first, so that a run cut short still has them.
    methods = {
        RECOMMENDED: lambda seed: make_classifier(),
        "TF-IDF 1-2 grams + LR": lambda seed: tfidf_lr(),
        "GloVe mean + LR": lambda seed: frozen("mean")(),
    }
    if encoder_ok:
        methods[ENCODER_RECOMMENDED] = lambda seed: make_classifier(encoder=ENCODER)
        methods[ENCODER_LR] = lambda seed: make_classifier(encoder=ENCODER, head=_lr_cv())
        methods[ENCODER_MLP] = lambda seed: make_classifier(encoder=ENCODER, head="mlp")
    if fasttext_ok:
        methods["fastText (dim 100, bigrams, 25 epochs)"] = lambda seed: FastTextClassifier(
            seed=seed
        )
        methods["fastText dim 50 + GloVe init"] = lambda seed: FastTextClassifier(
            dim=50, pretrained=pretrained_path, seed=seed
        )
    if not quick:
        methods["GloVe mean/max/min + LR"] = lambda seed: frozen(["mean", "max", "min"])()
        methods["GloVe SIF + LR"] = lambda seed: frozen("sif")()
        methods["GloVe mean + MLP(256)"] = lambda seed: frozen("mean", head="mlp")()
    return methods


# -- data --------------------------------------------------------------------------------------


def full_splits(data_dir, task, quick, max_folds=None):
    """``[(X_train, y_train, X_test, y_test), ...]``: the given split, or CV folds."""
    if task not in CV_TASKS:
        X, y = load_dataset(task, "train", data_dir=data_dir)
        X_test, y_test = load_dataset(task, "test", data_dir=data_dir)
        return [(X, y, X_test, y_test)]
    X, y = load_dataset(task, data_dir=data_dir)
    folds = StratifiedKFold(10, shuffle=True, random_state=0).split(X, y)
    folds = list(folds)[: 1 if quick else max_folds]
    return [(X[tr], y[tr], X[te], y[te]) for tr, te in folds]


def texts_of(splits):
    """Every text of ``splits`` (training and test parts), e.g. to encode them once."""
    return np.concatenate([np.concatenate([s[0], s[2]]) for s in splits])


def sample_per_class(X, y, k, seed):
    """``k`` examples of every class (all of a class that has fewer), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(y == c))[:k] for c in np.unique(y)]
    index = rng.permutation(np.concatenate(picked))
    return X[index], y[index]


def cap(X, y, n, seed=0):
    """A stratified subsample of at most ``n`` rows (quick mode)."""
    if n is None or len(y) <= n:
        return X, y
    per_class = max(1, n // len(np.unique(y)))
    return sample_per_class(X, y, per_class, seed)


# -- running -----------------------------------------------------------------------------------


def evaluate(factory, seed, X, y, X_test, y_test):
    """Fit on ``(X, y)``; return test accuracy in % and the seconds fit + predict took."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of the small fits
        model = factory(seed).fit(X, y)
        predicted = model.predict(X_test)
    seconds = time.perf_counter() - start
    return 100.0 * float(np.mean(predicted == y_test)), seconds


def run(args):
    """Run every task, method and size; write results as they come; return the rows."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    quick = args.quick
    sizes = args.sizes if args.sizes is not None else ((8, 32) if quick else SIZES)
    seeds = range(1 if quick else args.seeds)
    train_cap, test_cap = (600, 400) if quick else (None, None)
    fasttext_ok = _has_fasttext() and not args.no_fasttext
    encoder_ok = _has_encoder() and not args.no_encoder
    scratch = Path(tempfile.mkdtemp(prefix="lightxfer-bench-"))
    meta = _meta(args, sizes, seeds)
    all_rows = []
    for task in args.tasks:
        rerun = [*sizes, *(["all"] if args.full_data else [])]
        rows = _kept_rows(out / f"accuracy_{task}.json", args.methods, rerun)
        splits = full_splits(args.data_dir, task, quick, args.max_folds)
        pretrained = None
        if fasttext_ok:
            pretrained = write_pruned_vectors(texts_of(splits[:1]), scratch / f"{task}_glove.vec")
        methods = build_methods(quick, pretrained, fasttext_ok, encoder_ok)
        if args.methods:
            methods = {k: v for k, v in methods.items() if any(m in k for m in args.methods)}
        uses_encoder = any(name.startswith(("MiniLM", "frozen MiniLM")) for name in methods)
        if uses_encoder:
            warm_encoder_cache(texts_of(splits), Path(args.encoder_cache))
        X_pool, y_pool, X_test, y_test = splits[0]
        X_test, y_test = cap(X_test, y_test, test_cap)
        for name, factory in methods.items():
            for k in sizes:
                for seed in seeds:
                    X, y = sample_per_class(X_pool, y_pool, k, seed)
                    accuracy, seconds = evaluate(factory, seed, X, y, X_test, y_test)
                    rows.append(_row(task, name, k, seed, 0, accuracy, seconds, len(y)))
            # One test split leaves a random method's seed luck in its score: average it.
            full_seeds = seeds if "fastText" in name and len(splits) == 1 else [0]
            for fold, (X, y, X_te, y_te) in enumerate(splits if args.full_data else []):
                X, y = cap(X, y, train_cap)
                X_te, y_te = cap(X_te, y_te, test_cap)
                for seed in full_seeds:
                    accuracy, seconds = evaluate(factory, seed, X, y, X_te, y_te)
                    rows.append(_row(task, name, "all", seed, fold, accuracy, seconds, len(y)))
            print(f"{task:5s} {name:45s} done", flush=True)
            write_task(task, rows, meta, out, complete=False)
        write_task(task, rows, meta, out, complete=True)
        all_rows += rows
    return all_rows


def _row(task, method, size, seed, fold, accuracy, seconds, n_train):
    return {
        "task": task,
        "method": method,
        "per_class": size,
        "seed": seed,
        "fold": fold,
        "n_train": int(n_train),
        "accuracy": round(accuracy, 2),
        "seconds": round(seconds, 2),
    }


def warm_encoder_cache(texts, cache_dir):
    """Encode a task's texts once per machine, for every size, seed and fold of the run.

    The rows go to ``cache_dir`` (``.npy``, named by the model's fingerprint and a digest
    of the texts) and into the in-process feature cache that every ``SentenceEncoder``
    of this process reads, so the benchmarked pipelines never encode a text again.
    """
    from lightxfer.shared import feature_cache

    texts = sorted(set(texts))
    encoder = lightxfer.SentenceEncoder(ENCODER).fit(texts[:1])
    path = cache_dir / f"{encoder.fingerprint_[:16]}-{feature_cache.texts_digest(texts)}.npy"
    if not path.is_file():
        print(f"encoding {len(texts)} texts with {ENCODER} (cached in {cache_dir})", flush=True)
        rows = encoder.set_params(progress=True).transform(texts)
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.npy")
        np.save(partial, rows)
        os.replace(partial, path)
        return
    rows = np.load(path, allow_pickle=False)
    # The key SentenceEncoder files its per-text rows under (lightxfer/shared/encoder.py).
    key = ("sentence-encoder", encoder.fingerprint_, False, encoder.max_seq_length_)
    table = feature_cache.FEATURE_CACHE.get(key) or feature_cache.RowTable(rows.shape[1])
    new = table.find(texts) < 0
    table.add([t for t, n in zip(texts, new) if n], rows[new], np.zeros((new.sum(), 2), int))
    feature_cache.FEATURE_CACHE.put(key, table)
    misses = feature_cache.FEATURE_CACHE.misses
    # Texts another task's file cached first (SST-2 and SST-5 share sentences) were encoded
    # in other batches: their rows may differ from this file's in the last bits.
    assert np.allclose(encoder.transform(texts[:5]), rows[:5], atol=1e-5)
    assert feature_cache.FEATURE_CACHE.misses == misses, "SentenceEncoder's cache key changed"


def _has_encoder():
    try:
        lightxfer.SentenceEncoder(ENCODER).fit(["probe"])
    except ImportError as error:
        print(f"MiniLM rows skipped: {error}", file=sys.stderr)
        return False
    return True


def _has_fasttext():
    try:
        import fasttext  # noqa: F401
    except ImportError:
        print("fastText rows skipped: pip install fasttext-numpy2-wheel", file=sys.stderr)
        return False
    return True


def _meta(args, sizes, seeds):
    return {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "quick": args.quick,
        "sizes": list(sizes),
        "seeds": len(seeds),
        "tasks": list(args.tasks),
        "python": platform.python_version(),
        "lightxfer": lightxfer.__version__,
        "cpus": os.cpu_count(),
        "_start": time.perf_counter(),
        "merged": bool(args.methods),
    }


def _kept_rows(path, methods, sizes):
    """With ``--methods``, the task's earlier rows a rerun of ``sizes`` does not replace."""
    if not methods or not path.is_file():
        return []
    rows = json.loads(path.read_text())["rows"]
    return [
        row
        for row in rows
        if not any(m in row["method"] for m in methods) or row["per_class"] not in sizes
    ]


def write_task(task, rows, meta, out, complete):
    """Write ``accuracy_<task>.json``, then the report over every task file in ``out``.

    One file per task lets several processes (one per group of tasks) share ``out``.
    """
    public = {k: v for k, v in meta.items() if not k.startswith("_")}
    public["wall_seconds"] = round(time.perf_counter() - meta["_start"], 1)
    earlier = out / f"accuracy_{task}.json"
    if meta.get("merged") and earlier.is_file():  # a --methods rerun: keep the first command
        first = json.loads(earlier.read_text())["meta"]["command"].split(" ; ")[0]
        if first != public["command"]:
            public["command"] = f"{first} ; {public['command']}"
    payload = {"meta": {**public, "complete": complete}, "rows": rows}
    _write_atomic(out / f"accuracy_{task}.json", json.dumps(payload, indent=1))
    write_report(out)


def _write_atomic(path, text):
    # Other processes of the same run read these files: never show them half a file.
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    os.replace(partial, path)


# -- reporting ---------------------------------------------------------------------------------


def summarise(rows):
    """Mean accuracy per (task, method, per_class) and total seconds per (task, method)."""
    table = pd.DataFrame(rows)
    accuracy = table.groupby(["task", "method", "per_class"])["accuracy"].mean()
    seconds = table.groupby(["task", "method"])["seconds"].sum()
    return table, accuracy, seconds


def markdown(rows, meta):
    """The results as markdown: full-data table, few-shot tables, goals, wall times."""
    table, accuracy, seconds = summarise(rows)
    warnings.simplefilter("ignore", RuntimeWarning)  # means of still-empty cells
    tasks = [t for t in TASKS if t in set(table["task"])]
    methods = _ordered(table["method"])
    lines = ["## Accuracy benchmark", ""]
    lines += [PROTOCOL, f"Command(s): `{meta['command']}`", ""]
    if meta.get("quick"):
        lines += ["**Quick run** (capped data, one seed, one fold): a smoke test, not results.", ""]
    header = "| pipeline | " + " | ".join(t.upper() for t in tasks) + " |"
    rule = "|---" * (len(tasks) + 1) + "|"
    lines += _full_data_table(table, accuracy, tasks, methods, header + "\n" + rule)
    for k in meta["sizes"]:
        lines += ["", f"### {k} examples per class (mean over {_seeds(table, k)})", ""]
        lines += [header[:-1] + "| mean |", rule + "---|"]
        for method in methods:
            values = [accuracy.get((t, method, k), np.nan) for t in tasks]
            cells = [_fmt(v) for v in values] + [_fmt(np.nanmean(values))]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", *goal_lines(accuracy, tasks, meta["sizes"])]
    lines += [*encoder_goal_lines(table, tasks), ""]
    full_fit = table[table["per_class"] == "all"].groupby(["task", "method"])["seconds"].mean()
    for title, values, digits in [
        ("Wall time (seconds, all fits and predictions of the run)", seconds, 0),
        ("Seconds per full-data fit and prediction (mean over folds / seeds)", full_fit, 1),
    ]:
        lines += [f"### {title}", "", header, rule]
        for method in methods:
            cells = [_fmt(values.get((t, method), np.nan), digits) for t in tasks]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    if not meta.get("complete", True):
        lines += ["**Partial results**: the run had not finished every method and task."]
    lines += [f"Wall time of the run(s): {meta['wall_seconds']:.0f} s on {meta['cpus']} CPUs."]
    lines += ["", "Plot: `accuracy.png` (accuracy vs examples per class, one panel per task)."]
    return "\n".join(lines) + "\n"


def _full_data_table(table, accuracy, tasks, methods, header):
    """Markdown lines of the full-data table; † marks rows measured on fewer folds."""
    lines = ["### Full data (test accuracy %; SUBJ, MPQA: stratified 10-fold CV)", "", header]
    folds = table[table["per_class"] == "all"].groupby(["task", "method"])["fold"].nunique()
    fewer = folds[folds < folds.groupby(level="task").transform("max")]
    for method in methods:
        cells = [
            _cell(accuracy, t, method, "all") + (" †" if (t, method) in fewer.index else "")
            for t in tasks
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    for name, numbers in REFERENCES.items():
        cells = [f"{numbers[t]:.1f}" if t in numbers else "" for t in tasks]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if len(fewer):
        lines += [
            "",
            "† fewer folds than the other rows (a shorter rerun): "
            + ", ".join(dict.fromkeys(f"{t.upper()} {n} fold(s)" for (t, _), n in fewer.items()))
            + "; the goals below compare on the same folds.",
        ]
    return lines


def _seeds(table, k):
    """``"5 seeds"``, or per method group when reruns used fewer (e.g. the MiniLM rows)."""
    counts = table[table["per_class"] == k].groupby("method")["seed"].nunique()
    if counts.nunique() <= 1:
        return f"{counts.max()} seeds"
    return f"{counts.max()} seeds; {counts.min()} (the same first draws) for " + ", ".join(
        f"`{m}`" for m, n in counts.items() if n < counts.max()
    )


def _ordered(methods):
    """Distinct methods, the recommended one first (task files merged by reruns differ)."""
    distinct = list(dict.fromkeys(methods))
    return sorted(distinct, key=lambda m: (m != RECOMMENDED, distinct.index(m)))


def goal_lines(accuracy, tasks, sizes):
    """Check the goals of issue 5 against the measured numbers (blank where unmeasured)."""
    rec, tfidf = RECOMMENDED, "TF-IDF 1-2 grams + LR"
    fasttext, glove = "fastText (dim 100, bigrams, 25 epochs)", "GloVe mean + LR"
    fasttext_glove = "fastText dim 50 + GloVe init"

    def get(task, method, size):
        return accuracy.get((task, method, size), np.nan)

    lines = ["### Goals", ""]
    margins = {}
    for task in tasks:
        baselines = [get(task, m, "all") for m in (tfidf, fasttext)]
        if not np.isnan(baselines).all():
            margins[task] = get(task, rec, "all") - np.nanmax(baselines)
    wins = sum(bool(m >= 0) for m in margins.values())
    lines.append(
        "- full data, recommended minus the better of TF-IDF+LR and fastText: "
        + ", ".join(f"{t.upper()} {m:+.1f}" for t, m in margins.items())
        + f" ({wins}/{len(margins)} tasks >= 0; goal: 4 of 5, the fifth within 1 point)"
    )
    # Not a goal of the issue, but the strongest baseline here: say where it leads.
    versus = {t: get(t, rec, "all") - get(t, fasttext_glove, "all") for t in tasks}
    if not np.isnan(list(versus.values())).all():
        lines.append(
            "- full data, recommended minus fastText with GloVe init (no goal): "
            + ", ".join(f"{t.upper()} {m:+.1f}" for t, m in versus.items() if not np.isnan(m))
        )
    for k in [s for s in GOAL_SIZES if s in sizes]:
        gains = [get(t, rec, k) - get(t, tfidf, k) for t in tasks]
        gaps = [get(t, rec, k) - get(t, glove, k) for t in tasks]
        lines.append(
            f"- {k} per class: recommended minus TF-IDF+LR, mean over tasks "
            f"{np.nanmean(gains):+.1f} (goal >= +5); worst task vs frozen GloVe mean + LR "
            f"{np.nanmin(gaps):+.1f} (goal >= -1)"
        )
    return lines


def encoder_goal_lines(table, tasks):
    """Issue 16's targets for ``make_classifier(encoder=...)``, on the seeds its rows have."""
    ours = table[table["method"] == ENCODER_RECOMMENDED]
    if ours.empty:
        return []
    # Compare on the draws and folds the MiniLM rows have (a rerun may use fewer).
    draws = set(zip(ours["seed"], ours["fold"]))
    paired = table[[draw in draws for draw in zip(table["seed"], table["fold"])]]
    accuracy = paired.groupby(["task", "method", "per_class"])["accuracy"].mean()

    def versus(other, k):
        return [
            accuracy.get((t, ENCODER_RECOMMENDED, k), np.nan) - accuracy.get((t, other, k), np.nan)
            for t in tasks
        ]

    lines = []
    for k in GOAL_SIZES:
        gains, gaps = versus(RECOMMENDED, k), versus(ENCODER_LR, k)
        if not np.isnan(gains).all():
            lines.append(
                f"- {k} per class, MiniLM recommended minus today's recommended, mean over tasks "
                f"{np.nanmean(gains):+.1f} (goal >= +8); worst task vs frozen MiniLM + LR "
                f"{np.nanmin(gaps):+.1f} (goal >= -1)"
            )
    margins = dict(zip(tasks, versus(RECOMMENDED, "all")))
    margins = {t: m for t, m in margins.items() if not np.isnan(m)}
    if margins:
        lines.append(
            "- full data, MiniLM recommended minus today's recommended: "
            + ", ".join(f"{t.upper()} {m:+.1f}" for t, m in margins.items())
            + f" ({sum(m >= 0 for m in margins.values())}/{len(margins)} tasks >= 0; goal: 4 of 5)"
        )
    return lines


def _cell(accuracy, task, method, size):
    return _fmt(accuracy.get((task, method, size), np.nan))


def _fmt(value, digits=1):
    return "" if value is None or np.isnan(value) else f"{value:.{digits}f}"


def plot(rows, path):
    """Accuracy vs examples per class, one panel per task; full data drawn at its size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = pd.DataFrame(rows)
    tasks = [t for t in TASKS if t in set(table["task"])]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.6), squeeze=False)
    # One colour per method in every panel; task files may list methods in other orders.
    colours = dict(zip(dict.fromkeys(table["method"]), plt.cm.tab20.colors))
    for ax, task in zip(axes[0], tasks):
        part = table[table["task"] == task]
        for method, group in part.groupby("method", sort=False):
            few = group[group["per_class"] != "all"].groupby("per_class")["accuracy"].mean()
            full = group[group["per_class"] == "all"]
            n_classes = max(1, part.loc[part["per_class"] == 8, "n_train"].max() // 8)
            x = list(few.index) + [full["n_train"].mean() / n_classes]
            y = list(few.values) + [full["accuracy"].mean()]
            ax.plot(x, y, marker="o", label=method, color=colours[method])
        ax.set_xscale("log")
        ax.set_title(task.upper())
        ax.set_xlabel("examples per class (last point: all)")
    axes[0][0].set_ylabel("accuracy %")
    handles = [plt.Line2D([], [], color=c, marker="o") for c in colours.values()]
    labels = list(colours)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(out):
    """Merge the task files of ``out`` into ``accuracy.json``, ``accuracy.md``, ``accuracy.png``."""
    parts = [json.loads(p.read_text()) for p in sorted(out.glob("accuracy_*.json"))]
    if not parts:
        return
    rows = [row for part in parts for row in part["rows"]]
    meta = {**parts[0]["meta"], "tasks": [p["meta"] for p in parts]}
    # Reruns of some methods (--methods, --sizes) merge into the task files: report all.
    meta["sizes"] = sorted({row["per_class"] for row in rows} - {"all"})
    meta["complete"] = all(p["meta"]["complete"] for p in parts)
    # Task files of one process carry its running total; processes run side by side.
    meta["wall_seconds"] = max(p["meta"]["wall_seconds"] for p in parts)
    meta["command"] = " ; ".join(dict.fromkeys(p["meta"]["command"] for p in parts))
    _write_atomic(out / "accuracy.json", json.dumps({"meta": meta, "rows": rows}, indent=1))
    _write_atomic(out / "accuracy.md", markdown(rows, meta))
    plot(rows, out / f".accuracy.{os.getpid()}.png")
    os.replace(out / f".accuracy.{os.getpid()}.png", out / "accuracy.png")


def add_data_arguments(
    parser, tasks=TASKS, files="<task>_train.csv, <task>_test.csv, subj.csv, mpqa.csv"
):
    """``--data-dir`` (your own copy of the task CSVs) and ``--tasks``, as the task benchmarks take them."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=os.environ.get("LIGHTXFER_DATA_DIR"),
        help=f"folder with your own copy of the task CSVs ({files}; default: "
        "$LIGHTXFER_DATA_DIR, else the datasets shipped with lightxfer)",
    )
    parser.add_argument("--tasks", nargs="+", default=list(tasks), choices=tasks)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="CI smoke run: small, ~2 minutes")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"), help="output dir")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the few-shot curves")
    parser.add_argument(
        "--methods",
        nargs="+",
        help="only methods whose name contains these; their rows replace those in --out",
    )
    parser.add_argument(
        "--sizes",
        nargs="*",
        type=int,
        help=f"examples per class (default {list(SIZES)}; none: full data only)",
    )
    parser.add_argument(
        "--no-full-data",
        dest="full_data",
        action="store_false",
        help="only the few-shot curves, no full-data rows",
    )
    parser.add_argument(
        "--max-folds", type=int, help="full data of SUBJ and MPQA: only the first folds"
    )
    parser.add_argument("--no-fasttext", action="store_true", help="skip the fastText rows")
    parser.add_argument("--no-encoder", action="store_true", help="skip the MiniLM rows")
    parser.add_argument(
        "--encoder-cache",
        default=str(Path(tempfile.gettempdir()) / "lightxfer-bench-encoder"),
        help="folder of the MiniLM embeddings of each task's texts, reused across runs",
    )
    return parser


def main(argv=None):
    """Parse ``argv`` and run the benchmark."""
    args = build_parser().parse_args(argv)
    run(args)
    print((Path(args.out) / "accuracy.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
