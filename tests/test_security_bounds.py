"""Issue 31: bounded work for every file and every input, and weights that cannot be swapped.

Each test is built like the attack it answers (the fine-tuned weights' case is in
``test_fine_tuning.py``, beside the one fine-tuning of the suite): a crafted model file,
a huge text, a wide or id-labelled table. A refusal is one line naming the file.
"""

import io
import json
import os
import stat
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import read_shared, texts_and_labels

import lightxfer
from lightxfer.cli.entrypoint import main
from lightxfer.exceptions import UnsafeFileError
from lightxfer.shared import chunking
from lightxfer.tables import MAX_COLUMNS, TableError, read_table

os.environ.setdefault("HF_HUB_OFFLINE", "1")
TEXTS, LABELS = texts_and_labels(read_shared("sst2_train", 40))
MB = 1 << 20


def _one_line_error(error, call, path):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and str(path) in message and len(message) < 400, message
    return message


def _rewrite_members(path, change):
    """Rewrite the ``.npy`` members of a ``.skops`` file with ``change(name, data)``."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, change(name, data) if name.endswith(".npy") else data)


def _npy(descr, shape, data=b""):
    out = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue() + data


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = lightxfer.make_classifier(pooling="mean", head="logreg").fit(TEXTS, LABELS)
    return lightxfer.save(model, tmp_path_factory.mktemp("saved") / "model.skops")


# -- 1. a tiny file announcing gigabytes --------------------------------------------------


@pytest.mark.parametrize(
    "descr, shape, data",
    [
        ("|V0", (300_000_000,), b""),  # the attack: 0 bytes announced, a huge list built
        ("|S0", (300_000_000,), b""),
        ("<U0", (10**12,), b""),
        ("|V8", (1,), bytes(8)),  # raw bytes: no kind of value a model holds
        ([("a", "<i8"), ("b", "|V0")], (10**9,), b""),  # a record of a raw void
        ("<M8[s]", (1,), bytes(8)),
        ("|O", (1,), b""),
    ],
)
def test_array_of_no_model_kind_is_refused(saved, tmp_path, descr, shape, data):
    path = tmp_path / "crafted.skops"
    path.write_bytes(saved.read_bytes())
    _rewrite_members(path, lambda name, old: _npy(descr, shape, data))
    message = _one_line_error(UnsafeFileError, lambda: lightxfer.load(path), path)
    assert "element type" in message and "numbers, booleans and strings" in message


# -- 2 and 3. one huge text costs what max_chunks reads, nothing more ---------------------

MEMORY_SCRIPT = """
import json, os, resource, sys, time
import numpy as np
from lightxfer import SentenceEncoder
results = {}
for mode in ("chunk", "truncate"):
    encoder = SentenceEncoder(long_texts=mode, max_chunks=2, cache=False).fit(["warm up"])
    encoder.transform(["warm up " * 2000])
    for size in (1, 10, 50):
        for kind, unit in (("prose", "A sentence of words. "), ("one word", "a")):
            text = unit * (size * 2**20 // len(unit))
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            row = encoder.transform([text])
            head = encoder.transform([text[: 2**20]])
            results[f"{mode} {kind} {size}"] = {
                "seconds": time.perf_counter() - start,
                "grew_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before,
                "same_as_head": bool(np.array_equal(row, head)),
            }
            del text
print(json.dumps(results))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kB on Linux")
def test_one_huge_text_costs_bounded_time_and_memory():
    """1, 10 and 50 MB texts, prose or one endless word, in both modes: read to the head.

    Before, a 20 MB text reached 5.4 GB with long_texts="truncate", and a 6 MB word was
    tokenized whole twice (62 bytes a character) with "chunk".
    """
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, check=True
    )
    results = json.loads(done.stdout.splitlines()[-1])
    for case, found in results.items():
        # Features depend on the head only, and the text itself (50 MB) is all that grows.
        assert found["same_as_head"], case
        assert found["grew_kb"] < 200 * 1024, (case, found)
    slowest = max(found["seconds"] for found in results.values())
    assert slowest < 60, results  # a hang guard: each takes about a second


def test_tokenizer_and_sentence_search_see_only_the_head(minilm, monkeypatch, encode_calls):
    seen = []
    tokenize, levels = chunking._tokenize, chunking._boundary_levels
    monkeypatch.setattr(
        chunking,
        "_tokenize",
        lambda tok, texts: seen.extend(map(len, texts)) or tokenize(tok, texts),
    )
    monkeypatch.setattr(
        chunking,
        "_boundary_levels",
        lambda text, offsets: seen.append(len(text)) or levels(text, offsets),
    )
    text = "Short line.\n" * (8 * MB // 12)  # 8 MB of sentence ends
    tokenizer = minilm.model.tokenizer
    plan = chunking.plan_texts([text], tokenizer, 256, max_chunks=3)[0]
    bound = len(chunking.head(text, 3 * chunking.budget(tokenizer, 256)))
    assert seen and max(seen) <= bound < 20_000
    assert len(plan.chunks) == 3 and plan.cut > len(text) - bound
    # Truncation, too, never hands the model more than the head of what it reads.
    encoder = lightxfer.SentenceEncoder(long_texts="truncate", cache=False).fit(["x"])
    encoder.transform([text])
    assert max(len(t) for call in encode_calls for t in call) <= len(
        chunking.head(text, chunking.budget(tokenizer, encoder.max_seq_length_))
    )


# -- 4. a SentenceEncoder's settings from a file are validated on load ---------------------


@pytest.fixture(scope="module")
def encoder_model():
    return lightxfer.make_classifier(encoder="all-MiniLM-L6-v2", head="logreg").fit(TEXTS, LABELS)


@pytest.mark.parametrize(
    "name, value",
    [
        ("max_chunks", 0),
        ("max_chunks", -1),
        ("max_chunks", 1.5),
        ("max_chunks", "x" * 4_000_000),
        ("chunk_pooling", "nope"),
        ("long_texts", "nope"),
        ("max_seq_length", -5),
        ("normalize", "yes"),
    ],
)
def test_invalid_encoder_settings_in_a_file_are_refused(encoder_model, tmp_path, name, value):
    encoder = encoder_model.named_steps["embedding"]
    kept = vars(encoder)[name]
    setattr(encoder, name, value)  # what a crafted file holds; fit would refuse it
    try:
        path = lightxfer.save(encoder_model, tmp_path / "crafted.skops")
    finally:
        setattr(encoder, name, kept)
    message = _one_line_error(UnsafeFileError, lambda: lightxfer.load(path), path)
    assert f"SentenceEncoder.{name}" in message


def test_valid_encoder_settings_load(encoder_model, tmp_path):
    encoder_model.set_params(embedding__max_chunks=None)
    try:
        path = lightxfer.save(encoder_model, tmp_path / "fine.skops")
    finally:
        encoder_model.set_params(embedding__max_chunks=32)
    assert lightxfer.load(path).named_steps["embedding"].max_chunks is None


# -- 6, 7, 8. the command line ---------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    read_shared("sst2_train", 60).to_csv(folder / "train.csv", index=False)
    argv = ["train", "--train", folder / "train.csv", "--pooling", "mean", "--cv", "0"]
    assert main([str(a) for a in [*argv, "--out", folder / "model.skops"]]) == 0
    return folder


def test_predict_output_keeps_a_private_files_mode_and_is_synced(trained, monkeypatch, capsys):
    out = trained / "private.csv"
    out.write_text("secret\n")
    out.chmod(0o600)
    synced = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or fsync(fd))
    argv = ["predict", "--model", trained / "model.skops", "--input", trained / "train.csv"]
    assert main([str(a) for a in [*argv, "--output", out]]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and synced
    assert len(read_table(out)) == 60
    new = trained / "new.csv"
    assert main([str(a) for a in [*argv, "--output", new]]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask
    capsys.readouterr()


def test_a_label_per_row_is_refused_before_fitting(tmp_path, capsys):
    path = tmp_path / "ids.csv"
    path.write_text("text,label\n" + "".join(f"text {i},id-{i}\n" for i in range(100_000)))
    code = main(["train", "--train", str(path), "--out", str(tmp_path / "m.skops")])
    err = capsys.readouterr().err
    assert code != 0 and len(err.strip().splitlines()) == 1 and len(err) < 400, err
    assert "100000 of 100000 rows have a label no other row has" in err
    assert not (tmp_path / "m.skops").exists()


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_a_table_too_wide_is_refused_at_once(tmp_path, suffix):
    path = tmp_path / f"wide{suffix}"
    names = ["text", "label", *(f"c{i}" for i in range(500_000))]
    if suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(dict.fromkeys(names, "1")) for _ in range(2)))
    else:
        sep = "," if suffix == ".csv" else "\t"
        path.write_text("\n".join(sep.join(names) for _ in range(3)))
    message = _one_line_error(TableError, lambda: read_table(path, label_column="label"), path)
    assert f"more than a table may have ({MAX_COLUMNS}" in message


def test_finding_columns_does_not_read_a_table_too_wide(tmp_path, capsys):
    path = tmp_path / "wide.csv"
    names = ["body", "category", *(f"c{i}" for i in range(500_000))]
    path.write_text("\n".join(",".join(names) for _ in range(3)))
    code = main(["transfer", "--source", "sst2", "--train", str(path)])
    err = capsys.readouterr().err
    assert code != 0 and len(err.strip().splitlines()) == 1, err
    assert f"more than a table may have ({MAX_COLUMNS}" in err


def test_a_table_as_wide_as_allowed_reads(tmp_path):
    path = tmp_path / "wide.csv"
    names = ["text", *(f"c{i}" for i in range(MAX_COLUMNS - 1))]
    path.write_text(",".join(names) + "\n" + ",".join(["a"] * MAX_COLUMNS) + "\n")
    assert read_table(path).shape == (1, MAX_COLUMNS)
