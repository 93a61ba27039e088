"""The built-in demo data: a seeded synthetic listening dataset that looks real enough to explore.

Model of the data:
- Genres, each split into scenes, each with its own artists. Artist popularity is Zipf-like
  within each genre, and genres differ in size.
- Each listener has 1-3 favourite genres and one favourite scene in each; their artists come
  mostly from those scenes, then from the rest of those genres, then from anywhere.
- Each listener keeps their top ~50 artists (20-60, like the Last.fm 360K crawl); play counts
  are heavy-tailed (log-normal, median around 100).
- A few planted alias pairs: one latent artist published under two labels ("The X" / "X",
  "Beyoncé" / "Beyonce"), each listener of it seeing only one label, so the two labels have
  disjoint listeners and the same neighbours, like "Arcade Fire" / "The Arcade Fire".
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
from pathlib import Path

import numpy as np

from tui_recs.data.dataset import Dataset
from tui_recs.data.demo_names import artist_names, listener_ids
from tui_recs.errors import DataError

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
#: Where a listener's picks come from: favourite scene, favourite genre, anywhere.
PICK_SHARES = (0.6, 0.28, 0.12)
ALIAS_PAIRS = 10
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
    # Plays: log-normal with median 100 (a heavy right tail), at least 1.
    plays = np.maximum(1, np.round(rng.lognormal(np.log(100), 1.0, len(users)))).astype(np.float32)
    users, items, alias_targets = _plant_aliases(rng, users, items, catalogue, n_alias)
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
    """Artists with genre, scene and a Zipf-like popularity weight within their genre."""
    per_genre = np.maximum(SCENES_PER_GENRE * 2, np.round(shares * n_items).astype(int))
    per_genre[np.argmax(per_genre)] += n_items - per_genre.sum()
    genre = np.repeat(np.arange(len(shares)), per_genre)
    rank_in_genre = np.concatenate([np.arange(count) for count in per_genre])
    weight = 1.0 / (rank_in_genre + 2.0) ** 1.15
    scene = rank_in_genre % SCENES_PER_GENRE  # every scene gets artists, popular ones too
    return {"genre": genre, "scene": scene, "weight": weight}


def _picks(rng: np.random.Generator, n_users: int, catalogue: dict[str, np.ndarray],
           shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs, each listener's artists distinct, 20-60 per listener."""
    genre, scene, weight = catalogue["genre"], catalogue["scene"], catalogue["weight"]
    n_genres = len(shares)
    counts = np.clip(np.round(rng.normal(MEAN_ARTISTS_PER_LISTENER, 9, n_users)), 20, 60).astype(int)
    favourites = np.stack([rng.choice(n_genres, size=n_users, p=shares) for _ in range(3)], axis=1)
    n_favourites = rng.choice([1, 2, 3], size=n_users, p=[0.35, 0.4, 0.25])
    favourite_scene = rng.integers(0, SCENES_PER_GENRE, (n_users, 3))
    # Over-draw, then keep each listener's first `count` distinct artists.
    draws = (counts * 1.6).astype(int) + 8
    user = np.repeat(np.arange(n_users), draws)
    which = (rng.random(len(user)) * n_favourites[user]).astype(int)
    source = rng.choice(3, size=len(user), p=PICK_SHARES)
    pick_genre = np.where(source == 2, rng.choice(n_genres, size=len(user), p=shares),
                          favourites[user, which])
    pick_scene = np.where(source == 0, favourite_scene[user, which], -1)
    item = np.empty(len(user), dtype=np.int64)
    for g in range(n_genres):
        for s in range(-1, SCENES_PER_GENRE):
            mask = (pick_genre == g) & (pick_scene == s)
            if not mask.any():
                continue
            pool = np.flatnonzero((genre == g) & ((scene == s) if s >= 0 else True))
            cdf = np.cumsum(weight[pool])
            item[mask] = pool[np.searchsorted(cdf, rng.random(mask.sum()) * cdf[-1])]
    key = user.astype(np.int64) * len(genre) + item
    _, first = np.unique(key, return_index=True)
    first.sort()
    user, item = user[first], item[first]
    position = np.arange(len(user)) - np.searchsorted(user, user)  # rank of the pick per user
    keep = position < counts[user]
    return user[keep], item[keep]


def _plant_aliases(rng: np.random.Generator, users: np.ndarray, items: np.ndarray,
                   catalogue: dict[str, np.ndarray], n_alias: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Give half the listeners of ``n_alias`` well-known artists a second label of each."""
    n_base = len(catalogue["genre"])
    listeners = np.bincount(items, minlength=n_base)
    ranked = np.argsort(-listeners, kind="stable")
    candidates = ranked[len(ranked) // 200 + 5: len(ranked) // 200 + 5 + 20 * n_alias]
    targets = np.sort(rng.choice(candidates, size=n_alias, replace=False)) if n_alias else \
        np.empty(0, dtype=np.int64)
    coin = rng.random(users.max() + 1 if len(users) else 0) < 0.5
    items = items.copy()
    for offset, target in enumerate(targets.tolist()):
        moved = (items == target) & coin[users]
        items[moved] = n_base + offset
    return users, items, targets


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
