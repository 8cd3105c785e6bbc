"""Recognise vector file formats and read the ones gensim does not stream.

Text formats (word2vec text with a header, GloVe without one, optionally compressed) are
parsed in blocks straight into a file, so a file larger than RAM is never held in memory,
and every malformed line is reported with its number. Messages name the file and the line
or word number, never the file's content: a path read by mistake (or named by a crafted
model file) is not echoed back.

Bounds on what a file can make the parser allocate: a text line holds at most
``MAX_LINE_BYTES`` bytes and a vector at most ``MAX_DIM`` values, and a parsed block at
most ``_BLOCK_VALUES`` values (about 10 MB of Python strings); a word2vec binary file is
read in blocks of at most 4M values, whatever count its header announces.
"""

import re
import zlib
from pathlib import Path

import numpy as np
import smart_open

from lightxfer.exceptions import VectorsFileError

FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")
_HEADER = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")
_COMPRESSED = {b"\x1f\x8b": ".gz", b"BZ": ".bz2"}
_BLOCK = 20_000
#: Longest text line accepted: 128 KiB, ten times a 4096-dimension line written with
#: full float32 precision. A longer line is refused, not read into memory.
MAX_LINE_BYTES = 1 << 17
#: Largest vector dimension accepted, in text and binary files alike.
MAX_DIM = 1 << 16
# Values per parsed text block: a parsed value is a Python str of ~60 bytes, so this
# bounds the parser's working memory to ~10 MB whatever the dimension.
_BLOCK_VALUES = 100_000
_NUMBERS_AFTER_WORD = re.compile(rb"^\S+( [-+0-9.eE]+|nan|inf)+\s*$", re.IGNORECASE)
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(nan|inf)$", re.IGNORECASE)


def detect_format(path):
    """Return the format of a vectors file or directory.

    One of ``"spacy"``, ``"fasttext"``, ``"pickle"`` (a gensim ``KeyedVectors.save`` file,
    or anything else that opens like a pickle: loading it can run code), ``"word2vec-binary"``
    or ``"text"``.

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
    if head[:1] == b"\x80":  # the PROTO opcode every pickle of protocol 2 or later opens with
        return "pickle"
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
        if _NUMBERS_AFTER_WORD.match(first.rstrip(b"\r")):
            return "text"  # read_text names the line that is not UTF-8
        raise VectorsFileError(
            f"{path}: unknown vectors format (not word2vec, GloVe, fastText .bin, "
            "a gensim KeyedVectors file or a spaCy directory)"
        ) from None
    if len(first.split()) < 2:
        raise VectorsFileError(f"{path}, line 1: expected a word followed by numbers")
    return "text"


def _legacy_fasttext(head):
    # fastText files older than 0.2 have no magic number: they open with the int32
    # dimension, window size and epochs, which text formats (no NUL bytes) never do.
    if len(head) < 12 or b"\x00" not in head[:12]:
        return False
    return all(0 < value < 100_000 for value in np.frombuffer(head[:12], "<i4"))


def _parse_block(path, numbered, dim):
    words, values = [], []
    for line_no, line in numbered:
        parts = line.rstrip("\n\r ").split(" ")
        if len(parts) <= dim:
            raise VectorsFileError(
                f"{path}, line {line_no}: expected a word and {dim} values, "
                f"found {len(parts) - 1} values (is the file truncated?)"
            )
        if len(parts) > dim + 1 and any(_NUMBER.match(part) for part in parts[1:-dim]):
            # GloVe 840B has a few words with spaces (". . ."), never numeric ones: extra
            # numbers mean a line with more values than the first, not a longer word.
            raise VectorsFileError(
                f"{path}, line {line_no}: expected a word and {dim} values, "
                f"found {len(parts) - 1} values (the first vector line has {dim})"
            )
        words.append(" ".join(parts[:-dim]))
        values.append(parts[-dim:])
    try:
        block = np.array(values, dtype=np.float32)
    except ValueError:
        for (line_no, _), row in zip(numbered, values):
            try:
                np.array(row, dtype=np.float32)
            except ValueError:
                raise VectorsFileError(
                    f"{path}, line {line_no}: expected numbers after the word"
                ) from None
        raise
    bad = ~np.isfinite(block).all(axis=1)
    if bad.any():
        line_no = numbered[int(np.flatnonzero(bad)[0])][0]
        raise VectorsFileError(
            f"{path}, line {line_no}: vector contains NaN or infinity; fix or drop that line"
        )
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
    block, block_lines, line_no = [], None, 0
    try:
        # Lines are decoded one by one (not by a text wrapper reading ahead in large
        # chunks) so that a decoding error names its own line.
        with smart_open.open(path, "rb") as handle, open(out_file, "wb") as out:
            for line_no, raw in enumerate(_bounded_lines(path, handle), start=1):
                line = raw.decode("utf-8")
                if dim is None:
                    header = _HEADER.match(raw)
                    if header:
                        expected, dim = int(header[1]), int(header[2])
                    else:
                        dim = len(line.rstrip("\n\r ").split(" ")) - 1
                    _check_dim(path, dim)
                    block_lines = max(1, _BLOCK_VALUES // max(dim, 1))
                    if header:
                        continue
                if line.strip():  # blank lines (a trailing one is common) carry no vector
                    block.append((line_no, line))
                if len(block) == block_lines:
                    _flush(path, block, dim, words, seen, out, progress)
                    block = []
            _flush(path, block, dim, words, seen, out, progress)
    except UnicodeDecodeError as exc:
        raise VectorsFileError(
            f"{path}, line {line_no}: not UTF-8 text ({exc.reason}); re-encode the file as UTF-8"
        ) from None
    except (EOFError, OSError, zlib.error) as exc:
        raise VectorsFileError(
            f"{path}: cannot read ({type(exc).__name__}); is the file complete?"
        ) from None
    if not words:
        raise VectorsFileError(f"{path}: no vectors found")
    if expected is not None and expected != len(words):
        raise VectorsFileError(
            f"{path}: header announces {expected} vectors but the file holds {len(words)} "
            "(truncated or incomplete download?)"
        )
    return words, dim


def _bounded_lines(path, handle):
    """Yield the lines of ``handle``, refusing one longer than ``MAX_LINE_BYTES``."""
    line_no = 0
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        line_no += 1
        if len(raw) > MAX_LINE_BYTES:
            raise VectorsFileError(
                f"{path}, line {line_no}: longer than {MAX_LINE_BYTES} bytes "
                "(lightxfer.vectors.formats.MAX_LINE_BYTES); not a vectors file?"
            )
        yield raw


def _check_dim(path, dim):
    if not 0 < dim <= MAX_DIM:
        raise VectorsFileError(
            f"{path}: {dim} dimensions announced; lightxfer reads vectors of 1 to "
            f"{MAX_DIM} dimensions (lightxfer.vectors.formats.MAX_DIM)"
        )


def _flush(path, block, dim, words, seen, out, progress):
    if not block:
        return
    new_words, matrix = _parse_block(path, block, dim)
    for (line_no, _), word in zip(block, new_words):
        if word in seen:
            raise VectorsFileError(
                f"{path}, line {line_no}: duplicate word (first on line {seen[word]}); "
                "remove one of them"
            )
        seen[word] = line_no
    words.extend(new_words)
    out.write(matrix.tobytes())
    progress.update(len(new_words))


def read_word2vec_binary(path, out_file, progress):
    """Stream a word2vec binary file into ``out_file`` as raw float32 rows.

    gensim reads the whole matrix into RAM and reports truncation without a position;
    this reads one block of words at a time and names the word where the file ends.

    Parameters
    ----------
    path : pathlib.Path
    out_file : pathlib.Path
    progress : tqdm.tqdm

    Returns
    -------
    words : list of str
    dim : int
    """
    with smart_open.open(path, "rb") as handle, open(out_file, "wb") as out:
        header = _HEADER.match(handle.readline(MAX_LINE_BYTES))
        if header is None:
            raise VectorsFileError(f"{path}, line 1: expected a header '<count> <dim>'")
        count, dim = int(header[1]), int(header[2])
        _check_dim(path, dim)
        reader = _ByteReader(handle)
        words, seen = [], {}
        # Rows per block: at most 4M values (16 MB), whatever the dimension.
        block_rows = max(1, min(_BLOCK, (1 << 22) // dim))
        for start in range(0, count, block_rows):
            rows = min(block_rows, count - start)
            block = np.empty((rows, dim), dtype=np.float32)
            for row in range(rows):
                index = start + row
                word = _binary_word(path, reader, index, count)
                if word in seen:
                    raise VectorsFileError(
                        f"{path}, word {index + 1} of {count}: duplicate word "
                        f"(first as word {seen[word] + 1}); remove one of them"
                    )
                seen[word] = index
                raw = reader.read(4 * dim)
                if len(raw) < 4 * dim:
                    raise _truncated(path, index, count)
                block[row] = np.frombuffer(raw, dtype="<f4")
                words.append(word)
            bad = ~np.isfinite(block).all(axis=1)
            if bad.any():
                index = start + int(np.flatnonzero(bad)[0])
                raise VectorsFileError(
                    f"{path}, word {index + 1}: vector contains NaN or infinity; fix the file"
                )
            out.write(block.tobytes())
            progress.update(rows)
        if reader.read(1 << 16).strip():
            raise VectorsFileError(
                f"{path}: data after the {count} words the header announces; the header "
                "or the file is damaged"
            )
    return words, dim


def _binary_word(path, reader, index, count):
    raw = reader.read_until(b" ")
    if raw is None:
        raise _truncated(path, index, count)
    try:
        # word2vec writes a newline after each vector; some writers do not.
        return raw.lstrip(b"\n").decode("utf-8")
    except UnicodeDecodeError:
        raise VectorsFileError(
            f"{path}, word {index + 1} of {count}: not UTF-8; the file is damaged or not "
            "word2vec binary"
        ) from None


def _truncated(path, index, count):
    return VectorsFileError(
        f"{path}: the file ends inside word {index + 1} of the {count} its header "
        "announces (truncated or incomplete download?); download it again"
    )


class _ByteReader:
    """Buffered reads of a binary stream, including up to a delimiter."""

    _CHUNK = 1 << 20
    _MAX_WORD = 1 << 16  # no real word is this long: the file is not word2vec binary

    def __init__(self, handle):
        self._handle = handle
        self._buffer = b""
        self._position = 0

    def _fill(self):
        chunk = self._handle.read(self._CHUNK)
        self._buffer = self._buffer[self._position :] + chunk
        self._position = 0
        return bool(chunk)

    def read(self, size):
        while len(self._buffer) - self._position < size and self._fill():
            pass
        data = self._buffer[self._position : self._position + size]
        self._position += len(data)
        return data

    def read_until(self, delimiter):
        """Return the bytes before ``delimiter`` (consumed), or ``None`` at end of file."""
        while True:
            end = self._buffer.find(delimiter, self._position)
            if end >= 0:
                data = self._buffer[self._position : end]
                self._position = end + len(delimiter)
                return data
            if len(self._buffer) - self._position > self._MAX_WORD or not self._fill():
                return None


def check_fasttext_complete(path):
    """Raise if a fastText ``.bin`` file is shorter or longer than its headers announce.

    gensim skips the output matrix at the end of the file, so a download cut there
    loads without error; the input matrix is skipped here with a seek, not read.

    Parameters
    ----------
    path : pathlib.Path
    """
    import struct

    from gensim.models import _fasttext_bin as ftb

    try:
        end = _fasttext_end(path, ftb)
    except (struct.error, EOFError, UnicodeDecodeError):
        end = float("inf")  # the headers or the vocabulary themselves are cut off
    size = path.stat().st_size
    if end != size:
        state = "truncated" if end > size else "followed by unexpected data"
        raise VectorsFileError(
            f"{path}: fastText file {state} ({size} bytes, its headers announce "
            f"{'more' if end == float('inf') else end}); download it again"
        )


def _fasttext_end(path, ftb):
    with open(path, "rb") as handle:
        magic, version = ftb._struct_unpack(handle, "@2i")
        new_format = magic == ftb._FASTTEXT_FILEFORMAT_MAGIC
        for _, fmt in ftb._NEW_HEADER_FORMAT if new_format else ftb._OLD_HEADER_FORMAT:
            ftb._struct_unpack(handle, fmt)
        ftb._load_vocab(handle, new_format, encoding="utf-8")
        for _ in range(2):  # input matrix, then output matrix
            if new_format:
                handle.read(1)  # quantisation flag
            rows, dim = ftb._struct_unpack(handle, "@2q")
            handle.seek(rows * dim * 4, 1)
        return handle.tell()


def spacy_vectors(path):
    """Return ``(words, matrix)`` from a spaCy pipeline directory or vocab directory."""
    from spacy.vocab import Vocab

    vocab_dir = path / "vocab" if (path / "vocab").is_dir() else path
    try:
        vocab = Vocab().from_disk(vocab_dir)
    except (OSError, ValueError) as exc:
        raise VectorsFileError(
            f"{path}: cannot read spaCy vectors ({type(exc).__name__})"
        ) from None
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
