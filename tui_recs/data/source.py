"""Source files, before any parsing: is it a readable regular file, is it compressed, which
encoding, is it text at all.

The path and the file come from the user and are checked from ``stat`` first (a FIFO blocks
whoever opens it for reading). gzip, bz2 and xz files are recognised by their first bytes and
read decompressed; a byte-order mark names the encoding when none is given.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tui_recs.errors import DataError

#: Leading bytes of the compressed files read transparently -> pandas' compression name.
_COMPRESSION_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}
#: Byte-order marks -> the encoding they announce (checked longest first).
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
#: This many NUL bytes in a row mean binary data, not text.
NUL_RUN = 16
_NOT_A_FILE_HINT = "save it to a regular file first: the data is read more than once"


def check_source(path: Path) -> Path:
    """``path`` as a readable regular file or directory (whose regular files are readable),
    else a DataError saying what is wrong. Decided from ``stat`` alone, before anything opens
    the path: opening a FIFO for reading blocks until a writer comes."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataError("no such file or directory", path,
                        hint="check the path given to --data") from None
    except OSError as error:
        raise DataError(f"cannot be read: {error.strerror}", path) from None
    if stat.S_ISDIR(info.st_mode):
        if not os.access(path, os.R_OK | os.X_OK):
            raise DataError("cannot be read: permission denied", path,
                            hint="check the folder's permissions")
        for child in sorted(path.iterdir()):
            if child.is_file() and not os.access(child, os.R_OK):
                raise DataError("cannot be read: permission denied", child,
                                hint="check the file's permissions")
        return path
    if not stat.S_ISREG(info.st_mode):
        kind = "a pipe" if stat.S_ISFIFO(info.st_mode) else "a device or socket"
        raise DataError(f"is {kind}, not a regular file", path, hint=_NOT_A_FILE_HINT)
    if not os.access(path, os.R_OK):
        raise DataError("cannot be read: permission denied", path,
                        hint="check the file's permissions")
    return path


def check_file(path: Path) -> Path:
    """The path as a readable, non-empty regular file, or a DataError saying what is wrong."""
    if path.is_dir():
        raise DataError("is a directory, expected a file", path,
                        hint="pass the data file itself, or --format hetrec-2k for the hetrec folder")
    check_source(path)
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as error:
        raise DataError(f"cannot be read: {error.strerror}", path) from None
    if size == 0:
        raise DataError("is empty", path, hint="the file has no rows")
    return path


def compression_of(path: Path) -> str | None:
    """"gzip", "bz2" or "xz" when the file starts with that format's magic bytes, else None."""
    with path.open("rb") as handle:
        head = handle.read(6)
    return next((name for magic, name in _COMPRESSION_MAGIC.items() if head.startswith(magic)),
                None)


def open_binary(path: Path):
    """The file's bytes, decompressed when it is gzip, bz2 or xz."""
    compression = compression_of(path)
    if compression == "gzip":
        import gzip

        return gzip.open(path, "rb")
    if compression == "bz2":
        import bz2

        return bz2.open(path, "rb")
    if compression == "xz":
        import lzma

        return lzma.open(path, "rb")
    return path.open("rb")


def _head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of the file's (decompressed) content."""
    try:
        with open_binary(path) as handle:
            return handle.read(size)
    except (OSError, EOFError, ValueError) as error:
        raise DataError(f"cannot be decompressed: {error}", path,
                        hint="the file is damaged or not what its first bytes say") from None


def resolve_encoding(path: Path, encoding: str | None) -> str:
    """``encoding``, or (None) the one the file's byte-order mark announces, else UTF-8."""
    if encoding is not None:
        return encoding
    head = _head(path, 4)
    return next((name for bom, name in _BOMS if head.startswith(bom)), "utf-8")


def first_lines(path: Path, count: int = 5, encoding: str | None = None) -> list[str]:
    """Up to ``count`` lines from the start of the file (without line ends), for sniffing."""
    encoding = resolve_encoding(path, encoding)
    text = _head(path, 64 * 1024).decode(encoding, errors="replace").lstrip("\ufeff")
    return text.splitlines()[:count]


def find_undecodable_line(path: Path, encoding: str) -> tuple[int, str]:
    """1-based number of the first line that is not valid ``encoding``, and the decoder's reason."""
    with open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError as error:
                return number, f"byte 0x{raw[error.start]:02x} at column {error.start + 1}"
    return 0, "unknown position"


def check_text(path: Path, encoding: str) -> None:
    """DataError at the first run of NUL_RUN NUL bytes in an uncompressed text file of
    single-byte units: binary data (or a zero-filled tail) is not rows, and read as rows it
    made one endless field. A stray NUL in a name is only stripped (see Column.cleaned).
    Searched over a memory map: see :func:`_find_nul_run`."""
    if encoding.lower().replace("-", "").replace("_", "").startswith(("utf16", "utf32")):
        return
    if compression_of(path) is not None:
        return
    import mmap

    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            offset = _find_nul_run(view)
            if offset < 0:
                return
            line = view[:offset].count(b"\n") + 1
    raise DataError(f"holds binary data (NUL bytes from byte {offset:,})", path, line,
                    hint="is this a text file? compressed data is read when it is gzip, bz2 or xz")


#: Single NUL bytes looked at one by one before :func:`_find_nul_run` searches for the run.
_STRAY_NULS = 64


def _find_nul_run(view) -> int:
    """Offset of the first run of NUL_RUN NUL bytes in ``view`` (a bytes-like with ``find``),
    or -1. A one-byte search is a memchr (~10 GB/s), the 16-byte pattern's search ~1 GB/s
    (1.4 s of a 1.6 GB file's first parse): text has no NULs, so the first few NULs are
    checked one by one, and only a file with many stray NULs pays for the pattern search."""
    run = b"\0" * NUL_RUN
    offset = view.find(b"\0")
    for _ in range(_STRAY_NULS):
        if offset < 0 or view[offset:offset + NUL_RUN] == run:
            return offset
        offset = view.find(b"\0", offset + 1)
    return offset if offset < 0 else view.find(run, offset)
