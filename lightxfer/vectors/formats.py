"""Recognise vector file formats and read the ones gensim does not stream.

Text formats (word2vec text with a header, GloVe without one) and word2vec binary, each
optionally gzip- or bzip2-compressed (recognised by content, not name), are parsed in
blocks straight into a file, so a file larger than RAM is never held in memory,
and every malformed line is reported with its number. Messages name the file and the line
or word number, never the file's content: a path read by mistake (or named by a crafted
model file) is not echoed back.

Bounds on what a file can make the parser allocate: a text line holds at most
``MAX_LINE_BYTES`` bytes and a vector at most ``MAX_DIM`` values, and a parsed block at
most ``_BLOCK_VALUES`` values (about 10 MB of Python strings); a word2vec binary file is
read in blocks of at most 4M values, whatever count its header announces.
"""

import re
import struct
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
#: Longest fastText character n-gram accepted (fastText's default is 6).
MAX_NGRAM = 32
# Values per parsed text block: a parsed value is a Python str of ~60 bytes, so this
# bounds the parser's working memory to ~10 MB whatever the dimension.
_BLOCK_VALUES = 100_000
# Every pattern run on file content backtracks at most linearly: no two parts of a pattern
# can match the same characters (a 128 KiB line is checked in milliseconds).
_NUMBERS_AFTER_WORD = re.compile(rb"\S+(?: (?:[-+0-9.eE]+|[-+]?nan|[-+]?inf))+\s*", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)", re.IGNORECASE)
_SPACE = re.compile(rb"\s*")
_CHUNK = 1 << 20


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
    compressed = head[:2] in _COMPRESSED
    if compressed:  # what matters is what is inside: text or word2vec binary
        head = _decompressed_head(path)
    if not head.strip():
        raise VectorsFileError(f"{path} is empty")
    if head.startswith(FASTTEXT_MAGIC) or _legacy_fasttext(head):
        if compressed:
            raise VectorsFileError(
                f"{path} is a compressed fastText .bin, which is read in place: decompress it first"
            )
        return "fasttext"
    if head[:1] == b"\x80":  # the PROTO opcode every pickle of protocol 2 or later opens with
        return "pickle"
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
        if _NUMBERS_AFTER_WORD.fullmatch(first.rstrip(b"\r")):
            return "text"  # read_text names the line that is not UTF-8
        raise VectorsFileError(
            f"{path}: unknown vectors format (not word2vec, GloVe, fastText .bin, "
            "a gensim KeyedVectors file or a spaCy directory)"
        ) from None
    if len(first.split()) < 2:
        raise VectorsFileError(f"{path}, line 1: expected a word followed by numbers")
    return "text"


def open_decompressed(path):
    """Open ``path`` to read bytes, decompressing gzip or bzip2 as its first bytes say.

    The content decides, not the file name: a gzipped file named ``vectors.txt`` is
    decompressed, and a plain file named ``vectors.gz`` is not.
    """
    with open(path, "rb") as handle:
        magic = handle.read(2)
    return smart_open.open(path, "rb", compression=_COMPRESSED.get(magic, "disable"))


def _decompressed_head(path):
    try:
        with open_decompressed(path) as handle:
            return handle.read(4096)
    except (EOFError, OSError, zlib.error) as exc:
        raise VectorsFileError(
            f"{path}: cannot decompress ({type(exc).__name__}); is the file complete?"
        ) from None


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
        if len(parts) > dim + 1 and any(_NUMBER.fullmatch(part) for part in parts[1:-dim]):
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
        with open_decompressed(path) as handle, open(out_file, "wb") as out:
            for line_no, raw in _lines(path, handle):
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
        raise _unreadable(path, exc) from None
    if not words:
        raise VectorsFileError(f"{path}: no vectors found")
    if expected is not None and expected != len(words):
        raise VectorsFileError(
            f"{path}: header announces {expected} vectors but the file holds {len(words)} "
            "(truncated or incomplete download?)"
        )
    return words, dim


def _lines(path, handle):
    """Yield ``(number, line)`` for each line of ``handle`` that is not blank.

    Runs of blank lines are skipped in C (a compressed file of nothing but newlines
    takes seconds, not minutes); a line longer than ``MAX_LINE_BYTES`` is refused
    without being read into memory whole.
    """
    buffer, start, line_no = b"", 0, 1
    while True:
        # Skip whitespace up to the last newline before the next line with a word.
        blank = buffer.rfind(b"\n", start, _SPACE.match(buffer, start).end())
        if blank >= 0:
            line_no += buffer.count(b"\n", start, blank + 1)
            start = blank + 1
        end = buffer.find(b"\n", start)
        if end < 0 or end - start >= MAX_LINE_BYTES:
            if len(buffer) - start > MAX_LINE_BYTES:
                raise VectorsFileError(
                    f"{path}, line {line_no}: longer than {MAX_LINE_BYTES} bytes "
                    "(lightxfer.vectors.formats.MAX_LINE_BYTES); not a vectors file?"
                )
            chunk = handle.read(_CHUNK)
            if not chunk:
                if buffer[start:].strip(b" \t\r\f\v"):
                    yield line_no, buffer[start:]
                return
            buffer, start = buffer[start:] + chunk, 0
            continue
        yield line_no, buffer[start : end + 1]
        line_no += 1
        start = end + 1


def _unreadable(path, exc):
    return VectorsFileError(f"{path}: cannot read ({type(exc).__name__}); is the file complete?")


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
    try:
        with open_decompressed(path) as handle, open(out_file, "wb") as out:
            return _stream_word2vec_binary(path, handle, out, progress)
    except (EOFError, OSError, zlib.error) as exc:
        raise _unreadable(path, exc) from None


def _stream_word2vec_binary(path, handle, out, progress):
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

    def offset(self):
        """Return the position in the file of the next byte ``read`` returns."""
        return self._handle.tell() - (len(self._buffer) - self._position)

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
    """Raise unless a fastText ``.bin`` file is exactly as long as its headers announce.

    gensim reads each word of the vocabulary one byte at a time until a NUL byte (forever,
    if the file ends first) and never reads the output matrix at the end, so a download cut
    anywhere is caught here first: the vocabulary is read with bounded reads and the
    matrices are skipped with seeks, not read.

    Parameters
    ----------
    path : pathlib.Path
    """
    size = path.stat().st_size
    try:
        with open(path, "rb") as handle:
            end = _fasttext_end(path, handle)
    except EOFError:
        end = None  # the file ends inside its headers or its vocabulary
    if end != size:
        state = "truncated" if end is None or end > size else "followed by unexpected data"
        raise VectorsFileError(
            f"{path}: fastText file {state} ({size} bytes, its headers announce "
            f"{'more' if end is None else end}); download it again"
        )


def _fasttext_end(path, handle):
    """Return the offset where a fastText file's headers say it ends (``EOFError`` if cut)."""
    from gensim.models import _fasttext_bin as ftb

    reader = _ByteReader(handle)
    magic, _ = _unpack(reader, "@2i")
    new_format = magic == ftb._FASTTEXT_FILEFORMAT_MAGIC
    header = {
        name: _unpack(reader, fmt)[0]
        for name, fmt in (ftb._NEW_HEADER_FORMAT if new_format else ftb._OLD_HEADER_FORMAT)
    }
    if header["maxn"] > MAX_NGRAM or header["maxn"] > 0 and header["minn"] < 1:
        # gensim hashes every n-gram of every word: the range bounds the work per letter.
        raise VectorsFileError(
            f"{path}: fastText character n-grams of {header['minn']} to {header['maxn']} "
            f"letters; lightxfer reads 1 to {MAX_NGRAM} (lightxfer.vectors.formats.MAX_NGRAM)"
        )
    vocab_size, _, _ = _unpack(reader, "@3i")
    _unpack(reader, "@q")  # tokens seen in training
    pruned = _unpack(reader, "@q")[0] if new_format else 0
    for _ in range(vocab_size):  # each word takes at least 10 bytes: ends with the file
        if reader.read_until(b"\0") is None:
            raise EOFError
        _unpack(reader, "@qb")  # count and entry type
    offset = reader.offset() + 8 * max(pruned, 0)
    for _ in range(2):  # input matrix, then output matrix
        offset += new_format  # the quantisation flag
        handle.seek(offset)
        rows, dim = _unpack(handle, "@2q")
        if rows < 0 or dim < 0:
            raise EOFError
        offset += 16 + rows * dim * 4
    return offset


def _unpack(stream, fmt):
    size = struct.calcsize(fmt)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return struct.unpack(fmt, data)


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
