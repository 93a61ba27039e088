"""The built-in demo data: a seeded synthetic listening dataset that looks real enough to explore.

Model of the data:
- Genres, each split into scenes, each with its own artists, and scenes into small circles
  of artists of similar standing. Artist popularity is Zipf-like within each genre, and
  genres differ in size.
- Each listener has 1-3 favourite genres and one favourite scene and circle in each; their
  artists come from those circles, those scenes, the rest of those genres, then anywhere.
  Circles give each artist a recognisable audience, as real artists have.
- Each listener keeps their top ~50 artists (20-60, like the Last.fm 360K crawl); play counts
  are heavy-tailed (log-normal, median around 100).
- A few planted alias pairs: one latent artist published under two labels ("The X" / "X",
  "Zoë X" / "Zoe X", "X & The Ys" / "X and the Ys"), each listener of it seeing only one label,
  so the two labels have disjoint listeners and the same neighbours, like "Arcade Fire" /
  "The Arcade Fire". The latent artist has a recognisable audience (most of its fans also play
  a few signature artists), which is what lets a factorization tell its two labels are one.

Everything is vectorised over listeners (loops run over genres, templates or alias pairs
only): the 360K-shaped data (360K listeners, ~17.7M pairs) takes seconds, not minutes.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from tui_recs.data.dataset import Dataset
from tui_recs.data.loaders import LASTFM_360K_NAME
from tui_recs.data.synthetic_names import NOUNS, artist_names, listener_ids
from tui_recs.errors import DataError

#: Bump whenever generated data changes for the same options (it keys the cached copy).
GENERATOR_VERSION = 2
#: Genre -> (relative share of artists and listeners, name styles of its artists).
GENRES: dict[str, tuple[float, tuple[str, ...]]] = {
    "indie rock": (1.6, ("band", "adjective noun", "invented", "person and band")),
    "pop": (1.5, ("person", "invented", "adjective noun")),
    "hip hop": (1.3, ("rapper", "person")),
    "electronic": (1.2, ("producer", "invented")),
    "metal": (1.0, ("adjective noun", "invented", "band")),
    "rock": (1.2, ("band", "adjective noun", "person and band")),
    "jazz": (0.6, ("ensemble", "person")),
    "folk": (0.7, ("person", "band", "ensemble", "person and band")),
    "punk": (0.6, ("band", "adjective noun")),
    "soul": (0.5, ("person", "person and band")),
    "classical": (0.4, ("ensemble", "person")),
    "ambient": (0.4, ("producer", "invented")),
    "reggae": (0.3, ("person", "band", "rapper")),
    "country": (0.4, ("person", "person and band")),
    "k-pop": (0.5, ("invented", "producer")),
    "latin": (0.5, ("person", "invented")),
}
SCENES_PER_GENRE = 4
#: Pools per genre: the whole genre, then each of its scenes.
POOLS_PER_GENRE = SCENES_PER_GENRE + 1
CIRCLE_SIZE = 8
#: The j-th most popular artist of a genre, and of a scene, has weight
#: (j + ZIPF_OFFSET) ** -ZIPF_EXPONENT (the offset flattens the very top, as in real charts).
ZIPF_EXPONENT, ZIPF_OFFSET = 1.15, 2.0
#: A listener takes each member of their favourite circles with this chance, lowered where
#: needed so that circles give about CIRCLE_SHARE of their artists.
CIRCLE_TAKE, CIRCLE_SHARE = 0.85, 0.3
#: Where a listener's other artists come from: a favourite scene, genre, or anywhere.
SOURCE_SHARES = (0.5, 0.33, 0.17)
#: Artists kept per listener: normal (mean, sd), clipped to [low, high].
ARTISTS_PER_LISTENER = (49.5, 9.0, 20, 60)
#: Picks drawn per listener: this many times the artists kept, plus OVERDRAW_EXTRA, so that
#: nearly every listener has enough distinct artists once repeats are dropped.
OVERDRAW, OVERDRAW_EXTRA = 1.4, 6
#: Listeners whose picks are drawn at once (bounds the memory of the per-pick arrays).
USERS_PER_BLOCK = 50_000
#: Share of listeners with 1, 2, 3 favourite genres.
FAVOURITE_GENRES = (0.35, 0.4, 0.25)
#: Play counts per (listener, artist): log-normal with this median and log-space sd.
PLAYS_MEDIAN, PLAYS_SIGMA = 100.0, 1.0
ALIAS_PAIRS = 10
#: Kinds of second label: accents dropped, "&" written "and", "The" dropped, "The" added.
ALIAS_KINDS = ("accent", "and", "drop the", "add the")
#: Each aliased artist's listeners mostly also play its few signature artists.
SIGNATURE_ARTISTS, SIGNATURE_SHARE = 4, 0.7
#: Last.fm 360K shape.
SHAPE_360K = {"n_users": 360_000, "n_items": 290_000}
#: Smallest sizes a --scale fraction gives, and the largest sizes generate() accepts.
MIN_SCALED = {"n_users": 200, "n_items": 200}
MAX_SIZE = 10_000_000
_PLURAL_NOUNS = frozenset(NOUNS)


def scale_options(scale: str) -> dict[str, int]:
    """Parse ``--scale``: "default" (no options), "360k" (the Last.fm 360K shape), or a
    fraction in (0, 1] of that shape (e.g. "0.1"; at least 200 listeners and 200 artists)."""
    text = str(scale).strip().lower()
    if text == "default":
        return {}
    if text == "360k":
        return dict(SHAPE_360K)
    try:
        fraction = float(text)
    except ValueError:
        fraction = -1.0
    if not 0 < fraction <= 1:
        raise DataError(f"bad --scale {scale!r}: use 'default', '360k', or a fraction of the 360K "
                        "shape in (0, 1], such as 0.1")
    return {key: max(MIN_SCALED[key], round(size * fraction)) for key, size in SHAPE_360K.items()}


def generate(n_users: int = 20_000, n_items: int = 5_000, seed: int = 0) -> Dataset:
    """The demo Dataset: ``n_users`` listeners × at most ``n_items`` artists (those nobody
    picked are dropped), float32 play counts; the same for the same arguments.

    ``item_meta`` holds ``"genre"`` (each artist's genre) and ``"alias_of"`` (for the second
    label of a planted alias pair, the item id of the first; "" otherwise). At the default
    size: 20K × ~5K with ~1M pairs; at the 360K shape, 360K × ~289K with ~17.7M pairs.
    """
    _check_size(n_users, n_items)
    # Separate streams: the names do not change when the listening model does, and back.
    listening, naming = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    n_alias = min(ALIAS_PAIRS, n_items // 100)
    catalogue = _Catalogue.build(n_items - n_alias)
    taken: set[str] = set()
    styles = [style for _, style in GENRES.values()]
    names = artist_names(naming, [styles[g] for g in catalogue.genre.tolist()], taken)
    users, items = _picks(listening, n_users, catalogue)
    targets, labels = _alias_targets(listening, items, names, taken, n_alias)
    users, items = _with_signatures(listening, users, items, catalogue, targets)
    items = _plant_aliases(listening, users, items, n_users, catalogue.n_items, targets)
    plays = _play_counts(listening, len(users))
    item_ids = np.asarray(names + labels, dtype=object)
    return Dataset.from_codes(
        users, items, plays,
        user_ids=np.asarray(listener_ids(naming, n_users), dtype=object),
        item_ids=item_ids, item_names=item_ids,
        item_meta=_item_meta(catalogue, targets, item_ids),
        source=f"demo(n_users={n_users}, n_items={n_items}, seed={seed})",
    )


def alias_pairs(dataset: Dataset) -> list[tuple[int, int]]:
    """(first label, second label) item positions of each planted alias pair in ``dataset``."""
    alias_of = dataset.item_meta.get("alias_of")
    if alias_of is None:
        return []
    index = dataset.item_index
    return [(index[target], second) for second, target in enumerate(alias_of.tolist())
            if target and target in index]


def _play_counts(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size,) float32 whole play counts >= 1: log-normal, median PLAYS_MEDIAN."""
    plays = np.round(rng.lognormal(np.log(PLAYS_MEDIAN), PLAYS_SIGMA, size))
    return np.maximum(plays, 1).astype(np.float32)


def _item_meta(catalogue: _Catalogue, targets: np.ndarray, item_ids: np.ndarray
               ) -> dict[str, np.ndarray]:
    """``"genre"`` and ``"alias_of"`` of every artist (the second labels are the last items)."""
    genre = np.concatenate([catalogue.genre, catalogue.genre[targets]])
    alias_of = np.full(len(item_ids), "", dtype=object)
    alias_of[catalogue.n_items:] = item_ids[targets]
    return {"genre": np.asarray(list(GENRES), dtype=object)[genre], "alias_of": alias_of}


def _check_size(n_users: int, n_items: int) -> None:
    least = 2 * len(GENRES) * SCENES_PER_GENRE
    if not (10 <= n_users <= MAX_SIZE and least <= n_items <= MAX_SIZE):
        raise DataError(f"demo data needs 10 to {MAX_SIZE} listeners and {least} to {MAX_SIZE} "
                        f"artists (got {n_users} and {n_items})")


# ------------------------------------------------------------------------------- artists
@dataclass(frozen=True)
class _Catalogue:
    """The artists, numbered genre by genre in popularity order within each genre.

    A genre's r-th artist is in scene r % SCENES_PER_GENRE. A *pool* is a genre or one of its
    scenes, numbered ``genre * POOLS_PER_GENRE + scene + 1`` (scene -1: the whole genre). Its
    j-th member in popularity order is artist ``start + stride * j`` (j < ``count``), of weight
    ``(j + ZIPF_OFFSET) ** -ZIPF_EXPONENT`` within the pool. A circle is CIRCLE_SIZE
    consecutive members of a scene.
    """

    genre: np.ndarray        # (n_items,) int: each artist's genre
    genre_start: np.ndarray  # (n_genres,) int: the genre's first (most popular) artist
    start: np.ndarray        # (n_pools,) int64
    stride: np.ndarray       # (n_pools,) int64
    count: np.ndarray        # (n_pools,) int64

    @classmethod
    def build(cls, n_items: int) -> "_Catalogue":
        """Genres sized by their share of GENRES (at least two artists per scene)."""
        shares = _genre_shares()
        per_genre = np.maximum(2 * SCENES_PER_GENRE, np.round(shares * n_items).astype(np.int64))
        per_genre[np.argmax(per_genre)] += n_items - per_genre.sum()
        genre_start = np.cumsum(per_genre) - per_genre
        scene = np.arange(-1, SCENES_PER_GENRE)
        whole = scene < 0
        start = genre_start[:, None] + np.maximum(scene, 0)
        stride = np.broadcast_to(np.where(whole, 1, SCENES_PER_GENRE), start.shape)
        count = np.where(whole, per_genre[:, None],
                         (per_genre[:, None] - scene + SCENES_PER_GENRE - 1) // SCENES_PER_GENRE)
        return cls(genre=np.repeat(np.arange(len(per_genre)), per_genre), genre_start=genre_start,
                   start=start.ravel(), stride=stride.ravel(), count=count.ravel())

    @property
    def n_items(self) -> int:
        return len(self.genre)

    def popular_members(self, rng: np.random.Generator, pools: np.ndarray) -> np.ndarray:
        """One member position j per requested pool, drawn by popularity.

        Inverts the CDF of the continuous power law (x + ZIPF_OFFSET) ** -ZIPF_EXPONENT on
        [0, count) in closed form: no search over cumulative weights.
        """
        power = 1.0 - ZIPF_EXPONENT
        low = ZIPF_OFFSET ** power
        span = (self.count + ZIPF_OFFSET) ** power - low
        x = rng.random(len(pools))
        x *= span[pools]
        x += low
        x **= 1.0 / power
        x -= ZIPF_OFFSET
        return np.minimum(x.astype(np.int64), self.count[pools] - 1)

    def artists(self, pools: np.ndarray, members: np.ndarray) -> np.ndarray:
        """The artist at each (pool, member position)."""
        return self.start[pools] + self.stride[pools] * members

    def scene_mates(self, artist: int, k: int) -> list[int]:
        """The ``k`` artists of ``artist``'s scene nearest to it in popularity."""
        genre = int(self.genre[artist])
        rank = artist - int(self.genre_start[genre])
        pool = genre * POOLS_PER_GENRE + rank % SCENES_PER_GENRE + 1
        member, count = rank // SCENES_PER_GENRE, int(self.count[pool])
        nearest = (j for step in range(1, count) for j in (member - step, member + step)
                   if 0 <= j < count)
        start, stride = int(self.start[pool]), int(self.stride[pool])
        return [start + stride * j for j in itertools.islice(nearest, k)]


def _genre_shares() -> np.ndarray:
    """(n_genres,) float: each genre's share of artists and of favourite-genre choices."""
    shares = np.array([share for share, _ in GENRES.values()])
    return shares / shares.sum()


# ------------------------------------------------------------------------------ listening
@dataclass(frozen=True)
class _Listeners:
    """Per-listener tastes: how many artists each keeps, and their favourite genres, scenes
    and circles (three slots each; only the first ``n_favourites`` count)."""

    counts: np.ndarray       # (n_users,) int64: artists kept, ARTISTS_PER_LISTENER
    n_favourites: np.ndarray  # (n_users,) int64: 1-3
    scene_pools: np.ndarray  # (n_users, 3) int64: pools of the favourite scenes
    circles: np.ndarray      # (n_users, 3) int64: favourite circle in each favourite scene

    @classmethod
    def draw(cls, rng: np.random.Generator, n_users: int, catalogue: _Catalogue) -> "_Listeners":
        """Tastes of ``n_users`` listeners, drawn independently."""
        mean, sd, low, high = ARTISTS_PER_LISTENER
        counts = np.clip(np.round(rng.normal(mean, sd, n_users)), low, high).astype(np.int64)
        n_favourites = rng.choice(np.arange(1, 4), size=n_users, p=FAVOURITE_GENRES)
        genres = rng.choice(len(GENRES), size=(n_users, 3), p=_genre_shares())
        scene_pools = genres * POOLS_PER_GENRE + 1 + rng.integers(0, SCENES_PER_GENRE, (n_users, 3))
        # A favourite circle: the circle of a popularity-weighted artist of the favourite scene.
        anchors = catalogue.popular_members(rng, scene_pools.ravel()).reshape(n_users, 3)
        return cls(counts, n_favourites, scene_pools, anchors // CIRCLE_SIZE)

    def block(self, start: int, stop: int) -> "_Listeners":
        """The listeners numbered start..stop-1."""
        return _Listeners(self.counts[start:stop], self.n_favourites[start:stop],
                          self.scene_pools[start:stop], self.circles[start:stop])


def _picks(rng: np.random.Generator, n_users: int, catalogue: _Catalogue
           ) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) int64 pairs, distinct, 20-60 per listener, grouped by listener.

    Listeners are drawn in blocks so that the per-pick temporaries stay small at 360K scale.
    """
    listeners = _Listeners.draw(rng, n_users, catalogue)
    users, items = [], []
    for start in range(0, n_users, USERS_PER_BLOCK):
        block_users, block_items = _block_picks(
            rng, listeners.block(start, start + USERS_PER_BLOCK), catalogue)
        users.append(block_users + start)
        items.append(block_items)
    return np.concatenate(users), np.concatenate(items)


def _block_picks(rng: np.random.Generator, listeners: _Listeners, catalogue: _Catalogue
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The picks of a block of listeners (users numbered from 0 within the block)."""
    circle_users, circle_items = _circle_picks(rng, listeners, catalogue)
    n_users = len(listeners.counts)
    in_circles = np.bincount(circle_users, minlength=n_users)
    draws = np.ceil(np.maximum(listeners.counts - in_circles, 0) * OVERDRAW).astype(np.int64)
    draws += OVERDRAW_EXTRA
    draw_users = np.repeat(np.arange(n_users), draws)
    draw_items = _popular_picks(rng, listeners, catalogue, draw_users)
    # Each listener's circle picks come first, then the other draws.
    per_user = in_circles + draws
    first = np.cumsum(per_user) - per_user
    users = np.repeat(np.arange(n_users), per_user)
    items = np.empty(len(users), dtype=np.int64)
    items[first[circle_users] + _rank_in_group(in_circles)] = circle_items
    items[first[draw_users] + in_circles[draw_users] + _rank_in_group(draws)] = draw_items
    keep = _first_distinct(users, items, per_user, listeners.counts, catalogue.n_items)
    return users[keep], items[keep]


def _rank_in_group(sizes: np.ndarray) -> np.ndarray:
    """0, 1, ... within each of consecutive groups of the given sizes."""
    return np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)


def _circle_picks(rng: np.random.Generator, listeners: _Listeners, catalogue: _Catalogue
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs grouped by user: members of each listener's favourite circles,
    each taken with a probability that aims at CIRCLE_SHARE of the listener's artists."""
    n_users = len(listeners.counts)
    pools = np.broadcast_to(listeners.scene_pools[:, :, None], (n_users, 3, CIRCLE_SIZE))
    members = listeners.circles[:, :, None] * CIRCLE_SIZE + np.arange(CIRCLE_SIZE)
    valid = ((np.arange(3)[:, None] < listeners.n_favourites[:, None, None])
             & (members < catalogue.count[pools]))
    slots = valid.sum(axis=(1, 2))
    chance = np.minimum(CIRCLE_TAKE, CIRCLE_SHARE * listeners.counts / slots)
    taken = valid & (rng.random(valid.shape) < chance[:, None, None])
    users = np.broadcast_to(np.arange(n_users)[:, None, None], valid.shape)[taken]
    return users, catalogue.artists(pools[taken], members[taken])


def _popular_picks(rng: np.random.Generator, listeners: _Listeners, catalogue: _Catalogue,
                   users: np.ndarray) -> np.ndarray:
    """One popularity-weighted artist per entry of ``users``, from a favourite scene, the
    rest of a favourite genre, or anywhere, in the proportions of SOURCE_SHARES."""
    which = (rng.random(len(users)) * listeners.n_favourites[users]).astype(np.int64)
    pools = listeners.scene_pools.ravel()[3 * users + which]
    source = rng.random(len(users))
    # Scene pools of genre g are g*P + 1..S: subtracting the remainder gives the genre pool.
    pools -= (source >= SOURCE_SHARES[0]) * (pools % POOLS_PER_GENRE)
    anywhere = np.flatnonzero(source >= SOURCE_SHARES[0] + SOURCE_SHARES[1])
    genres = rng.choice(len(GENRES), size=len(anywhere), p=_genre_shares())
    pools[anywhere] = genres * POOLS_PER_GENRE
    return catalogue.artists(pools, catalogue.popular_members(rng, pools))


def _first_distinct(users: np.ndarray, items: np.ndarray, draws: np.ndarray,
                    counts: np.ndarray, n_items: int) -> np.ndarray:
    """Mask of the picks to keep: each listener's first ``counts[u]`` distinct artists.

    ``users``/``items`` hold ``draws[u]`` >= 1 consecutive picks per listener, in draw order.
    One sort of (listener, artist, position) keys finds each pair's first pick.
    """
    first_draw = np.cumsum(draws) - draws
    position = np.arange(len(users)) - first_draw[users]
    bits = int(draws.max()).bit_length()
    keys = ((users * n_items + items) << bits) | position
    keys.sort()
    pairs = keys >> bits
    firsts = keys[np.concatenate([[True], pairs[1:] != pairs[:-1]])]
    is_first = np.zeros(len(users), dtype=bool)
    is_first[first_draw[(firsts >> bits) // n_items] + (firsts & ((1 << bits) - 1))] = True
    seen = np.cumsum(is_first)
    seen_before = seen[first_draw] - is_first[first_draw]
    return is_first & (seen - seen_before[users] <= counts[users])


def _alias_targets(rng: np.random.Generator, items: np.ndarray, names: list[str],
                   taken: set[str], n_alias: int) -> tuple[np.ndarray, list[str]]:
    """Up to ``n_alias`` well-known (not top-ranked) artists to publish under a second label,
    in artist order, and those labels (new names; ``taken`` is updated). The kinds of label
    (ALIAS_KINDS) take turns, so that every kind of variant is planted."""
    listeners = np.bincount(items, minlength=len(names))
    ranked = np.argsort(-listeners, kind="stable")
    skip = len(ranked) // 200 + 5
    by_kind: dict[str, list[tuple[int, str]]] = {kind: [] for kind in ALIAS_KINDS}
    for artist in rng.permutation(ranked[skip: skip + 20 * n_alias]).tolist():
        variant = _alias_label(names[artist])
        if variant and variant[1] not in taken:
            by_kind[variant[0]].append((artist, variant[1]))
    chosen: list[tuple[int, str]] = []
    while len(chosen) < n_alias and any(by_kind.values()):
        for kind in ALIAS_KINDS:
            if by_kind[kind] and len(chosen) < n_alias:
                chosen.append(by_kind[kind].pop())
    chosen.sort()
    taken.update(label for _, label in chosen)
    targets = np.array([artist for artist, _ in chosen], dtype=np.int64)
    return targets, [label for _, label in chosen]


def _with_signatures(rng: np.random.Generator, users: np.ndarray, items: np.ndarray,
                     catalogue: _Catalogue, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs plus, for each target, its SIGNATURE_ARTISTS nearest scene-mates for a
    SIGNATURE_SHARE of its listeners (pairs already present are not repeated)."""
    n_items = catalogue.n_items
    extra = [np.empty(0, dtype=np.int64)]
    for target in targets.tolist():
        fans = users[items == target]
        for mate in catalogue.scene_mates(target, SIGNATURE_ARTISTS):
            extra.append(fans[rng.random(len(fans)) < SIGNATURE_SHARE] * n_items + mate)
    added = np.unique(np.concatenate(extra))
    is_mate = np.zeros(n_items, dtype=bool)
    is_mate[added % n_items] = True
    present = users[is_mate[items]] * n_items + items[is_mate[items]]
    added = added[~np.isin(added, present)]
    return np.concatenate([users, added // n_items]), np.concatenate([items, added % n_items])


def _plant_aliases(rng: np.random.Generator, users: np.ndarray, items: np.ndarray, n_users: int,
                   n_base: int, targets: np.ndarray) -> np.ndarray:
    """Items with each target moved to its second label (item n_base + k) for a random half
    of the listeners (the same coin flip per listener for every target)."""
    heads = rng.random(n_users) < 0.5
    label = np.full(n_base, -1, dtype=np.int64)
    label[targets] = n_base + np.arange(len(targets))
    labels = label[items]
    moved = np.flatnonzero(labels >= 0)
    moved = moved[heads[users[moved]]]
    items = items.copy()
    items[moved] = labels[moved]
    return items


# --------------------------------------------------------------------------------- names
def _alias_label(name: str) -> tuple[str, str] | None:
    """(kind, second label) for a name, as people write it another way; None if no
    natural variant exists (a plain person's name, say)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    if plain != name:
        return "accent", plain
    if " & The " in name:
        return "and", name.replace(" & The ", " and the ")
    if name.startswith("The "):
        return "drop the", name[4:]
    if name.split()[-1] in _PLURAL_NOUNS:
        return "add the", f"The {name}"
    return None


# ----------------------------------------------------------------------------- TSV export
def write_lastfm360k(out_dir: Path, seed: int = 0, **generate_options: int) -> Path:
    """Write the demo data as ``out_dir/usersha1-artmbid-artname-plays.tsv`` in the Last.fm 360K
    layout: no header; user sha1 (of the listener id), artist MBID or "" (about 10%), artist
    name, integer plays; rows grouped by listener. Creates ``out_dir``; writes atomically
    (temporary file, then rename). Returns the file's path."""
    dataset = generate(seed=seed, **generate_options)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / LASTFM_360K_NAME
    handle, temporary = tempfile.mkstemp(dir=out_dir, prefix=".demo-", suffix=".tsv")
    try:
        with os.fdopen(handle, "wb") as out:
            for block in _tsv_blocks(dataset, seed):
                out.write(block)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; it is an ordinary data file
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _tsv_blocks(dataset: Dataset, seed: int, users_per_block: int = 20_000) -> Iterator[np.ndarray]:
    """The TSV's UTF-8 bytes (uint8 arrays), a block of listeners at a time.

    A row's three fields (user sha1 + tab; MBID, tab, name, tab; plays + newline) are rows of
    NUL-padded byte tables: gathered side by side into one matrix, then the padding dropped,
    so no Python code runs per row. Names and ids never contain NUL.
    """
    matrix = dataset.user_items
    plays = matrix.data.astype(np.int64)
    tables = (
        _padded_bytes(f"{hashlib.sha1(user.encode()).hexdigest()}\t"
                      for user in dataset.user_ids.tolist()),
        _padded_bytes(f"{_mbid(name, seed)}\t{name}\t" for name in dataset.item_names.tolist()),
        _padded_bytes(f"{count}\n" for count in range(int(plays.max(initial=1)) + 1)),
    )
    edges = np.cumsum([0] + [table.shape[1] for table in tables])
    per_user = np.diff(matrix.indptr)
    for start in range(0, dataset.n_users, users_per_block):
        stop = min(start + users_per_block, dataset.n_users)
        rows = slice(matrix.indptr[start], matrix.indptr[stop])
        codes = (np.repeat(np.arange(start, stop), per_user[start:stop]), matrix.indices[rows],
                 plays[rows])
        padded = np.empty((len(codes[0]), edges[-1]), dtype=np.uint8)
        for table, code, left, right in zip(tables, codes, edges, edges[1:]):
            padded[:, left:right] = table[code]
        yield padded[padded != 0]


def _padded_bytes(texts: Iterable[str]) -> np.ndarray:
    """(n_texts, longest) uint8: each text's UTF-8 bytes, NUL-padded on the right."""
    encoded = [text.encode("utf-8") for text in texts]
    width = max(map(len, encoded))
    return np.frombuffer(b"".join(code.ljust(width, b"\0") for code in encoded),
                         dtype=np.uint8).reshape(len(encoded), width)


def _mbid(name: str, seed: int) -> str:
    """A stable UUID-shaped fake MusicBrainz id; about 10% of artists have none, as in the crawl."""
    digest = hashlib.md5(f"{seed}:{name}".encode()).hexdigest()
    if int(digest[:2], 16) < 26:
        return ""
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
