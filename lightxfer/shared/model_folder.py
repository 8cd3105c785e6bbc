"""Checks on a sentence-transformers model folder, made before anything loads it.

sentence-transformers builds a model from its folder: ``modules.json`` names the classes
it imports and constructs, each module's ``config.json`` the sizes of the arrays it
allocates, and weights in ``pytorch_model.bin`` are a pickle, which can run code when
loaded. A folder may be named by a model file someone else wrote, so
:func:`check_model_folder` refuses, with one line naming the folder:

- a ``modules.json`` ``type`` outside :data:`MODULE_TYPES` (sentence-transformers' own
  modules whose loading reads only JSON and tensors), and a module path leaving the folder
  or inside a hidden folder (such as ``.cache/``, which the fingerprint leaves out);
- a module config naming files or folders of its own choosing: a tokenizer elsewhere
  (``tokenizer_name_or_path``), or a path, file, folder or variant among the arguments it
  passes to transformers (:data:`FILE_ARGUMENTS`);
- custom code: a ``*.py`` file, an ``auto_map`` entry (remote code, which lightxfer never
  enables), a ``quantization_config``, a ``Dense`` activation outside :data:`ACTIVATIONS`;
- a module whose weights sentence-transformers or transformers would read from a
  pickle-based file (``pytorch_model.bin``...), unless the caller passes
  ``allow_pickle=True``: the rule follows the file each one actually reads
  (:func:`weight_files`), so a stray ``*.safetensors`` beside the pickle does not pass;
  safetensors files are read without running code;
- a config larger than :data:`MAX_CONFIG_BYTES`, a size in it above :data:`MAX_SIZE`, or
  sizes that announce more weights than the folder's weight files hold
  (:func:`announced_parameters`), so nothing allocates without bound;
- more than :data:`MAX_FILES` files, or a link to a folder.
"""

import json
import os
from pathlib import Path

from lightxfer.exceptions import UnsafeFileError

_ST = "sentence_transformers."
# Module classes whose ``load`` reads JSON and tensors only, by file stem: each is accepted
# under every dotted name sentence-transformers (2.x to 6.x) writes or re-exports.
_SAFE_MODULES = {
    "Transformer": "transformer",
    "Pooling": "pooling",
    "Normalize": "normalize",
    "Dense": "dense",
    "LayerNorm": "layer_norm",
    "Dropout": "dropout",
}
_PACKAGES = ("models", "sentence_transformer.modules", "base.modules")
#: Every ``modules.json`` type lightxfer loads.
MODULE_TYPES = frozenset(
    f"{_ST}{package}.{name}"
    for cls, stem in _SAFE_MODULES.items()
    for package in _PACKAGES
    for name in (cls, f"{stem}.{cls}", f"{cls}.{cls}")
)
#: ``Dense`` activations (torch.nn classes that take no arguments).
ACTIVATIONS = frozenset(
    f"torch.nn.modules.{module}.{name}"
    for module, names in {
        "activation": ("Tanh", "ReLU", "GELU", "Sigmoid", "SiLU", "LeakyReLU", "ELU", "Softmax"),
        "linear": ("Identity",),
    }.items()
    for name in names
)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")
#: The config files a ``Transformer`` module may read its arguments from (it reads the
#: first one found; each one present is checked).
SENTENCE_CONFIGS = tuple(
    f"sentence_{name}_config.json"
    for name in ("bert", "roberta", "distilbert", "camembert", "albert", "xlm-roberta", "xlnet")
)
#: Arguments a module config may not pass to transformers: each names a file or folder
#: to read (or write) instead of the checked ones, as do names ending in ``_file``,
#: ``_dir``, ``_folder`` or ``_path``, or fetches code or weights of its own
#: (quantisation back ends, hub kernels).
FILE_ARGUMENTS = frozenset(
    {"variant", "subfolder", "gguf_file", "revision", "tokenizer_file"}
    | {"quantization_config", "use_kernels", "kernel_config"}
)
_FILE_SUFFIXES = ("_file", "_dir", "_folder", "_path")
_ARGUMENTS = ("model_args", "tokenizer_args", "config_args")
_ARGUMENTS += ("model_kwargs", "processor_kwargs", "config_kwargs")
MAX_FILES = 10_000
#: Largest JSON config read (bytes); ``tokenizer.json`` is read by the tokenizers library.
MAX_CONFIG_BYTES = 4 << 20
#: Largest integer a config may hold (vocabulary, width, positions...).
MAX_SIZE = 1 << 22
# A weight takes at least 2 bytes (float16/bfloat16); the rest is slack for rounding.
_BYTES_PER_WEIGHT = 2
_WEIGHT_SLACK = 1 << 20

_WIDTH = ("hidden_size", "d_model", "n_embd", "dim", "embed_dim")
_DEPTH = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
_INNER = ("intermediate_size", "d_ff", "n_inner", "hidden_dim", "ffn_dim")
_POSITIONS = ("max_position_embeddings", "n_positions")


def check_model_folder(folder, *, allow_pickle=False):
    """Raise ``UnsafeFileError`` unless ``folder`` is safe to load (see the module docstring).

    Parameters
    ----------
    folder : pathlib.Path
        A sentence-transformers model folder (or a plain Hugging Face model folder, which
        sentence-transformers loads as a ``Transformer`` and mean pooling).
    allow_pickle : bool, default=False
        Accept modules whose weights are only in pickle-based files.
    """
    folder = Path(folder).resolve()
    files = _list_files(folder)
    if any(path.suffix == ".py" for path in files):
        code = next(path for path in files if path.suffix == ".py")
        _refuse(
            folder, f"ships Python code ({code.relative_to(folder)}), which lightxfer never runs"
        )
    modules = _modules(folder)
    for kind, path in modules:
        module_folder = _inside(folder, path)
        if kind == "Transformer":
            _check_transformer(folder, module_folder, allow_pickle)
        elif kind == "Dense":
            _check_dense(folder, module_folder, allow_pickle)
        elif kind == "LayerNorm":
            _weights(folder, module_folder, kind, allow_pickle)
        elif kind == "Pooling":
            _sizes(folder, _read_json(folder, module_folder / "config.json", required=False))
    for name in ("sentence_bert_config.json", "config_sentence_transformers.json"):
        _sizes(folder, _read_json(folder, folder / name, required=False))


def announced_parameters(config):
    """Return a lower bound on the weights a transformer ``config`` makes its model allocate.

    Embeddings (vocabulary and positions) plus, per layer, attention (4 square matrices)
    and the feed-forward block; ``None`` if the config names no width lightxfer knows.

    Examples
    --------
    >>> announced_parameters({"hidden_size": 4, "num_hidden_layers": 1, "vocab_size": 10})
    232
    """
    width = _first(config, _WIDTH)
    if width is None:
        return None
    depth = _first(config, _DEPTH) or 0
    inner = _first(config, _INNER) or 4 * width
    embeddings = (_first(config, ("vocab_size",)) or 0) + (_first(config, _POSITIONS) or 0)
    return width * embeddings + depth * (4 * width * width + 2 * width * inner)


def _list_files(folder):
    files = []
    for root, folders, names in os.walk(folder):
        if ".cache" in Path(root).relative_to(folder).parts:
            continue
        # A link to a folder could lead the fingerprint's walk anywhere (linked files,
        # as in the Hugging Face cache, are fine: each is one file).
        linked = next((name for name in folders if Path(root, name).is_symlink()), None)
        if linked is not None:
            _refuse(folder, f"holds a link to a folder ({linked}); copy the files instead")
        files.extend(Path(root, name) for name in names)
        if len(files) > MAX_FILES:
            _refuse(folder, f"holds more than {MAX_FILES} files; not a model folder")
    return files


def _modules(folder):
    """``[(class name, relative path)]`` from ``modules.json`` (a plain HF folder: Transformer)."""
    listed = _read_json(folder, folder / "modules.json", required=False)
    if listed is None:
        return [("Transformer", "")]
    if not isinstance(listed, list) or not all(isinstance(m, dict) for m in listed):
        _refuse(folder, "modules.json is not a list of modules")
    modules = []
    for module in listed:
        kind, path = module.get("type"), module.get("path", "")
        if kind not in MODULE_TYPES:
            _refuse(
                folder,
                f"modules.json names the module type {str(kind)[:80]!r}, not one of "
                "sentence-transformers' own modules lightxfer loads (Transformer, Pooling, "
                "Normalize, Dense, LayerNorm, Dropout); custom modules can run code",
            )
        if not isinstance(path, str):
            _refuse(folder, "modules.json gives a module path that is not a string")
        modules.append((kind.rsplit(".", 1)[1], path))
    return modules


def _inside(folder, relative, what="modules.json"):
    path = (folder / relative).resolve()
    if Path(relative).is_absolute() or (path != folder and folder not in path.parents):
        _refuse(folder, f"{what} points outside the folder ({str(relative)[:80]!r})")
    hidden = [part for part in path.relative_to(folder).parts if part.startswith(".")]
    if hidden:
        # Hidden folders (.cache/ above all) are left out of the checks and the fingerprint.
        _refuse(folder, f"{what} points into the hidden folder {hidden[0][:80]!r}")
    return path


def _check_transformer(folder, module_folder, allow_pickle):
    config = _read_json(folder, module_folder / "config.json", required=True)
    for name in ("auto_map", "quantization_config"):
        if name in config:
            _refuse(folder, f"config.json has {name!r}: custom code, which lightxfer never runs")
    tokenizer = _read_json(folder, module_folder / "tokenizer_config.json", required=False)
    if isinstance(tokenizer, dict) and "auto_map" in tokenizer:
        _refuse(folder, "tokenizer_config.json has 'auto_map': custom code, never run")
    _sizes(folder, config)
    _check_module_arguments(folder, module_folder)
    announced = announced_parameters(config)
    if announced is None:
        _refuse(folder, f"config.json names no model width lightxfer can check ({_WIDTH[0]})")
    weights = _weights(folder, module_folder, "Transformer", allow_pickle, config)
    _check_weight_bytes(folder, announced, weights)


def _check_module_arguments(folder, module_folder):
    """Refuse a module config that makes transformers read files the checks did not see."""
    for name in SENTENCE_CONFIGS:
        config = _read_json(folder, module_folder / name, required=False)
        if config is None:
            continue
        _sizes(folder, config)
        where = (module_folder / name).relative_to(folder)
        if config.get("tokenizer_name_or_path") is not None:
            _refuse(
                folder,
                f"{where} loads its tokenizer from elsewhere (tokenizer_name_or_path), which "
                "lightxfer neither checks nor fingerprints",
            )
        for group in _ARGUMENTS:
            arguments = config.get(group) or {}
            if not isinstance(arguments, dict):
                _refuse(folder, f"{where}: {group} is not a JSON object")
            for key, value in arguments.items():
                if key in FILE_ARGUMENTS or str(key).endswith(_FILE_SUFFIXES) or _names_path(value):
                    _refuse(
                        folder,
                        f"{where}: {group} sets {str(key)[:80]!r}, which names a file, folder "
                        "or code lightxfer does not check",
                    )


def _names_path(value):
    return isinstance(value, str) and ("/" in value or "\\" in value or value[:1] in ".~")


def _check_dense(folder, module_folder, allow_pickle):
    config = _read_json(folder, module_folder / "config.json", required=True)
    _sizes(folder, config)
    activation = config.get("activation_function")
    if activation is not None and activation not in ACTIVATIONS:
        _refuse(folder, f"a Dense module names the activation {str(activation)[:80]!r}")
    announced = (_first(config, ("in_features",)) or 0) * (_first(config, ("out_features",)) or 0)
    _check_weight_bytes(folder, announced, _weights(folder, module_folder, "Dense", allow_pickle))


def weight_files(module_folder, kind, config=None):
    """Return the weight files a module of ``kind`` loads from ``module_folder``.

    The files sentence-transformers 6 and transformers 5 actually read, in their order of
    preference: a ``Transformer``'s ``config.json`` ``transformers_weights`` if it names
    one, else ``model.safetensors``, else the shards ``model.safetensors.index.json``
    lists, else ``pytorch_model.bin`` (or its shards); other modules (``Dense``,
    ``LayerNorm``) read ``model.safetensors``, else ``pytorch_model.bin``.

    Parameters
    ----------
    module_folder : pathlib.Path
    kind : str
        The module class, as in ``modules.json`` (``"Transformer"``, ``"Dense"``...).
    config : dict, optional
        A ``Transformer``'s ``config.json``.

    Returns
    -------
    list of str
        File names inside ``module_folder`` (empty if it holds none of them).
    """
    explicit = (config or {}).get("transformers_weights") if kind == "Transformer" else None
    if explicit is not None:
        return [str(explicit)]
    candidates = ["model.safetensors", "pytorch_model.bin"]
    if kind == "Transformer":
        candidates[1:1] = ["model.safetensors.index.json"]
        candidates += ["pytorch_model.bin.index.json"]
    for name in candidates:
        if (module_folder / name).is_file():
            return _shards(module_folder, name) if name.endswith(".index.json") else [name]
    return []


def _shards(module_folder, index):
    try:
        weight_map = json.loads((module_folder / index).read_bytes()[:MAX_CONFIG_BYTES])
        return sorted({str(name) for name in weight_map["weight_map"].values()})
    except (ValueError, KeyError, TypeError, AttributeError):
        return []  # unreadable: transformers fails on it before reading any weight


def _weights(folder, module_folder, kind, allow_pickle, config=None):
    """Bytes of the weight files a module loads; pickle-based ones need ``allow_pickle``."""
    names = weight_files(module_folder, kind, config)
    paths = [_weight_path(folder, module_folder, name) for name in names]
    pickled = [name for name in names if not name.endswith(".safetensors")]
    if pickled and not allow_pickle:
        _refuse(
            folder,
            f"its weights are read from a pickle-based file ({pickled[0][:80]}), which can "
            "run code when loaded; pass allow_pickle=True (to SentenceEncoder or "
            "lightxfer.load) only if you trust its source, or convert the weights to "
            "safetensors (model.safetensors)",
        )
    return sum(path.stat().st_size for path in paths if path.is_file())


def _weight_path(folder, module_folder, name):
    # By name, not resolved: a weights file may be a link, as in the Hugging Face cache.
    relative = Path(name)
    if relative.is_absolute() or any(part.startswith(".") for part in relative.parts):
        _refuse(
            folder, f"a weights file name leaves the module folder or is hidden ({name[:80]!r})"
        )
    return module_folder / relative


def _check_weight_bytes(folder, announced, weight_bytes):
    if announced * _BYTES_PER_WEIGHT > weight_bytes + _WEIGHT_SLACK:
        _refuse(
            folder,
            f"its config announces {announced:,} weights, more than its weight files hold "
            f"({weight_bytes:,} bytes); damaged or crafted",
        )


def _sizes(folder, config):
    """Refuse a config holding an integer above :data:`MAX_SIZE` (top level and one below)."""
    if not isinstance(config, dict):
        return
    values = list(config.items())
    values += [
        (f"{k}.{k2}", v2) for k, v in config.items() if isinstance(v, dict) for k2, v2 in v.items()
    ]
    for name, value in values:
        if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_SIZE:
            _refuse(folder, f"config value {name}={value} is outside 0..{MAX_SIZE}")


def _read_json(folder, path, *, required):
    if not path.is_file():
        if required:
            _refuse(folder, f"{path.relative_to(folder)} is missing")
        return None
    name = path.relative_to(folder)
    if path.stat().st_size > MAX_CONFIG_BYTES:
        _refuse(folder, f"{name} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = json.loads(path.read_bytes())
    except ValueError:  # JSON and Unicode errors
        _refuse(folder, f"{name} is not valid JSON")
    if path.name != "modules.json" and not isinstance(data, dict):
        _refuse(folder, f"{name} is not a JSON object")
    return data


def _first(config, names):
    for name in names:
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _refuse(folder, problem):
    raise UnsafeFileError(f"sentence-transformers model folder {folder}: {problem}")
