"""The loaders of real listening data: Last.fm 360K, Last.fm hetrec-2k, and any CSV/TSV.

``load(path, format="auto")`` detects the format from the name and the first lines, and each
format can also be named. All of them read through :mod:`tui_recs.data.table`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tui_recs.data.dataset import Dataset
from tui_recs.data.source import check_file, check_source, first_lines
from tui_recs.data.table import build_dataset, read_factorized
from tui_recs.errors import DataError

LASTFM_360K_NAME = "usersha1-artmbid-artname-plays.tsv"
HETREC_PLAYS, HETREC_ARTISTS = "user_artists.dat", "artists.dat"
#: hetrec's other files, which hold no play counts -> what they hold.
HETREC_OTHER_FILES = {"user_friends.dat": "friends list (userID, friendID)",
                      "user_taggedartists.dat": "tag assignments",
                      "user_taggedartists-timestamps.dat": "tag assignments", "tags.dat": "tag names",
                      HETREC_ARTISTS: "artist names"}
#: Suffixes of the compressed files read transparently (the file's first bytes decide).
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_DELIMITERS = ("\t", ",", ";", "|")
#: Header names recognised for each CSV role, compared case-insensitively without _ - or spaces.
_ROLE_NAMES = {
    "user": ("user", "userid", "usersha1", "listener", "listenerid", "username"),
    "item": ("item", "itemid", "artist", "artistid", "artistname", "artname", "band"),
    "plays": ("plays", "playcount", "weight", "count", "listens", "scrobbles", "value", "rating"),
    "name": ("name", "artistname", "itemname", "title"),
}


def detect_format(path: Path) -> str:
    """Which loader fits ``path``: "hetrec-2k", "lastfm-360k" or "csv". DataError for
    hetrec's files without play counts (the friends list...), naming the file to pass."""
    name = _uncompressed_name(path)
    if path.is_dir() or name == HETREC_PLAYS:
        return "hetrec-2k"
    if name == LASTFM_360K_NAME:
        return "lastfm-360k"
    lines = first_lines(check_file(path), count=3)
    fields = lines[0].split("\t") if lines else []
    holds = HETREC_OTHER_FILES.get(name)
    if holds is None and [field.strip() for field in fields[:2]] == ["userID", "friendID"]:
        holds = HETREC_OTHER_FILES["user_friends.dat"]
    if holds is not None:
        raise DataError(f"is hetrec-2k's {holds}, not play counts", path,
                        hint=f"pass {path.parent / HETREC_PLAYS} or the folder holding it")
    if len(fields) == 4 and _SHA1.match(fields[0]) and fields[3].strip().isdigit():
        return "lastfm-360k"
    return "csv"


def _uncompressed_name(path: Path) -> str:
    """The file's name without a compression suffix (``x.tsv.gz`` -> ``x.tsv``)."""
    name = path.name
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def load(path: str | Path, format: str = "auto", **options: Any) -> Dataset:
    """Read listening data into a Dataset.

    Args:
        path: a file, or the hetrec-2k folder.
        format: "auto", "lastfm-360k", "hetrec-2k" or "csv".
        **options: ``encoding`` (default: from a byte-order mark, else UTF-8; gzip, bz2
            and xz files are decompressed) and ``strict`` for every format; for "csv" also ``delimiter``,
            ``header`` (bool), and the columns ``user``, ``item``, ``plays``, ``name`` (each a
            header name or a 0-based position; ``plays=None`` counts rows as single plays).

    Raises:
        DataError: one line naming the file (and line) and how to fix the problem.
    """
    path = check_source(Path(path).expanduser())
    if format == "auto":
        format = detect_format(path)
    loaders = {"lastfm-360k": load_lastfm_360k, "hetrec-2k": load_hetrec_2k, "csv": load_csv}
    if format not in loaders:
        raise DataError(f"unknown format {format!r}", path,
                        hint=f"use one of: auto, {', '.join(loaders)}")
    accepted = {"lastfm-360k": {"encoding", "strict"}, "hetrec-2k": {"encoding", "strict"},
                "csv": {"encoding", "strict", "delimiter", "header", "user", "item", "plays", "name"}}
    unknown = set(options) - accepted[format]
    if unknown:
        raise DataError(f"option {sorted(unknown)[0]!r} does not apply to format {format}", path,
                        hint=f"accepted: {', '.join(sorted(accepted[format]))}")
    return loaders[format](path, **options)


def load_lastfm_360k(path: Path, encoding: str | None = None, strict: bool = False) -> Dataset:
    """Last.fm 360K ``usersha1-artmbid-artname-plays.tsv``: no header; user sha1, artist MBID
    (may be empty), artist name, plays. Artists are keyed by name; rows without a name are
    dropped and counted; the MBID is kept as ``item_meta["mbid"]``."""
    _expect_fields(path, 4, "user sha1, artist MBID, artist name, plays", encoding)
    table = read_factorized(path, sep="\t", n_fields=4, encoding=encoding,
                            columns={"user": 0, "mbid": 1, "artist": 2, "plays": 3})
    return build_dataset(table, user="user", item="artist", plays="plays",
                         drop_empty={"artist": "missing artist name"}, item_meta_columns=("mbid",),
                         source=str(path), what="a Last.fm 360K TSV", strict=strict)


def load_hetrec_2k(path: Path, encoding: str | None = None, strict: bool = False) -> Dataset:
    """Last.fm hetrec2011-lastfm-2k: the folder (or its ``user_artists.dat``) with
    ``user_artists.dat`` (userID, artistID, weight) and ``artists.dat`` (id, name, url,
    pictureURL), each with a header line. Artists are keyed by id, named from artists.dat; its
    url (the artist's Last.fm page) is kept as ``item_meta["url"]`` ("" where it has none)."""
    folder = path if path.is_dir() else path.parent
    plays_path = folder / HETREC_PLAYS
    if not plays_path.exists():
        raise DataError(f"has no {HETREC_PLAYS}", folder,
                        hint="point --data at the hetrec2011-lastfm-2k folder")
    _expect_header(plays_path, ("userID", "artistID", "weight"), encoding)
    table = read_factorized(check_file(plays_path), sep="\t", n_fields=3, skip_lines=1,
                            encoding=encoding, columns={"user": 0, "artist": 1, "plays": 2})
    names: dict[str, str] = {}
    urls: dict[str, str] = {}
    artists_path = folder / HETREC_ARTISTS
    if artists_path.exists():
        _expect_header(artists_path, ("id", "name"), encoding)
        artists = read_factorized(check_file(artists_path), sep="\t", n_fields=4, skip_lines=1,
                                  encoding=encoding, columns={"id": 0, "name": 1, "url": 2})
        ids = artists.columns["id"]
        for column, found in (("name", names), ("url", urls)):
            labels = artists.columns[column]
            for id_code, code in zip(ids.codes.tolist(), labels.codes.tolist()):
                if id_code >= 0 and code >= 0:
                    found[ids.values[id_code]] = labels.values[code]
    return build_dataset(table, user="user", item="artist", plays="plays", item_names=names,
                         item_meta_values={"url": urls}, source=str(folder),
                         what="hetrec-2k user_artists.dat", strict=strict)


def _expect_fields(path: Path, count: int, meaning: str, encoding: str | None) -> None:
    """Fail early, at line 1, when a fixed-layout file plainly has another layout."""
    lines = first_lines(check_file(path), count=1, encoding=encoding)
    found = len(lines[0].split("\t")) if lines else 0
    if found != count:
        raise DataError(f"line has {found} tab-separated field{'s' * (found != 1)}, expected "
                        f"{count} ({meaning})", path, 1,
                        hint="wrong --format? 'auto' detects it, 'csv' reads any columns")


def _expect_header(path: Path, expected: tuple[str, ...], encoding: str | None) -> None:
    lines = first_lines(check_file(path), count=1, encoding=encoding)
    found = tuple(field.strip() for field in lines[0].split("\t")) if lines else ()
    if found[:len(expected)] != expected:
        raise DataError(f"header is {' '.join(found) or 'empty'!r}, expected "
                        f"{' '.join(expected)!r}", path, 1,
                        hint="is this the hetrec2011-lastfm-2k data? else use --format csv")


def load_csv(path: Path, delimiter: str | None = None, header: bool | None = None,
             user: str | int | None = None, item: str | int | None = None,
             plays: str | int | None = "auto", name: str | int | None = None,
             encoding: str | None = None, strict: bool = False) -> Dataset:
    """Any CSV/TSV with a listener column, an artist column and (optionally) a plays column.

    The delimiter and the presence of a header are detected unless given. Columns are found
    by header name (user/artist/plays and common synonyms) or default to positions 0, 1, 2.
    """
    lines = [line for line in first_lines(check_file(path), count=20, encoding=encoding) if line]
    if not lines:
        raise DataError("has no data rows", path)
    delimiter = delimiter or _sniff_delimiter(lines, path)
    first = [field.strip().strip('"') for field in lines[0].split(delimiter)]
    n_fields = len(first)
    if header is None:
        header = _looks_like_header(first, lines[1].split(delimiter) if len(lines) > 1 else None)
    headings = first if header else []
    roles = {
        "user": _column(user, "user", headings, n_fields, path, default=0),
        "item": _column(item, "item", headings, n_fields, path, default=1),
    }
    if plays is not None:
        found = _column(None if plays == "auto" else plays, "plays", headings, n_fields, path,
                        default=2 if n_fields > 2 else None)
        if found is not None:
            roles["plays"] = found
    if name is not None or (header and _find_role("name", headings, exclude=roles.values())):
        roles["name"] = _column(name, "name", headings, n_fields, path, default=None,
                                exclude=roles.values())
    if len(set(roles.values())) != len(roles):
        raise DataError(f"columns overlap: {roles}", path, hint="name distinct columns")
    table = read_factorized(path, sep=delimiter, n_fields=n_fields, skip_lines=int(header),
                            encoding=encoding, columns=roles)
    item_names = None
    if "name" in roles:
        keys, labels = table.columns["item"], table.columns["name"]
        pairs = {}
        for key_code, name_code in zip(keys.codes.tolist(), labels.codes.tolist()):
            if key_code >= 0 and name_code >= 0 and key_code not in pairs:
                pairs[key_code] = labels.values[name_code]
        item_names = {keys.values[code]: label for code, label in pairs.items()}
    return build_dataset(table, user="user", item="item", plays="plays" if "plays" in roles else None,
                         item_names=item_names, source=str(path),
                         what="user, item, plays rows", strict=strict)


def _sniff_delimiter(lines: list[str], path: Path) -> str:
    """The candidate delimiter that splits every sampled line into the same >= 2 fields."""
    best, best_fields = None, 1
    for candidate in _DELIMITERS:
        counts = {line.count(candidate) for line in lines}
        if len(counts) == 1 and (fields := counts.pop() + 1) > best_fields:
            best, best_fields = candidate, fields
    if best is None:  # ragged sample: take the most frequent candidate on the first line
        best = max(_DELIMITERS, key=lambda candidate: lines[0].count(candidate))
        if lines[0].count(best) == 0:
            raise DataError("has no tab, comma, semicolon or | delimiters on its first line",
                            path, 1, hint="expected user, item, plays columns")
    return best


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _looks_like_header(first: list[str], second: list[str] | None) -> bool:
    """A first row whose names match a known role, or whose last field is text above numbers."""
    normalised = {_normalise(field) for field in first}
    if any(normalised & set(names) for names in _ROLE_NAMES.values()):
        return True
    if second is not None and len(second) == len(first):
        return not _is_number(first[-1]) and _is_number(second[-1].strip().strip('"'))
    return False


def _normalise(heading: str) -> str:
    return re.sub(r"[\s_\-]", "", heading.lower())


def _find_role(role: str, headings: list[str], exclude=()) -> int | None:
    for position, heading in enumerate(headings):
        if position not in exclude and _normalise(heading) in _ROLE_NAMES[role]:
            return position
    return None


def _column(spec: str | int | None, role: str, headings: list[str], n_fields: int, path: Path,
            default: int | None, exclude=()) -> int | None:
    """0-based position of a column given by header name, position, or found by role name."""
    if spec is None:
        position = _find_role(role, headings, exclude) if headings else None
        return default if position is None else position
    if isinstance(spec, int) or str(spec).isdigit():
        position = int(spec)
        if not 0 <= position < n_fields:
            raise DataError(f"{role} column {position} is out of range: rows have {n_fields} "
                            f"fields", path, hint="columns are numbered from 0")
        return position
    for position, heading in enumerate(headings):
        if heading == spec or _normalise(heading) == _normalise(str(spec)):
            return position
    raise DataError(f"has no column named {spec!r} for {role}", path, 1,
                    hint=f"columns are: {', '.join(headings) or '(no header)'}")
