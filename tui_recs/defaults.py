"""Query defaults chosen by measurement (docs/defaults.md), read by the session and both faces
before any data is loaded (so no numpy here)."""

#: Related artists and recommendations leave out artists with fewer listeners than this unless
#: told otherwise (``--min-listeners``, the app's ``f``): on hetrec, 78% of artists have one or
#: two listeners and such names crowded the lists (18% of ALS's related entries at a floor of
#: 2); at 5 none are left, at a cost of 0.1% of ALS's NDCG@10, and the demo data, whose
#: artists all have more listeners, is untouched (docs/defaults.md).
MIN_LISTENERS = 5
#: The values the app's ``f`` key cycles through (0 shows everything).
MIN_LISTENERS_STEPS = (0, 2, 5, 10, 20, 50)
