"""Choose, by measurement, the default model for related artists, the default model for
recommendations, and the default minimum-listeners floor (by hand; model-generic: every
registered model at its declared defaults, plus --extra settings).

    python benchmarks/choose_defaults.py [--data ../shared/data/lastfm-hetrec2011-2k | demo]
                                         [--models als,lsa,...] [--floors 0,2,5,10]
                                         [--extra 'bm25:bm25_k1=1.2,bm25_b=0.75']

Everything is fitted on one seeded 80/20 per-listener holdout (seed 0) and printed as Markdown
tables (for docs/defaults.md):

- recommendations: P@10 and NDCG@10 of each model, with artists under each floor of listeners
  (counted in the training data) left out before the cut, as the app and the CLI do;
- related artists, for the 1,000 artists with the most listeners: the share of their top-10
  lists' entries that have 1 or 2 listeners (what a fan sees as noise: "The Best Of-6",
  one listener), the median listeners of an entry, and a held-out hit rate: for each
  listener who played artist a in training, the share of a's 10 related artists (floor
  applied) found among that listener's held-out artists, averaged over (listener, a) pairs.
  Related lists that say "people who like a also like b" score high; it is not a measure of
  musical kinship, which the report's Beatles check looks at by eye, never tuned to.

The recommendation default is the best NDCG@10 at the chosen floor; the related default the
best held-out hit rate among models whose related lists mean something (capabilities.related;
popularity's are one list for everyone).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lastfm-hetrec2011-2k"
#: Artists whose related lists are measured: the most listened.
RELATED_QUERIES = 1000


def parse_extra(text: str) -> tuple[str, str, dict[str, Any]]:
    """'bm25:bm25_k1=1.2,bm25_b=0.75' -> (label, model name, overrides)."""
    from tui_recs.models.registry import model_class

    name, _, assignments = text.partition(":")
    declared = {param.name: param for param in model_class(name).PARAMS}
    overrides = {}
    for assignment in filter(None, assignments.split(",")):
        key, _, value = assignment.partition("=")
        overrides[key] = declared[key].parse(value)
    return f"{name} {assignments}", name, overrides


def floored(model, passes):
    """``model`` answering only with artists where ``passes`` (items,) is True."""
    import numpy as np

    from tui_recs.models.base import Recommender

    class Floored(Recommender):
        name, title = model.name, model.title

        def fit(self, user_items, callback=None):
            return self

        def score_batch(self, users, user_items):
            scores = model.score_batch(users, user_items)
            scores[:, ~passes] = -np.inf
            return scores

        def similar_items_batch(self, items, n=10):
            return model.similar_items_batch(items, n)

        def to_arrays(self):
            return {}

        def _set_arrays(self, arrays):
            pass

    return Floored()


def related_measures(model, split, listeners, floor: int) -> tuple[float, float, float]:
    """(share of entries with 1-2 listeners, median listeners of an entry, held-out hit
    rate) of the top-10 related lists of the RELATED_QUERIES most-listened artists."""
    import numpy as np

    queries = np.argsort(-listeners, kind="stable")[:RELATED_QUERIES]
    passes = listeners >= floor
    lists = []
    for item in queries.tolist():
        ids, _ = model.similar_items(item, 10 if floor <= 0 else 400)
        lists.append(ids[passes[ids]][:10])
    entries = np.concatenate(lists)
    train_by_item = split.train.T.tocsr()
    test = split.test.tocsr()
    hits, pairs = 0.0, 0
    for item, related in zip(queries.tolist(), lists):
        users = train_by_item.indices[train_by_item.indptr[item]:train_by_item.indptr[item + 1]]
        related_set = set(related.tolist())
        for user in users.tolist():
            held_out = test.indices[test.indptr[user]:test.indptr[user + 1]]
            if len(held_out):
                hits += len(related_set.intersection(held_out.tolist())) / 10
                pairs += 1
    return (float(np.mean(listeners[entries] <= 2)), float(np.median(listeners[entries])),
            hits / max(pairs, 1))


def main() -> None:
    import numpy as np

    from tui_recs.data import demo, load
    from tui_recs.evaluation import evaluate, holdout_split
    from tui_recs.models import registry
    from tui_recs.models.weighting import artist_listeners

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--models", default=",".join(registry.names()))
    parser.add_argument("--floors", default="0,2,5,10")
    parser.add_argument("--extra", action="append", default=[],
                        help="another setting, 'model:param=value,...' (repeatable)")
    args = parser.parse_args()
    started = time.perf_counter()
    dataset = demo() if str(args.data) == "demo" else load(args.data)
    split = holdout_split(dataset.user_items, test_fraction=0.2, seed=0)
    listeners = artist_listeners(split.train)
    floors = [int(floor) for floor in args.floors.split(",")]
    settings = [(name, name, {}) for name in args.models.split(",")]
    settings += [parse_extra(text) for text in args.extra]
    recommend_rows, related_rows = [], []
    for label, name, overrides in settings:
        model = registry.create(name, **overrides).fit(split.train)
        for floor in floors:
            row = evaluate(floored(model, listeners >= floor), split, k=10, fit=False)
            recommend_rows.append((label, floor, row["precision"], row["ndcg"]))
            if model.capabilities.related:
                related_rows.append((label, floor, *related_measures(model, split, listeners,
                                                                     floor)))
            print(f"{label} floor {floor}: ndcg {row['ndcg']:.4f}", flush=True)
    print(f"\n`python benchmarks/choose_defaults.py --data {args.data}`"
          + "".join(f" --extra '{text}'" for text in args.extra)
          + f" ({time.perf_counter() - started:.0f} s)\n")
    print("Recommendations (80/20 holdout, seed 0), artists under the floor left out:\n")
    print("| model | floor | P@10 | NDCG@10 |\n|---|---|---|---|")
    for label, floor, precision, ndcg in sorted(recommend_rows, key=lambda r: (r[1], -r[3])):
        print(f"| {label} | {floor} | {precision:.4f} | {ndcg:.4f} |")
    print(f"\nRelated artists of the {RELATED_QUERIES:,} most-listened artists (top 10):\n")
    print("| model | floor | entries with 1-2 listeners | median listeners | held-out hit@10 |"
          "\n|---|---|---|---|---|")
    for label, floor, obscure, median, hit in sorted(related_rows, key=lambda r: (r[1], -r[4])):
        print(f"| {label} | {floor} | {obscure:.1%} | {median:.0f} | {hit:.4f} |")
    share = np.mean(listeners <= 2)
    print(f"\nArtists with 1-2 listeners in the training data: {share:.1%} of "
          f"{len(listeners):,}.")


if __name__ == "__main__":
    main()
