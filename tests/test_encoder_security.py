"""The sentence encoder's model folder never runs code nor allocates without bound.

A model file names the encoder's model by name or folder, so an attacker can point it at a
folder they crafted. Each test copies the packaged all-MiniLM-L6-v2 folder (its weights
linked, not copied), edits it the way an attacker would, and checks that lightxfer refuses
it before sentence-transformers reads it: no marker file is created, and the one-line
error names the folder (and, from a model file, the file and the option to pass).
"""

import json
import os
import pickle
import shutil
import sys

import numpy as np
import pytest
import skops.io as sio
from conftest import RunsCode

import lightxfer
from lightxfer import SentenceEncoder, make_classifier
from lightxfer.exceptions import EncoderUnavailableError, UnsafeFileError
from lightxfer.shared import sentence_models
from lightxfer.shared.model_folder import MAX_SIZE, check_model_folder

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the hub
TEXTS = ["a good film", "a bad film", "great fun", "dull and boring"] * 3
LABELS = ["pos", "neg", "pos", "neg"] * 3
MARKER_MODULE = "lightxfer_test_marker_module"


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "code-ran"


@pytest.fixture
def model_copy(tmp_path):
    """A copy of the packaged model folder; the 90 MB weights file is a link to the original."""
    source = sentence_models.resolve_directory(sentence_models.DEFAULT_MODEL)
    copy = tmp_path / "minilm"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("model.safetensors"))
    (copy / "model.safetensors").symlink_to(source / "model.safetensors")
    return copy


@pytest.fixture
def marker_module(tmp_path, marker, monkeypatch):
    """An importable module that creates the marker when imported, and defines ``Module``."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / f"{MARKER_MODULE}.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nclass Module:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    yield f"{MARKER_MODULE}.Module"
    sys.modules.pop(MARKER_MODULE, None)


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _set_module_type(folder, kind, index=0):
    def change(modules):
        modules[index]["type"] = kind

    _edit_json(folder / "modules.json", change)


def _refused(call, *names, error=UnsafeFileError):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for name in names:
        assert str(name) in message, message
    return message


def test_the_packaged_model_and_an_exact_copy_pass(model_copy):
    check_model_folder(sentence_models.resolve_directory(sentence_models.DEFAULT_MODEL))
    check_model_folder(model_copy)
    encoder = SentenceEncoder(str(model_copy)).fit(TEXTS)
    assert encoder.transform(TEXTS[:2]).shape == (2, 384)


@pytest.mark.parametrize(
    "kind",
    [
        "os.system",
        "marker",  # a module of the attacker's choosing that runs code on import
        "sentence_transformers.util.misc.import_from_string",  # in the namespace, no module
        "sentence_transformers.models.WordEmbeddings",  # imports a tokenizer class by name
    ],
)
def test_module_types_outside_the_allowlist_are_refused(model_copy, marker, marker_module, kind):
    _set_module_type(model_copy, marker_module if kind == "marker" else kind, index=1)
    message = _refused(lambda: SentenceEncoder(str(model_copy)).fit(TEXTS), model_copy)
    assert "module type" in message
    assert not marker.exists() and MARKER_MODULE not in sys.modules


def test_pickle_weights_need_allow_pickle(model_copy, marker):
    (model_copy / "model.safetensors").unlink()
    (model_copy / "pytorch_model.bin").write_bytes(pickle.dumps(RunsCode(marker)))
    message = _refused(lambda: SentenceEncoder(str(model_copy)).fit(TEXTS), model_copy)
    assert "pytorch_model.bin" in message and "allow_pickle=True" in message
    assert not marker.exists()
    # With the caller's explicit choice the pickle rule passes; this file is still refused,
    # being far smaller than the weights config.json announces.
    allowed = _refused(lambda: check_model_folder(model_copy, allow_pickle=True), "announces")
    assert "allow_pickle" not in allowed


def test_a_pickle_beside_safetensors_weights_is_never_read(model_copy, marker):
    (model_copy / "pytorch_model.bin").write_bytes(pickle.dumps(RunsCode(marker)))
    encoder = SentenceEncoder(str(model_copy)).fit(TEXTS)
    assert encoder.transform(TEXTS[:1]).shape == (1, 384)
    assert not marker.exists()


@pytest.mark.parametrize(
    "craft, problem",
    [
        (lambda f: (f / "modeling_evil.py").write_text("import os"), "Python code"),
        (lambda f: _edit_json(f / "config.json", lambda c: c.update(auto_map={})), "auto_map"),
        (
            lambda f: _edit_json(f / "tokenizer_config.json", lambda c: c.update(auto_map={})),
            "auto_map",
        ),
        (
            lambda f: _edit_json(f / "config.json", lambda c: c.update(vocab_size=10**12)),
            f"outside 0..{MAX_SIZE}",
        ),
        (  # within the size limit, but 20 times what the weights file holds
            lambda f: _edit_json(f / "config.json", lambda c: c.update(vocab_size=MAX_SIZE)),
            "announces",
        ),
        (
            lambda f: _edit_json(
                f / "modules.json", lambda m: m[1].update(path="/".join([".."] * 3))
            ),
            "outside the folder",
        ),
        (lambda f: (f / "modules.json").write_text("{" * 100), "not valid JSON"),
        (lambda f: (f / "config.json").write_text('["hidden_size"]'), "not a JSON object"),
        (lambda f: (f / "everything").symlink_to("/"), "link to a folder"),
    ],
)
def test_custom_code_escapes_and_size_bombs_are_refused(model_copy, craft, problem):
    craft(model_copy)
    message = _refused(lambda: SentenceEncoder(str(model_copy)).fit(TEXTS), model_copy)
    assert problem in message


def test_dense_activation_must_be_a_known_torch_class(model_copy):
    dense = model_copy / "2_Dense"
    dense.mkdir()
    config = {"in_features": 384, "out_features": 2, "activation_function": "os.system"}
    (dense / "config.json").write_text(json.dumps(config))
    (dense / "model.safetensors").write_bytes(b"\0" * 4096)

    dense_module = {"idx": 3, "name": "3", "path": "2_Dense"}
    dense_module["type"] = "sentence_transformers.models.Dense"
    _edit_json(model_copy / "modules.json", lambda modules: modules.append(dense_module))
    _refused(lambda: check_model_folder(model_copy), model_copy, "os.system")


# -- references read from a model file ---------------------------------------------------


@pytest.fixture(scope="module")
def fitted():
    """A fitted pipeline on the packaged encoder and its predictions on TEXTS."""
    model = make_classifier(encoder="all-MiniLM-L6-v2", head="logreg").fit(TEXTS, LABELS)
    return model, model.predict_proba(TEXTS)


def _saved_with_reference(fitted, reference, path, **params):
    model, _ = fitted
    encoder = model.named_steps["embedding"]
    saved = encoder.get_params()
    encoder.set_params(model=str(reference), **params)  # as an attacker edits the file
    try:
        return lightxfer.save(model, path)
    finally:
        encoder.set_params(**saved)


def test_a_crafted_folder_named_by_a_model_file_is_refused_on_load(
    fitted, model_copy, marker, marker_module, tmp_path
):
    _set_module_type(model_copy, marker_module)
    path = _saved_with_reference(fitted, model_copy, tmp_path / "model.skops")
    message = _refused(lambda: lightxfer.load(path), path, model_copy, "encoder=")
    assert "module type" in message
    assert not marker.exists() and MARKER_MODULE not in sys.modules
    # The caller points the model at a trusted copy instead.
    loaded = lightxfer.load(path, encoder="all-MiniLM-L6-v2")
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), fitted[1], atol=1e-6)
    assert loaded.named_steps["embedding"].model == "all-MiniLM-L6-v2"


def test_allow_pickle_stored_in_a_file_is_not_obeyed(fitted, model_copy, marker, tmp_path):
    (model_copy / "model.safetensors").unlink()
    (model_copy / "pytorch_model.bin").write_bytes(pickle.dumps(RunsCode(marker)))
    path = _saved_with_reference(fitted, model_copy, tmp_path / "model.skops", allow_pickle=True)
    _refused(lambda: lightxfer.load(path), path, model_copy, "allow_pickle=True")
    # Rebuilt by skops itself, the estimator binds safely on first use.
    rebuilt = sio.load(path, trusted=sio.get_untrusted_types(file=path))["model"]
    _refused(lambda: rebuilt.predict(TEXTS), model_copy, "allow_pickle=True")
    assert not marker.exists()


def test_a_hub_name_in_a_file_never_downloads(fitted, tmp_path, monkeypatch):
    import huggingface_hub

    calls = []
    original = huggingface_hub.snapshot_download

    def recording(*args, **kwargs):
        calls.append(kwargs.get("local_files_only", False))
        return original(*args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", recording)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    path = _saved_with_reference(fitted, "someone/not-a-cached-model", tmp_path / "m.skops")
    _refused(lambda: lightxfer.load(path), path, "never downloads", error=EncoderUnavailableError)
    assert calls == [True]  # one look-up in the local cache, no download


def test_fit_downloads_only_checked_file_kinds_and_checks_before_loading(
    model_copy, marker, marker_module, monkeypatch
):
    import huggingface_hub

    _set_module_type(model_copy, marker_module)
    downloads = []

    def fake_hub(repo, *, local_files_only=False, allow_patterns=None, **kwargs):
        if local_files_only:
            raise huggingface_hub.errors.LocalEntryNotFoundError("not cached")
        downloads.append(allow_patterns)
        return str(model_copy)  # the "downloaded" folder is a crafted one

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_hub)
    monkeypatch.setattr(sentence_models, "_offline", lambda: False)
    _refused(lambda: SentenceEncoder("someone/crafted").fit(TEXTS), model_copy, "module type")
    assert not marker.exists() and MARKER_MODULE not in sys.modules
    assert downloads and not any(p.endswith((".bin", ".pt", ".pkl")) for p in downloads[0])


def test_cli_loads_pickle_weights_only_with_allow_pickle(model_copy, tmp_path, capsys):
    import torch
    from safetensors.torch import load_file

    from lightxfer.cli.entrypoint import main as cli

    weights = load_file(model_copy / "model.safetensors")
    (model_copy / "model.safetensors").unlink()
    torch.save(weights, model_copy / "pytorch_model.bin")  # real weights, as a pickle
    table = tmp_path / "train.csv"
    table.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(TEXTS, LABELS)))
    train = ["train", "--train", str(table), "--encoder", str(model_copy), "--head", "logreg"]
    embed = ["embed", "--input", str(table), "--encoder", str(model_copy)]
    for argv in ([*train, "--out", str(tmp_path / "m.skops")], [*embed, "--output", "e1"]):
        capsys.readouterr()
        assert cli(argv) == 2
        error = capsys.readouterr().err
        assert "pytorch_model.bin" in error and "--allow-pickle" in error
    assert cli([*train, "--allow-pickle", "--out", str(tmp_path / "m.skops")]) == 0
    # The saved model needs the caller's allow_pickle again: a file's own is never obeyed.
    _refused(lambda: lightxfer.load(tmp_path / "m.skops"), model_copy, "allow_pickle=True")
    model = lightxfer.load(tmp_path / "m.skops", allow_pickle=True)
    assert list(model.predict(TEXTS[:4])) == LABELS[:4]
    assert cli([*embed, "--allow-pickle", "--output", str(tmp_path / "e2")]) == 0
