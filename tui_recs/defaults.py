"""Query defaults chosen by measurement (docs/defaults.md), read by the session and both faces
before any data is loaded (so no numpy here)."""

#: Related artists and recommendations leave out artists with fewer listeners than this unless
#: told otherwise (``--min-listeners``, the app's ``f``): on hetrec, most artists have one or
#: two listeners and such names crowd the lists' tails (docs/defaults.md).
MIN_LISTENERS = 2
#: The values the app's ``f`` key cycles through (0 shows everything).
MIN_LISTENERS_STEPS = (0, 2, 5, 10, 20, 50)
