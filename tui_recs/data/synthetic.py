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
  "Beyoncé" / "Beyonce"), each listener of it seeing only one label, so the two labels have
  disjoint listeners and the same neighbours, like "Arcade Fire" / "The Arcade Fire". The
  latent artist has a recognisable audience (most of its fans also play a few signature
  artists), which is what lets a factorization tell its two labels are one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
from pathlib import Path

import numpy as np

from tui_recs.data.dataset import Dataset
from tui_recs.data.synthetic_names import artist_names, listener_ids
from tui_recs.errors import DataError

#: Bump whenever generated data changes for the same options (it keys the cached copy).
GENERATOR_VERSION = 1
#: Genre -> (relative share of artists and listeners, name styles).
GENRES: dict[str, tuple[float, tuple[str, ...]]] = {
    "indie rock": (1.6, ("band", "adjective noun", "invented")),
    "pop": (1.5, ("person", "invented", "adjective noun")),
    "hip hop": (1.3, ("rapper", "person")),
    "electronic": (1.2, ("producer", "invented")),
    "metal": (1.0, ("adjective noun", "invented", "band")),
    "rock": (1.2, ("band", "adjective noun")),
    "jazz": (0.6, ("ensemble", "person")),
    "folk": (0.7, ("person", "band", "ensemble")),
    "punk": (0.6, ("band", "adjective noun")),
    "soul": (0.5, ("person", "band")),
    "classical": (0.4, ("ensemble", "person")),
    "ambient": (0.4, ("producer", "invented")),
    "reggae": (0.3, ("person", "band", "rapper")),
    "country": (0.4, ("person", "band")),
    "k-pop": (0.5, ("invented", "producer")),
    "latin": (0.5, ("person", "invented")),
}
SCENES_PER_GENRE = 4
CIRCLE_SIZE = 8
#: Where a listener's picks come from: favourite circle, scene, genre, anywhere.
PICK_SHARES = (0.3, 0.35, 0.23, 0.12)
ALIAS_PAIRS = 10
#: Each aliased artist's listeners mostly also play its few signature artists.
SIGNATURE_ARTISTS, SIGNATURE_SHARE = 4, 0.7
#: Last.fm 360K shape.
SHAPE_360K = {"n_users": 360_000, "n_items": 290_000}
MEAN_ARTISTS_PER_LISTENER = 50


def scale_options(scale: str) -> dict[str, int]:
    """Parse ``--scale``: "default", "360k", or a fraction (e.g. "0.1") of the 360K shape."""
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
    return {"n_users": max(200, round(SHAPE_360K["n_users"] * fraction)),
            "n_items": max(100, round(SHAPE_360K["n_items"] * fraction))}


def generate(n_users: int = 20_000, n_items: int = 5_000, seed: int = 0) -> Dataset:
    """The demo Dataset: ``n_users`` listeners × about ``n_items`` artists (the planted alias
    labels are among them), deterministic for a seed.

    ``item_meta`` holds ``"genre"`` (each artist's genre) and ``"alias_of"`` (for the second
    label of a planted pair, the item id of the first; "" otherwise).
    """
    if n_users < 10 or n_items < 2 * len(GENRES) * SCENES_PER_GENRE:
        raise DataError(f"demo data needs at least 10 listeners and "
                        f"{2 * len(GENRES) * SCENES_PER_GENRE} artists")
    rng = np.random.default_rng(seed)
    genre_names = list(GENRES)
    shares = np.array([GENRES[g][0] for g in genre_names])
    shares /= shares.sum()
    n_alias = min(ALIAS_PAIRS, n_items // 100)
    catalogue = _catalogue(n_items - n_alias, shares)
    users, items = _picks(rng, n_users, catalogue, shares)
    item_genre = catalogue["genre"]
    alias_targets = _alias_targets(rng, items, len(item_genre), n_alias)
    users, items = _add_signatures(rng, users, items, catalogue, alias_targets)
    items = _plant_aliases(rng, users, items, len(item_genre), alias_targets)
    # Plays: log-normal with median 100 (a heavy right tail), at least 1.
    plays = np.maximum(1, np.round(rng.lognormal(np.log(100), 1.0, len(users)))).astype(np.float32)
    n_total = len(item_genre) + n_alias
    genres = np.empty(n_total, dtype=object)
    genres[:len(item_genre)] = np.asarray(genre_names, dtype=object)[item_genre]
    genres[len(item_genre):] = genres[alias_targets]
    names = _names(rng, item_genre, genre_names, alias_targets)
    item_ids = np.asarray(names, dtype=object)
    alias_of = np.full(n_total, "", dtype=object)
    alias_of[len(item_genre):] = item_ids[alias_targets]
    return Dataset.from_codes(
        users, items, plays,
        user_ids=np.asarray(listener_ids(rng, n_users), dtype=object),
        item_ids=item_ids, item_names=item_ids,
        item_meta={"genre": genres, "alias_of": alias_of},
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


def _catalogue(n_items: int, shares: np.ndarray) -> dict[str, np.ndarray]:
    """Artists with genre, scene, circle and a Zipf-like popularity weight within their genre.

    Artists are numbered genre by genre in popularity order; a scene takes every
    SCENES_PER_GENRE-th artist, and a circle CIRCLE_SIZE consecutive artists of a scene.
    ``circle_members`` lists artists circle by circle (``circle_start``/``circle_size``).
    """
    per_genre = np.maximum(SCENES_PER_GENRE * 2, np.round(shares * n_items).astype(int))
    per_genre[np.argmax(per_genre)] += n_items - per_genre.sum()
    genre = np.repeat(np.arange(len(shares)), per_genre)
    rank_in_genre = np.concatenate([np.arange(count) for count in per_genre])
    weight = 1.0 / (rank_in_genre + 2.0) ** 1.15
    scene = rank_in_genre % SCENES_PER_GENRE  # every scene gets artists, popular ones too
    circle_key = (genre * SCENES_PER_GENRE + scene) * n_items + rank_in_genre // SCENES_PER_GENRE // CIRCLE_SIZE
    keys, circle = np.unique(circle_key, return_inverse=True)
    members = np.argsort(circle, kind="stable")
    sizes = np.bincount(circle, minlength=len(keys))
    return {"genre": genre, "scene": scene, "weight": weight, "circle": circle,
            "circle_members": members, "circle_size": sizes,
            "circle_start": np.concatenate([[0], np.cumsum(sizes)[:-1]])}


def _sample_by_popularity(rng: np.random.Generator, catalogue: dict[str, np.ndarray],
                          genres: np.ndarray, scenes: np.ndarray) -> np.ndarray:
    """One artist per (genre, scene) request, popularity-weighted; scene -1 = whole genre."""
    genre, scene, weight = catalogue["genre"], catalogue["scene"], catalogue["weight"]
    picked = np.empty(len(genres), dtype=np.int64)
    for g in np.unique(genres).tolist():
        for s in range(-1, SCENES_PER_GENRE):
            mask = (genres == g) & (scenes == s)
            if not mask.any():
                continue
            pool = np.flatnonzero((genre == g) & ((scene == s) if s >= 0 else True))
            cdf = np.cumsum(weight[pool])
            picked[mask] = pool[np.searchsorted(cdf, rng.random(mask.sum()) * cdf[-1])]
    return picked


def _picks(rng: np.random.Generator, n_users: int, catalogue: dict[str, np.ndarray],
           shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs, each listener's artists distinct, 20-60 per listener."""
    n_genres = len(shares)
    counts = np.clip(np.round(rng.normal(MEAN_ARTISTS_PER_LISTENER, 9, n_users)), 20, 60).astype(int)
    favourites = np.stack([rng.choice(n_genres, size=n_users, p=shares) for _ in range(3)], axis=1)
    n_favourites = rng.choice([1, 2, 3], size=n_users, p=[0.35, 0.4, 0.25])
    favourite_scene = rng.integers(0, SCENES_PER_GENRE, (n_users, 3))
    # A favourite circle: the circle of a popularity-weighted artist of the favourite scene.
    anchors = _sample_by_popularity(rng, catalogue, favourites.ravel(), favourite_scene.ravel())
    favourite_circle = catalogue["circle"][anchors].reshape(n_users, 3)
    # Over-draw, then keep each listener's first `count` distinct artists.
    draws = (counts * 2).astype(int) + 10
    user = np.repeat(np.arange(n_users), draws)
    which = (rng.random(len(user)) * n_favourites[user]).astype(int)
    source = rng.choice(4, size=len(user), p=PICK_SHARES)
    pick_genre = np.where(source == 3, rng.choice(n_genres, size=len(user), p=shares),
                          favourites[user, which])
    pick_scene = np.where(source == 1, favourite_scene[user, which], -1)
    item = _sample_by_popularity(rng, catalogue, pick_genre, pick_scene)
    in_circle = source == 0
    circles = favourite_circle[user[in_circle], which[in_circle]]
    offsets = (rng.random(len(circles)) * catalogue["circle_size"][circles]).astype(np.int64)
    item[in_circle] = catalogue["circle_members"][catalogue["circle_start"][circles] + offsets]
    key = user.astype(np.int64) * len(catalogue["genre"]) + item
    _, first = np.unique(key, return_index=True)
    first.sort()
    user, item = user[first], item[first]
    position = np.arange(len(user)) - np.searchsorted(user, user)  # rank of the pick per user
    keep = position < counts[user]
    return user[keep], item[keep]


def _alias_targets(rng: np.random.Generator, items: np.ndarray, n_base: int, n_alias: int
                   ) -> np.ndarray:
    """``n_alias`` well-known (not top-ranked) artists to publish under a second label."""
    listeners = np.bincount(items, minlength=n_base)
    ranked = np.argsort(-listeners, kind="stable")
    candidates = ranked[len(ranked) // 200 + 5: len(ranked) // 200 + 5 + 20 * n_alias]
    if not n_alias:
        return np.empty(0, dtype=np.int64)
    return np.sort(rng.choice(candidates, size=n_alias, replace=False))


def _add_signatures(rng: np.random.Generator, users: np.ndarray, items: np.ndarray,
                    catalogue: dict[str, np.ndarray], targets: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Give each target artist an audience one would recognise: most of its listeners also
    play its SIGNATURE_ARTISTS nearest scene-mates. Returns the pairs, without duplicates."""
    genre, scene = catalogue["genre"], catalogue["scene"]
    extra_users, extra_items = [users], [items]
    for target in targets.tolist():
        mates = np.flatnonzero((genre == genre[target]) & (scene == scene[target]))
        mates = mates[mates != target]
        signature = mates[np.argsort(np.abs(mates - target), kind="stable")[:SIGNATURE_ARTISTS]]
        fans = users[items == target]
        for artist in signature.tolist():
            chosen = fans[rng.random(len(fans)) < SIGNATURE_SHARE]
            extra_users.append(chosen)
            extra_items.append(np.full(len(chosen), artist))
    users, items = np.concatenate(extra_users), np.concatenate(extra_items)
    key = users.astype(np.int64) * len(genre) + items
    _, first = np.unique(key, return_index=True)
    first.sort()
    order = np.argsort(users[first], kind="stable")
    return users[first][order], items[first][order]


def _plant_aliases(rng: np.random.Generator, users: np.ndarray, items: np.ndarray,
                   n_base: int, targets: np.ndarray) -> np.ndarray:
    """Move a random half of each target's listeners to its second label (item n_base + k)."""
    coin = rng.random(users.max() + 1 if len(users) else 0) < 0.5
    items = items.copy()
    for offset, target in enumerate(targets.tolist()):
        moved = (items == target) & coin[users]
        items[moved] = n_base + offset
    return items


def _alias_label(name: str) -> str:
    """A second label for the same artist, as people mistype it."""
    if name.startswith("The "):
        return name[4:]
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    if plain != name:
        return plain
    if " & " in name:
        return name.replace(" & ", " and ")
    return f"The {name}"


def _names(rng: np.random.Generator, item_genre: np.ndarray, genre_names: list[str],
           alias_targets: np.ndarray) -> list[str]:
    taken: set[str] = set()
    styles = [GENRES[genre_names[g]][1] for g in item_genre.tolist()]
    names = artist_names(rng, styles, taken)
    for target in alias_targets.tolist():
        label = _alias_label(names[target])
        while label in taken:
            label = f"{label} (band)"
        taken.add(label)
        names.append(label)
    return names


def write_lastfm360k(out_dir: Path, seed: int = 0, **generate_options: int) -> Path:
    """Write the demo data as ``out_dir/usersha1-artmbid-artname-plays.tsv`` in the Last.fm 360K
    layout (no header; user sha1, artist MBID or "", artist name, integer plays; rows grouped
    by listener). Written atomically. Returns the file's path."""
    dataset = generate(seed=seed, **generate_options)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "usersha1-artmbid-artname-plays.tsv"
    users = [hashlib.sha1(user.encode()).hexdigest() + "\t" for user in dataset.user_ids.tolist()]
    middles = [f"{_mbid(name, seed)}\t{name}\t" for name in dataset.item_names.tolist()]
    matrix = dataset.user_items
    indptr, indices = matrix.indptr, matrix.indices
    plays = matrix.data.astype(np.int64).tolist()
    handle, temporary = tempfile.mkstemp(dir=out_dir, prefix=".demo-", suffix=".tsv")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            block = 20_000
            for start in range(0, dataset.n_users, block):
                stop = min(start + block, dataset.n_users)
                rows = []
                for user in range(start, stop):
                    prefix = users[user]
                    for k in range(indptr[user], indptr[user + 1]):
                        rows.append(f"{prefix}{middles[indices[k]]}{plays[k]}\n")
                out.write("".join(rows))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _mbid(name: str, seed: int) -> str:
    """A stable UUID-shaped fake MusicBrainz id; about 10% of artists have none, as in the crawl."""
    digest = hashlib.md5(f"{seed}:{name}".encode()).hexdigest()
    if int(digest[:2], 16) < 26:
        return ""
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
