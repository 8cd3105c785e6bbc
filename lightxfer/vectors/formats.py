"""Recognise vector file formats and read the ones gensim does not stream.

Text formats (word2vec text with a header, GloVe without one, optionally compressed) are
parsed in blocks straight into a file, so a file larger than RAM is never held in memory,
and every malformed line is reported with its number.
"""

import re
from pathlib import Path

import numpy as np
import smart_open

from lightxfer.exceptions import VectorsFileError

FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")
_HEADER = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")
_COMPRESSED = {b"\x1f\x8b": ".gz", b"BZ": ".bz2"}
_BLOCK = 20_000


def detect_format(path):
    """Return the format of a vectors file or directory.

    One of ``"spacy"``, ``"fasttext"``, ``"gensim"``, ``"word2vec-binary"``, ``"text"``.

    Parameters
    ----------
    path : pathlib.Path
    """
    if path.is_dir():
        if (path / "vocab" / "vectors").is_file() or (path / "vectors").is_file():
            return "spacy"
        raise VectorsFileError(
            f"{path} is a directory but not a spaCy pipeline or vocab with vectors "
            "(no vocab/vectors file in it)"
        )
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if not head.strip():
        raise VectorsFileError(f"{path} is empty")
    if head.startswith(FASTTEXT_MAGIC) or _legacy_fasttext(head):
        return "fasttext"
    if head[:1] == b"\x80":
        return "gensim"
    if head[:2] in _COMPRESSED:
        return "text"
    first, _, rest = head.partition(b"\n")
    if _HEADER.match(first):
        sample = rest[:200]
        try:
            sample.decode("utf-8")
        except UnicodeDecodeError:
            return "word2vec-binary"
        return (
            "text"
            if re.match(rb"^\S+( [-+0-9.eE]+)+\s*$", rest.split(b"\n")[0])
            else ("word2vec-binary")
        )
    try:
        first.decode("utf-8")
    except UnicodeDecodeError:
        raise VectorsFileError(
            f"{path}: unknown vectors format (not word2vec, GloVe, fastText .bin, "
            "a gensim KeyedVectors file or a spaCy directory)"
        ) from None
    if len(first.split()) < 2:
        raise VectorsFileError(
            f"{path}, line 1: expected a word followed by numbers, found {first[:60]!r}"
        )
    return "text"


def _legacy_fasttext(head):
    # fastText files older than 0.2 have no magic number: they open with the int32
    # dimension, window size and epochs, which text formats (no NUL bytes) never do.
    if len(head) < 12 or b"\x00" not in head[:12]:
        return False
    return all(0 < value < 100_000 for value in np.frombuffer(head[:12], "<i4"))


def _parse_block(path, lines, first_line, dim):
    words, values = [], []
    for offset, line in enumerate(lines):
        parts = line.rstrip("\n\r ").split(" ")
        if len(parts) <= dim:
            raise VectorsFileError(
                f"{path}, line {first_line + offset}: expected a word and {dim} values, "
                f"found {len(parts) - 1} values (is the file truncated?)"
            )
        words.append(" ".join(parts[:-dim]))
        values.append(parts[-dim:])
    try:
        block = np.array(values, dtype=np.float32)
    except ValueError:
        for offset, row in enumerate(values):
            try:
                np.array(row, dtype=np.float32)
            except ValueError as exc:
                raise VectorsFileError(f"{path}, line {first_line + offset}: {exc}") from None
        raise
    bad = ~np.isfinite(block).all(axis=1)
    if bad.any():
        line = first_line + int(np.flatnonzero(bad)[0])
        raise VectorsFileError(f"{path}, line {line}: vector contains NaN or infinity")
    return words, block


def read_text(path, out_file, progress):
    """Stream a word2vec/GloVe text file into ``out_file`` as raw float32 rows.

    Parameters
    ----------
    path : pathlib.Path
        The text file (``.gz`` and ``.bz2`` are decompressed on the fly).
    out_file : pathlib.Path
        Where to write the matrix.
    progress : tqdm.tqdm
        Advanced by the number of words read.

    Returns
    -------
    words : list of str
    dim : int
    """
    words, seen, dim, expected = [], {}, None, None
    line_no = 0
    try:
        with smart_open.open(path, "r", encoding="utf-8") as lines, open(out_file, "wb") as out:
            first = next(lines, "")
            line_no = 1
            header = _HEADER.match(first.encode())
            if header:
                expected, dim = int(header[1]), int(header[2])
                block, start = [], 2
            else:
                dim = len(first.rstrip("\n\r ").split(" ")) - 1
                block, start = [first], 1
            for line in lines:
                line_no += 1
                block.append(line)
                if len(block) == _BLOCK:
                    _flush(path, block, start, dim, words, seen, out, progress)
                    block, start = [], line_no + 1
            _flush(path, block, start, dim, words, seen, out, progress)
    except UnicodeDecodeError as exc:
        raise VectorsFileError(
            f"{path}, line {line_no + 1}: not UTF-8 text ({exc.reason})"
        ) from None
    except (EOFError, OSError) as exc:
        raise VectorsFileError(f"{path}: cannot read ({exc})") from None
    if not words:
        raise VectorsFileError(f"{path}: no vectors found")
    if expected is not None and expected != len(words):
        raise VectorsFileError(
            f"{path}: header announces {expected} vectors but the file holds {len(words)} "
            "(truncated or incomplete download?)"
        )
    return words, dim


def _flush(path, block, start, dim, words, seen, out, progress):
    block = [line for line in block if line.strip()]
    if not block:
        return
    new_words, matrix = _parse_block(path, block, start, dim)
    for offset, word in enumerate(new_words):
        if word in seen:
            raise VectorsFileError(
                f"{path}, line {start + offset}: duplicate word {word!r} "
                f"(first on line {seen[word]})"
            )
        seen[word] = start + offset
    words.extend(new_words)
    out.write(matrix.tobytes())
    progress.update(len(new_words))


def spacy_vectors(path):
    """Return ``(words, matrix)`` from a spaCy pipeline directory or vocab directory."""
    from spacy.vocab import Vocab

    vocab_dir = path / "vocab" if (path / "vocab").is_dir() else path
    try:
        vocab = Vocab().from_disk(vocab_dir)
    except (OSError, ValueError) as exc:
        raise VectorsFileError(f"{path}: cannot read spaCy vectors ({exc})") from None
    vectors = vocab.vectors
    if not vectors.size:
        raise VectorsFileError(f"{path}: the spaCy pipeline has no vectors")
    rows = sorted(vectors.key2row.items(), key=lambda item: item[1])
    words = [vocab.strings[key] for key, _ in rows]
    matrix = np.asarray(vectors.data, dtype=np.float32)[[row for _, row in rows]]
    return words, matrix


def is_path(source):
    """Tell whether ``source`` names an existing file or directory."""
    return isinstance(source, (str, Path)) and Path(source).expanduser().exists()
