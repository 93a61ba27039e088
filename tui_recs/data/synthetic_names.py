"""Readable, genre-flavoured artist names and listener ids for the demo data.

Names are drawn from per-genre patterns over word lists and invented words (syllables), so
that even 290K artists get distinct names that read like band names, not "artist_123".
"""

from __future__ import annotations

import numpy as np

ADJECTIVES = (
    "Velvet Silver Hollow Electric Crimson Golden Quiet Broken Wild Neon Midnight Paper Glass "
    "Burning Frozen Lonely Secret Sacred Savage Gentle Restless Distant Fading Wandering "
    "Endless Violet Scarlet Amber Iron Copper Cosmic Lunar Solar Static Silent Bitter Sweet "
    "Pale Dark Bright Hidden Northern Southern Ancient Modern Little Giant Holy Lost Black "
    "White Blue Red Green Grey Young Old Strange Lucky Tender Radiant Feral Drowned Sunken "
    "Rising Falling Dancing Sleeping Howling Shining Crooked Velour Phantom Marble"
).split()
NOUNS = (
    "Foxes Wolves Ravens Owls Tigers Horses Rivers Mountains Echoes Shadows Lights Ghosts "
    "Machines Hearts Saints Sinners Kings Queens Dreamers Strangers Lovers Sailors Pilots "
    "Comets Planets Stars Oceans Forests Gardens Cities Streets Bridges Towers Mirrors "
    "Arrows Crowns Bells Wires Signals Waves Tides Storms Clouds Fires Embers Ashes Stones "
    "Diamonds Pearls Roses Lilies Orchids Moths Bees Sparrows Swans Whales Serpents Giants "
    "Monks Prophets Thieves Drifters Ramblers Outlaws Cowboys Vandals Twins Daughters Sons"
).split()
FIRST_NAMES = (
    "Maria Lena Jonas Elias Nina Omar Kai Aiko Sofia Mateo Ingrid Tomas Leila Rafael Ada "
    "Yuki Marcus Elena Viktor Amara Felix Hana Oskar Clara Diego Freya Malik Rosa Emil Zara "
    "Nadia Hugo Ines Arjun Mira Lucas Selma Teo Dara Ivan Noor Paulo Greta Ezra Lila Bruno "
    "Saskia Idris Alma Jasper"
).split()
LAST_NAMES = (
    "Solvang Okafor Lindqvist Moreau Tanaka Novak Alvarez Keller Haddad Kowalski Duarte "
    "Nakamura Brennan Ferreira Castillo Ivanova Lindgren Rossi Mensah Varga Holm Petrov "
    "Quinn Sato Dubois Marsh Reyes Wolfe Laine Costa Berg Hale Koenig Vance Ortega Hart "
    "Silva Navarro Fischer Kim Ahmed Byrne Moss Park Lund Rahman Pike Stone Ward"
).split()
HIPHOP_PREFIXES = "Lil Young MC Big DJ Kid Lady King Queen Saint Baby Yung Mister".split()
ELECTRONIC_SUFFIXES = ("", "", " Audio", " System", " Sound", " Collective", " Unit", " Signal")
ENSEMBLES = ("Trio", "Quartet", "Quintet", "Ensemble", "Orchestra", "Band", "Project")
SYLLABLES = (
    "ka ri lo ve na mo zu te sa ki ra no el ar is ul om ta fe li ro da vi ne su mi ko ya "
    "re lu ga bo xi que tor vel mar sol dra kai lun"
).split()
ANIMALS = (
    "otter fox heron lynx panda koala badger falcon marten beaver wren finch crane ibex "
    "bison raven owl moth hare seal orca gecko newt puffin yak llama tapir dingo kestrel"
).split()


def _pick(rng: np.random.Generator, words: tuple[str, ...] | list[str], size: int) -> np.ndarray:
    return np.asarray(words, dtype=object)[rng.integers(0, len(words), size)]


def _invented(rng: np.random.Generator, size: int) -> list[str]:
    """Pronounceable invented words of 2-3 syllables, capitalised ("Velmora", "Kairo")."""
    counts = rng.integers(2, 4, size)
    parts = _pick(rng, SYLLABLES, size * 3).reshape(size, 3)
    return ["".join(row[:count]).capitalize() for row, count in zip(parts.tolist(), counts.tolist())]


#: Pattern functions by style: each returns ``size`` candidate names.
def _band(rng, size):
    return [f"The {a} {n}" for a, n in zip(_pick(rng, ADJECTIVES, size), _pick(rng, NOUNS, size))]


def _adjective_noun(rng, size):
    return [f"{a} {n}" for a, n in zip(_pick(rng, ADJECTIVES, size), _pick(rng, NOUNS, size))]


def _person(rng, size):
    return [f"{f} {l}" for f, l in zip(_pick(rng, FIRST_NAMES, size), _pick(rng, LAST_NAMES, size))]


def _ensemble(rng, size):
    return [f"{f} {l} {e}" for f, l, e in zip(_pick(rng, FIRST_NAMES, size),
                                              _pick(rng, LAST_NAMES, size), _pick(rng, ENSEMBLES, size))]


def _rapper(rng, size):
    return [f"{p} {w}" for p, w in zip(_pick(rng, HIPHOP_PREFIXES, size), _invented(rng, size))]


def _producer(rng, size):
    return [f"{w}{s}" for w, s in zip(_invented(rng, size), _pick(rng, ELECTRONIC_SUFFIXES, size))]


def _invented_band(rng, size):
    return [f"{w} {n}" for w, n in zip(_invented(rng, size), _pick(rng, NOUNS, size))]


STYLES = {
    "band": _band, "adjective noun": _adjective_noun, "person": _person,
    "ensemble": _ensemble, "rapper": _rapper, "producer": _producer, "invented": _invented_band,
}


def artist_names(rng: np.random.Generator, styles_per_artist: list[tuple[str, ...]],
                 taken: set[str]) -> list[str]:
    """One unique name per artist, each in one of the styles its genre allows.

    ``taken`` (updated) holds names already used, so names are unique across genres.
    """
    names: list[str | None] = [None] * len(styles_per_artist)
    pending = list(range(len(styles_per_artist)))
    rounds = 0
    while pending:
        chosen = [styles_per_artist[i][rng.integers(len(styles_per_artist[i]))] for i in pending]
        by_style: dict[str, list[int]] = {}
        for artist, style in zip(pending, chosen):
            by_style.setdefault(style, []).append(artist)
        still = []
        for style, artists in by_style.items():
            for artist, name in zip(artists, STYLES[style](rng, len(artists))):
                if rounds > 3:  # crowded pattern space: an invented word makes it unique
                    name = f"{name} {_invented(rng, 1)[0]}"
                if name in taken:
                    still.append(artist)
                else:
                    taken.add(name)
                    names[artist] = name
        pending = still
        rounds += 1
    return names  # type: ignore[return-value]


def listener_ids(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` unique Last.fm-style user names such as "moonlit_otter42"."""
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < count:
        size = int((count - len(ids)) * 1.2) + 10
        numbers = rng.integers(1, 10_000, size)
        for adjective, animal, number in zip(_pick(rng, ADJECTIVES, size), _pick(rng, ANIMALS, size),
                                             numbers.tolist()):
            candidate = f"{adjective.lower()}_{animal}{number}"
            if candidate not in seen:
                seen.add(candidate)
                ids.append(candidate)
                if len(ids) == count:
                    break
    return ids
