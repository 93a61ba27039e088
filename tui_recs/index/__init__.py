"""Nearest-neighbour search over factors: the backends (:mod:`.annoy_backend`, the k-means
:mod:`.cells`), their recall tuning (:mod:`.tuning`), and the policy that picks among them and
exact search (:mod:`.policy`). Dependencies run one way: tuning <- backends <- policy."""

from tui_recs.index.annoy_backend import FactorIndex, IndexStats
from tui_recs.index.cells import CellIndex, CellStats
from tui_recs.index.policy import (INDEX_FORMAT_VERSION, MIN_ITEMS_FOR_INDEX, RecommendMode,
                                   SimilarIndex, build_similar_index, choose_recommend_mode,
                                   load_similar_index, save_similar_index)
from tui_recs.index.tuning import (RECALL_AT, TARGET_RECALL, TUNING_MARGIN, IndexProgress,
                                   exact_search)

__all__ = ["CellIndex", "CellStats", "FactorIndex", "INDEX_FORMAT_VERSION", "IndexProgress",
           "IndexStats", "MIN_ITEMS_FOR_INDEX", "RECALL_AT", "RecommendMode", "SimilarIndex",
           "TARGET_RECALL", "TUNING_MARGIN", "build_similar_index", "choose_recommend_mode",
           "exact_search", "load_similar_index", "save_similar_index"]
