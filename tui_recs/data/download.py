"""Fetching the public datasets: ``tui-recs download hetrec-2k|lastfm-360k``.

An archive is downloaded into ``<folder>/<archive name>.part``, resuming with an HTTP Range
request where an earlier run stopped; checked (size, and SHA-256 where it is known); renamed
to its own name; then unpacked into a temporary folder beside the result and renamed into
place, so that an interrupted or refused run never leaves a half-written dataset. Archives are
untrusted: a member that would land outside the folder (an absolute path, ``..``, a link or a
device file) is refused.
"""

from __future__ import annotations

import hashlib
import http.client
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from tui_recs.errors import TuiRecsError

#: Bytes read per request chunk (and per progress report).
CHUNK = 1 << 20
#: Seconds without a byte from the server before giving up (a rerun resumes).
TIMEOUT = 60.0
#: The suffix of an archive that is still being downloaded.
PART = ".part"


class DownloadError(TuiRecsError):
    """A download or unpack that failed; the message says what to do next."""


@dataclass(frozen=True)
class Archive:
    """One public dataset archive.

    Attributes:
        name: what ``tui-recs download`` calls it.
        url: the publisher's address of the archive.
        sha256: its SHA-256 (hex), or None where no published or verified digest is known.
        size: its size in bytes, or None where not known (the server's length is checked).
        folder: the folder it unpacks to, inside the download folder.
        data: what ``--data`` takes, relative to ``folder`` ("" for the folder itself).
        contains: a file the unpacked archive must hold, relative to ``folder``.
        source: the page that describes the dataset and its licence.
    """

    name: str
    url: str
    sha256: str | None
    size: int | None
    folder: str
    data: str
    contains: str
    source: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


#: The datasets ``tui-recs download`` knows, by name.
ARCHIVES = {
    # GroupLens's HetRec 2011 archive. Its SHA-256 is the one three independent loaders pin
    # (e.g. OmniRec's HetrecLastFM); the archive has been unchanged since 2011.
    "hetrec-2k": Archive(
        "hetrec-2k", "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip",
        sha256="6738f48195667ff03caaab4d32ca9a3133d8cc026b7c3cdaf6ce1010e913c59c", size=None,
        folder="hetrec2011-lastfm-2k", data="", contains="user_artists.dat",
        source="https://grouplens.org/datasets/hetrec-2011/"),
    # The Music Technology Group (UPF) copy of Òscar Celma's Last.fm 360K. No SHA-256 of the
    # archive is published (the README gives an MD5 of the TSV inside only), and it could not
    # be measured where this was written: the size the server declares is checked, gzip's
    # own CRC while unpacking, and the digest is printed for comparison.
    "lastfm-360k": Archive(
        "lastfm-360k", "http://mtg.upf.edu/static/datasets/last.fm/lastfm-dataset-360K.tar.gz",
        sha256=None, size=None, folder="lastfm-dataset-360K",
        data="usersha1-artmbid-artname-plays.tsv", contains="usersha1-artmbid-artname-plays.tsv",
        source="https://www.upf.edu/web/mtg/lastfm360k"),
}

#: ``progress(done_bytes, total_bytes or None)`` as the download advances.
Progress = Callable[[int, "int | None"], None]


@dataclass(frozen=True)
class Downloaded:
    """The result: the path to give ``--data``, the archive's SHA-256 (None when the dataset
    was unpacked already and nothing was read), and whether anything was fetched."""

    data: Path
    sha256: str | None
    fetched: bool


def download(archive: Archive, to: str | Path, progress: Progress | None = None) -> Downloaded:
    """Fetch, check and unpack ``archive`` into folder ``to`` (created if missing).

    Raises:
        DownloadError: the server could not be reached or stopped sending (run again: it
            resumes), the archive failed its size or SHA-256 check (the bad file is deleted),
            or it is not a safe archive of the expected dataset.
    """
    folder = Path(to).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"cannot create the download folder {folder}: "
                            f"{error.strerror or error}") from None
    target = folder / archive.folder
    data = target / archive.data if archive.data else target
    saved = folder / archive.filename
    if target.exists():  # renamed into place whole, never half-written
        return Downloaded(data, None, fetched=False)
    fetched = not saved.is_file()
    if fetched:
        _fetch(archive, saved, progress or (lambda done, total: None))
    digest = _check(archive, saved)
    _unpack(saved, target, archive)
    return Downloaded(data, digest, fetched)


# -------------------------------------------------------------------------------- fetching
def _fetch(archive: Archive, saved: Path, progress: Progress) -> None:
    """Download ``archive.url`` to ``saved``, through ``saved.part`` (resumed if present)."""
    part = saved.with_name(saved.name + PART)
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(archive.url, headers={"User-Agent": "tui-recs"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # nothing after what we have: the part is whole
            part.replace(saved)
            return
        raise DownloadError(f"{archive.url} answered HTTP {error.code} {error.reason}; try "
                            f"again later, or fetch it by hand (see {archive.source})") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"cannot reach {archive.url}: {reason}; check the network and run "
                            "again") from None
    with response:
        resumed = response.status == 206
        if resumed and _range_start(response) != have:
            part.unlink()
            raise DownloadError(f"{archive.url} sent another part of the file than the one asked "
                                "for; deleted what was downloaded, run again")
        if not resumed:
            have = 0  # the server sent the whole file: start over
        total = _length(response)
        total = have + total if total is not None else archive.size
        done = have
        try:
            with open(part, "ab" if resumed else "wb") as out:
                progress(done, total)
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    progress(done, total)
        except (OSError, http.client.HTTPException) as error:  # a cut, a timeout, a full disk
            reason = getattr(error, "strerror", None) or type(error).__name__
            raise DownloadError(f"the download of {archive.url} stopped at {done:,} of "
                                f"{'?' if total is None else f'{total:,}'} bytes ({reason}); "
                                "run again to resume") from None
    if total is not None and done < total:
        raise DownloadError(f"the server closed the connection at {done:,} of {total:,} bytes "
                            f"of {archive.url}; run again to resume")
    part.replace(saved)


def _range_start(response) -> int | None:
    """Where a 206 answer's ``Content-Range: bytes START-END/TOTAL`` starts."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _length(response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, TypeError, ValueError):
        return None


# -------------------------------------------------------------------------------- checking
def _check(archive: Archive, saved: Path) -> str:
    """The archive's SHA-256, after its size and digest are checked against the known ones;
    a mismatch deletes it (resuming cannot repair it) and raises."""
    size = saved.stat().st_size
    if archive.size is not None and size != archive.size:
        saved.unlink()
        raise DownloadError(f"{archive.url} gave {size:,} bytes, not the expected "
                            f"{archive.size:,}; deleted it, run again")
    digest = _sha256(saved)
    if archive.sha256 is not None and digest != archive.sha256:
        saved.unlink()
        raise DownloadError(f"{archive.filename} has SHA-256 {digest}, not the expected "
                            f"{archive.sha256} (damaged in transit, or changed at {archive.url}); "
                            "deleted it, run again")
    return digest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------------------- unpacking
def _unpack(saved: Path, target: Path, archive: Archive) -> None:
    """Unpack ``saved`` into a temporary folder beside ``target``, then rename it into place:
    ``target`` is either whole or absent. A single top folder in the archive is the dataset
    folder itself."""
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        if zipfile.is_zipfile(saved):
            _unzip(saved, scratch)
        else:
            _untar(saved, scratch)
        inside = list(scratch.iterdir())
        root = inside[0] if len(inside) == 1 and inside[0].is_dir() else scratch
        if not (root / archive.contains).is_file():
            raise DownloadError(f"{saved} holds no {archive.contains}: it is not the "
                                f"{archive.name} archive (delete it and run again)")
        root.rename(target)
    except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError) as error:
        raise DownloadError(f"cannot unpack {saved}: {error}; delete it and run again") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _safe_member(name: str, saved: Path) -> None:
    """Refuse a member name that is absolute or climbs out of the folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise DownloadError(f"{saved} is not a safe archive: member {name!r} would be written "
                            "outside its folder; nothing was unpacked")


def _unzip(saved: Path, into: Path) -> None:
    with zipfile.ZipFile(saved) as archive:
        members = archive.infolist()
        for member in members:
            _safe_member(member.filename, saved)
            if (member.external_attr >> 16) & 0o170000 == 0o120000:  # a symbolic link
                raise DownloadError(f"{saved} is not a safe archive: member "
                                    f"{member.filename!r} is a link; nothing was unpacked")
        archive.extractall(into)


def _untar(saved: Path, into: Path) -> None:
    with tarfile.open(saved) as archive:
        members = archive.getmembers()
        for member in members:
            _safe_member(member.name, saved)
            if not (member.isfile() or member.isdir()):
                raise DownloadError(f"{saved} is not a safe archive: member {member.name!r} "
                                    "is a link or a device; nothing was unpacked")
        archive.extractall(into, members=members, filter="data")
