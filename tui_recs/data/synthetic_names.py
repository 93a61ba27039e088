"""Readable, genre-flavoured artist names and listener ids for the demo data.

Names are drawn from templates over word lists and invented words (syllables), so that even
290K artists get distinct names that read like artists, not "artist_123". Each style has a
few usual templates and a roomy one (with room for millions of names) that takes over for
artists still unnamed after a few rounds of collisions.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: Draws ``size`` words (an object array of str) from a seeded generator.
WordSource = Callable[[np.random.Generator, int], np.ndarray]
#: A template: literal text and word sources, concatenated.
Template = tuple[str | WordSource, ...]

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
SINGULAR_NOUNS = (
    "Ghost Raven Saint Prophet Thief Comet Tiger Wolf Phantom Shadow Pilot Drifter Outlaw "
    "Vandal Monk Serpent Sparrow Ember Diamond Crown Storm Echo Twin Stranger"
).split()
# Accented names fold to plain ASCII ("Zoë" -> "Zoe"): the source of accent-variant aliases.
FIRST_NAMES = (
    "Maria Lena Jonas Elias Nina Omar Kai Aiko Sofia Mateo Ingrid Tomas Leila Rafael Ada "
    "Yuki Marcus Elena Viktor Amara Felix Hana Oskar Clara Diego Freya Malik Rosa Emil Zara "
    "Nadia Hugo Ines Arjun Mira Lucas Selma Teo Dara Ivan Noor Paulo Greta Ezra Lila Bruno "
    "Saskia Idris Alma Jasper Zoë José Chloé Björn Renée Inès Raphaël Anaïs Jürgen Noémie"
).split()
LAST_NAMES = (
    "Solvang Okafor Lindqvist Moreau Tanaka Novak Alvarez Keller Haddad Kowalski Duarte "
    "Nakamura Brennan Ferreira Castillo Ivanova Lindgren Rossi Mensah Varga Holm Petrov "
    "Quinn Sato Dubois Marsh Reyes Wolfe Laine Costa Berg Hale Koenig Vance Ortega Hart "
    "Silva Navarro Fischer Kim Ahmed Byrne Moss Park Lund Rahman Pike Stone Ward "
    "Müller Núñez Gómez Lindström Sánchez Jiménez Lefèvre Brandão Özdemir Dvořák"
).split()
HIPHOP_PREFIXES = "Lil Young MC Big DJ Kid Lady King Queen Saint Baby Yung Mister".split()
ELECTRONIC_SUFFIXES = ("", "", " Audio", " System", " Sound", " Collective", " Unit", " Signal")
ENSEMBLES = "Trio Quartet Quintet Ensemble Orchestra Band Project".split()
SYLLABLES = (
    "ka ri lo ve na mo zu te sa ki ra no el ar is ul om ta fe li ro da vi ne su mi ko ya "
    "re lu ga bo xi que tor vel mar sol dra kai lun"
).split()
ANIMALS = (
    "otter fox heron lynx panda koala badger falcon marten beaver wren finch crane ibex "
    "bison raven owl moth hare seal orca gecko newt puffin yak llama tapir dingo kestrel"
).split()
#: Rounds of name collisions after which artists still unnamed use their style's roomy template.
ROOMY_AFTER = 3


def _pick(rng: np.random.Generator, words: list[str] | tuple[str, ...], size: int) -> np.ndarray:
    """``size`` words drawn uniformly (an object array of str)."""
    return np.asarray(words, dtype=object)[rng.integers(0, len(words), size)]


def _words(words: list[str] | tuple[str, ...]) -> WordSource:
    return lambda rng, size: _pick(rng, words, size)


def _invented(rng: np.random.Generator, size: int) -> np.ndarray:
    """Pronounceable invented words of 2-3 syllables, capitalised ("Velmora", "Kairo")."""
    parts = _pick(rng, SYLLABLES, 3 * size).reshape(3, size)
    words = parts[0] + parts[1]
    three = rng.random(size) < 0.5
    words[three] += parts[2][three]
    return np.asarray([word.capitalize() for word in words.tolist()], dtype=object)


ADJ, NOUN, ONE, FIRST, LAST = (_words(w) for w in (ADJECTIVES, NOUNS, SINGULAR_NOUNS,
                                                  FIRST_NAMES, LAST_NAMES))
PREFIX, SUFFIX, ENSEMBLE, INVENTED = (_words(HIPHOP_PREFIXES), _words(ELECTRONIC_SUFFIXES),
                                      _words(ENSEMBLES), _invented)

#: Style -> (its usual templates, a roomy one with room for millions of distinct names).
STYLES: dict[str, tuple[tuple[Template, ...], Template]] = {
    "band": ((("The ", ADJ, " ", NOUN), ("The ", NOUN, " of ", INVENTED)),
             ("The ", INVENTED, " ", NOUN)),
    "adjective noun": (((ADJ, " ", NOUN), (ADJ, " ", ONE)), (ADJ, " ", INVENTED)),
    "person": (((FIRST, " ", LAST),), (FIRST, " ", INVENTED)),
    "person and band": (((FIRST, " ", LAST, " & The ", NOUN),),
                        (FIRST, " ", INVENTED, " & The ", NOUN)),
    "ensemble": (((FIRST, " ", LAST, " ", ENSEMBLE),), (FIRST, " ", INVENTED, " ", ENSEMBLE)),
    "rapper": (((PREFIX, " ", ONE), (PREFIX, " ", INVENTED)), (PREFIX, " ", INVENTED)),
    "producer": ((("DJ ", INVENTED), (INVENTED, SUFFIX)), (INVENTED, SUFFIX)),
    "invented": (((INVENTED,), (INVENTED, " ", NOUN)), (INVENTED, " ", NOUN)),
}


def _render(rng: np.random.Generator, template: Template, size: int) -> np.ndarray:
    """``size`` names from one template (an object array of str)."""
    names = np.full(size, "", dtype=object)
    for part in template:
        names += part if isinstance(part, str) else part(rng, size)
    return names


def _template_table() -> tuple[list[Template], np.ndarray, np.ndarray]:
    """All templates in one list (each style's usual ones, then its roomy one), and per style
    (in STYLES order) its first template's position and its number of usual templates."""
    templates: list[Template] = []
    first, usual = [], []
    for common, roomy in STYLES.values():
        first.append(len(templates))
        usual.append(len(common))
        templates.extend((*common, roomy))
    return templates, np.array(first), np.array(usual)


def _style_table(styles_per_artist: list[tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """Per artist, the row of its allowed styles in a (kinds, styles) table of style numbers
    (-1 pads), and that table."""
    number = {style: k for k, style in enumerate(STYLES)}
    kinds: dict[tuple[str, ...], int] = {}
    kind = np.array([kinds.setdefault(styles, len(kinds)) for styles in styles_per_artist],
                    dtype=np.int64)
    table = np.full((max(len(kinds), 1), max(map(len, kinds), default=1)), -1)
    for styles, k in kinds.items():
        table[k, :len(styles)] = [number[style] for style in styles]
    return kind, table


def artist_names(rng: np.random.Generator, styles_per_artist: list[tuple[str, ...]],
                 taken: set[str]) -> list[str]:
    """One unique name per artist, each in one of the styles (keys of STYLES) it allows.

    ``taken`` (updated) holds names already used, so names are unique across calls. Artists
    whose name is taken try again; after ROOMY_AFTER rounds, with their style's roomy template.
    """
    templates, first_template, usual = _template_table()
    kind, table = _style_table(styles_per_artist)
    n_styles = (table >= 0).sum(axis=1)
    names = np.empty(len(styles_per_artist), dtype=object)
    pending = np.arange(len(styles_per_artist))
    rounds = 0
    while len(pending):
        k = kind[pending]
        style = table[k, (rng.random(len(pending)) * n_styles[k]).astype(np.int64)]
        choice = (rng.random(len(pending)) * usual[style]).astype(np.int64)
        template = first_template[style] + (choice if rounds < ROOMY_AFTER else usual[style])
        still = []
        for t in np.unique(template).tolist():
            artists = pending[template == t]
            candidates = _render(rng, templates[t], len(artists))
            for artist, name in zip(artists.tolist(), candidates.tolist()):
                if name in taken:
                    still.append(artist)
                else:
                    taken.add(name)
                    names[artist] = name
        pending = np.sort(np.asarray(still, dtype=np.int64))
        rounds += 1
    return names.tolist()


def listener_ids(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` unique Last.fm-style user names such as "moonlit_otter42"."""
    adjectives = [word.lower() for word in ADJECTIVES]
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < count:
        size = int((count - len(ids)) * 1.2) + 10
        numbers = rng.integers(1, 10_000, size).astype(str).astype(object)
        candidates = _pick(rng, adjectives, size) + "_" + _pick(rng, ANIMALS, size) + numbers
        for candidate in candidates.tolist():
            if candidate not in seen:
                seen.add(candidate)
                ids.append(candidate)
                if len(ids) == count:
                    break
    return ids
