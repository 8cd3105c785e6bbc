"""Issue 22, points 4 to 8: no vectors file or model folder makes lightxfer hang, race or
read what it did not check.

Each test is built like the attack it answers: a real file cut or crafted the way a
broken download or an attacker would leave it, and the one-line error naming the file.
Time bounds are generous: they catch hangs and quadratic work, not slowness.
"""

import contextlib
import gzip
import json
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import RunsCode
from gensim.models import KeyedVectors
from gensim.models.fasttext import load_facebook_vectors
from gensim.test.utils import datapath

import lightxfer
from lightxfer.exceptions import UnsafeFileError, VectorsFileError
from lightxfer.vectors import formats, loaded, store

needs_alarm = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIGHTXFER_CACHE", str(tmp_path / "cache"))


class Hang(BaseException):
    """Raised in a test that runs too long: no ``except Exception`` can swallow it."""


@contextlib.contextmanager
def _within(seconds):
    """Raise :class:`Hang` if the body runs longer than ``seconds``."""

    def timeout(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _load_error(path, *, seconds=10):
    with _within(seconds), pytest.raises(VectorsFileError) as info:
        lightxfer.load_vectors(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    return message


# -- 4. a fastText .bin cut anywhere ---------------------------------------------------


@needs_alarm
@pytest.mark.parametrize("name", ["lee_fasttext.bin", "lee_fasttext_new.bin"])
def test_fasttext_cut_anywhere_fails_quickly_naming_the_file(tmp_path, name):
    data = Path(datapath(name)).read_bytes()
    # Every byte of the headers and the first words, then points through the vocabulary
    # (gensim's word loop never ends there), the matrices and the last bytes.
    cuts = [*range(0, 160, 3), *range(160, len(data), len(data) // 60), len(data) - 1]
    start = time.perf_counter()
    for size in cuts:
        path = tmp_path / f"{size}-{name}"
        path.write_bytes(data[:size])
        _load_error(path)
    assert time.perf_counter() - start < 60
    whole = load_facebook_vectors(datapath(name))
    assert lightxfer.load_vectors(datapath(name)).vectors.shape == whole.vectors.shape


def test_fasttext_ngram_range_is_bounded(tmp_path):
    from gensim.models import _fasttext_bin as ftb

    data = bytearray(Path(datapath("lee_fasttext_new.bin")).read_bytes())
    fields = [name for name, _ in ftb._NEW_HEADER_FORMAT]
    offset = 8 + 4 * fields.index("maxn")  # magic and version, then int32 fields
    data[offset : offset + 4] = (10**6).to_bytes(4, "little")
    path = tmp_path / "ngrams.bin"
    path.write_bytes(bytes(data))
    assert "n-grams of 3 to 1000000 letters" in _load_error(path)


# -- 5. concurrent first loads ------------------------------------------------------------


def _load_in_race(args):
    """Load ``path`` into ``cache``; meet the other processes once the entry is written."""
    path, cache, barrier, delay = args
    os.environ["LIGHTXFER_CACHE"] = cache
    write_entry = store.write_entry

    def meeting(key, meta, fill):
        def fill_then_meet(tmp, meta):
            fill(tmp, meta)
            barrier.wait(timeout=60)  # every process has converted: now they all commit
            time.sleep(delay)

        return write_entry(key, meta, fill_then_meet)

    store.write_entry = meeting
    try:
        kv = lightxfer.load_vectors(path)
        entry = lightxfer.cache_path(path)
        return loaded.origin(kv).fingerprint, entry.stat().st_ino, float(kv.vectors.sum())
    except Exception as exc:  # reported to the test, which names the process that failed
        return f"{type(exc).__name__}: {exc}"
    finally:
        store.write_entry = write_entry


@pytest.mark.skipif(sys.platform != "linux", reason="forks the test process")
def test_concurrent_first_loads_share_one_entry(tmp_path):
    source = tmp_path / "glove.bin"
    lightxfer.load_vectors(limit=5000).save_word2vec_format(str(source), binary=True)
    expected = lightxfer.load_vectors(source)
    processes = 4
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager, context.Pool(processes) as pool:
        # Processes committing in turn (each loser finds a complete entry), then all at once.
        for round_, stagger in enumerate([0.2, 0.0, 0.0]):
            path = tmp_path / f"round-{round_}.bin"
            shutil.copy(source, path)
            cache = tmp_path / f"cache-{round_}"
            barrier = manager.Barrier(processes)
            tasks = [(str(path), str(cache), barrier, i * stagger) for i in range(processes)]
            results = pool.map(_load_in_race, tasks, chunksize=1)
            errors = [result for result in results if isinstance(result, str)]
            assert not errors, f"round {round_}: {errors}"
            fingerprints, entries, sums = zip(*results)
            assert set(fingerprints) == {loaded.origin(expected).fingerprint}
            assert len(set(entries)) == 1, f"round {round_}: a complete entry was replaced"
            assert np.allclose(sums, expected.vectors.sum())
            # The losers deleted their own temporary directories, and nothing else.
            assert len(list((cache / "vectors").iterdir())) == 1


# -- 6. the text parser is linear in line length ----------------------------------------


@needs_alarm
def test_a_line_at_the_length_limit_is_rejected_in_linear_time(tmp_path):
    # A word followed by a long run of digits that is not a number, then a number: the
    # check for extra numbers backtracked quadratically on the long field.
    field = "1" * (formats.MAX_LINE_BYTES - 40) + "x"
    path = tmp_path / "long.txt"
    path.write_text(f"a 0.1 0.2\nb {field} 5 0.3 0.4\n")
    assert len(path.read_bytes().splitlines()[1]) < formats.MAX_LINE_BYTES
    message = _load_error(path, seconds=5)  # a signal interrupts a regular expression too
    assert "line 2: expected a word and 2 values, found 4 values" in message


def test_words_with_spaces_and_numeric_extra_fields_still_parse(tmp_path):
    path = tmp_path / "spaces.txt"
    path.write_text("a 0.1 0.2\n. . . 0.3 0.4\nnew york 0.5 0.6\n")
    assert lightxfer.load_vectors(path).index_to_key == ["a", ". . .", "new york"]
    path.write_text("a 0.1 0.2\nb -1.5e3 0.3 0.4\n")
    assert "found 3 values" in _load_error(path)


# -- 8. compressed files ------------------------------------------------------------------


def test_a_gzipped_word2vec_binary_loads(tmp_path):
    # The format of gensim-data's word2vec-google-news-300: word2vec binary, gzipped.
    plain = Path(datapath("euclidean_vectors.bin"))
    packed = tmp_path / "vectors.bin.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    kv = lightxfer.load_vectors(packed)
    reference = KeyedVectors.load_word2vec_format(str(plain), binary=True)
    assert kv.index_to_key == reference.index_to_key
    np.testing.assert_array_equal(kv.vectors, reference.vectors)
    # The content decides, not the name.
    (tmp_path / "vectors.txt").write_bytes(packed.read_bytes())
    assert lightxfer.load_vectors(tmp_path / "vectors.txt").index_to_key == kv.index_to_key


def test_a_cut_gzipped_word2vec_binary_names_the_file(tmp_path):
    data = gzip.compress(Path(datapath("euclidean_vectors.bin")).read_bytes())
    path = tmp_path / "cut.bin.gz"
    path.write_bytes(data[: len(data) // 2])
    assert "is the file complete?" in _load_error(path)


def test_a_gzipped_fasttext_bin_asks_to_be_decompressed(tmp_path):
    path = tmp_path / "model.bin.gz"
    path.write_bytes(gzip.compress(Path(datapath("lee_fasttext_new.bin")).read_bytes()))
    assert "compressed fastText .bin" in _load_error(path)


@needs_alarm
def test_a_small_gz_of_newlines_is_handled_quickly(tmp_path):
    # 200 kB compressed, 200 MB of blank lines after one vector: minutes, line by line.
    path = tmp_path / "newlines.txt.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b"a 0.1 0.2\n")
        block = b"\n" * (1 << 20)
        for _ in range(200):
            out.write(block)
        out.write(b"b 0.3\n")
    assert path.stat().st_size < 300_000
    assert f"line {200 * (1 << 20) + 2}: expected a word and 2 values" in _load_error(
        path, seconds=30
    )


# -- 7. encoder folders: what sentence-transformers reads is what was checked --------------

TEXTS = ["a good film", "a bad film", "great fun", "dull and boring"]


@pytest.fixture
def model_copy(tmp_path, monkeypatch):
    """A copy of the packaged encoder folder, its 90 MB weights linked, not copied."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from lightxfer.shared import sentence_models

    source = sentence_models.resolve_directory(sentence_models.DEFAULT_MODEL)
    copy = tmp_path / "minilm"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("model.safetensors"))
    (copy / "model.safetensors").symlink_to(source / "model.safetensors")
    return copy


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _refused_load(folder, *names, expected=None):
    from lightxfer.shared import sentence_models

    with pytest.raises(UnsafeFileError) as info:
        sentence_models.load(str(folder), expected)
    message = str(info.value)
    assert "\n" not in message and str(folder) in message, message
    for name in names:
        assert name in message, message
    return message


def test_a_transformer_hidden_in_dot_cache_is_refused(model_copy):
    from lightxfer.shared import sentence_models

    # The whole transformer moves under .cache/, which the checks and the fingerprint skip.
    hidden = model_copy / ".cache" / "transformer"
    hidden.mkdir(parents=True)
    for path in list(model_copy.iterdir()):
        if path.is_file() and path.name not in ("modules.json", "README.md"):
            path.rename(hidden / path.name)
    _edit_json(model_copy / "modules.json", lambda m: m[0].update(path=".cache/transformer"))
    before = sentence_models.fingerprint(model_copy)
    # The attacker then changes what the model computes; the fingerprint must not hold.
    _edit_json(hidden / "config.json", lambda c: c.update(layer_norm_eps=10.0))
    _refused_load(model_copy, ".cache", expected=before)


def test_a_folder_inside_a_cache_is_fingerprinted(model_copy, tmp_path):
    from lightxfer.shared import sentence_models

    # Every hub download sits in ~/.cache/huggingface: its files must all be hashed.
    cached = tmp_path / ".cache" / "hub" / "minilm"
    cached.parent.mkdir(parents=True)
    model_copy.rename(cached)
    packaged = sentence_models.resolve_directory(sentence_models.DEFAULT_MODEL)
    assert sentence_models.fingerprint(cached) == sentence_models.fingerprint(packaged)
    _edit_json(cached / "config.json", lambda c: c.update(layer_norm_eps=10.0))
    assert sentence_models.fingerprint(cached) != sentence_models.fingerprint(packaged)


def test_a_tokenizer_outside_the_folder_is_refused(model_copy, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(model_copy / name, elsewhere / name)
    _edit_json(
        model_copy / "sentence_bert_config.json",
        lambda c: c.update(tokenizer_name_or_path=str(elsewhere)),
    )
    _refused_load(model_copy, "tokenizer_name_or_path")


@pytest.mark.parametrize(
    "arguments",
    [
        {"model_args": {"gguf_file": "weights.gguf"}},
        {"tokenizer_args": {"vocab": "elsewhere/vocab.txt"}},
        {"model_kwargs": {"attn_implementation": "someone/kernel"}},  # code from the hub
    ],
)
def test_module_arguments_naming_files_are_refused(model_copy, arguments):
    _edit_json(model_copy / "sentence_bert_config.json", lambda c: c.update(arguments))
    _refused_load(model_copy, "names a file, folder or code")


def test_a_dense_module_is_judged_by_the_file_it_reads(model_copy, tmp_path):
    marker = tmp_path / "code-ran"
    dense = model_copy / "2_Dense"
    dense.mkdir()
    config = {"in_features": 384, "out_features": 384, "bias": True}
    config["activation_function"] = "torch.nn.modules.activation.Tanh"
    (dense / "config.json").write_text(json.dumps(config))
    # sentence-transformers reads model.safetensors, else pytorch_model.bin: not this one.
    (dense / "dummy.safetensors").write_bytes(b"")
    (dense / "pytorch_model.bin").write_bytes(pickle.dumps(RunsCode(marker)))
    module = {"idx": 3, "name": "3", "path": "2_Dense"}
    module["type"] = "sentence_transformers.models.Dense"
    _edit_json(model_copy / "modules.json", lambda modules: modules.append(module))
    _refused_load(model_copy, "pytorch_model.bin", "allow_pickle=True")
    assert not marker.exists()


def test_explicit_transformers_weights_follow_the_pickle_rule(model_copy, tmp_path):
    marker = tmp_path / "code-ran"
    (model_copy / "weights.bin").write_bytes(pickle.dumps(RunsCode(marker)))
    _edit_json(model_copy / "config.json", lambda c: c.update(transformers_weights="weights.bin"))
    _refused_load(model_copy, "weights.bin")
    assert not marker.exists()
