"""The local weighting (:mod:`tui_recs.models.weighting`) as Spark DataFrame operations.

Same formulas, same orientation (each artist a document, its listeners the terms), computed in
float64 from the float32 plays, as the local code does:

    bm25:  w_ui = p_ui (k1 + 1) / (k1 ((1 - b) + b len_i / mean_len) + p_ui) · idf_u
    tfidf: w_ui = sqrt(p_ui) · idf_u
    idf_u = log(n_items) - log1p(artists listener u played); len_i = artist i's total plays,
    mean_len = the total plays / n_items (artists without plays count, as locally).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui_recs.errors import ModelError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: What MLlib reads as "played, but no extra confidence". The local ALS clips negative weights
#: (BM25's idf is negative for a listener of more than about every other artist) to 0 and keeps
#: the pair's preference 1 at confidence 1; MLlib gives a rating <= 0 preference 0, so the clip
#: is to this float32-normal value instead: preference 1, confidence 1 + alpha·1e-30 = 1.
PLAYED_WITHOUT_WEIGHT = 1e-30
#: How the per-listener and per-artist statistics are joined to the plays (see weighted()).
JOIN = "shuffle_hash"


def weighted(plays: "DataFrame", n_items: int, scheme: str = "bm25", k1: float = 100.0,
             b: float = 0.8) -> "DataFrame":
    """``plays`` (user int, item int, plays float) with a ``weight`` double column added.

    ``n_items``: the catalogue's size (artists without plays included), as in the local
    code's matrix width.
    """
    from pyspark.sql import functions as F  # noqa: N812  (pyspark only in tui_recs.spark)

    played = F.col("plays").cast("float").cast("double")
    if scheme == "none":
        return plays.withColumn("weight", played)
    if scheme not in ("bm25", "tfidf"):
        raise ModelError(f"unknown weighting {scheme!r}: use one of bm25, tfidf, none")
    artists_per_listener = plays.groupBy("user").agg(F.count(F.lit(1)).alias("artists"))
    idf = F.log(F.lit(float(n_items))) - F.log1p(F.col("artists").cast("double"))
    # Shuffle joins, never broadcast ones: MLlib's ALS keeps the broadcast tables of its
    # input's plan alive, and every fit of a session added hundreds of MiB to the JVM heap
    # until it ran out.
    with_idf = plays.join(artists_per_listener.hint(JOIN), "user").withColumn("idf", idf)
    if scheme == "tfidf":
        return with_idf.select("user", "item", "plays",
                               (F.sqrt(played) * F.col("idf")).alias("weight"))
    if k1 < 0 or not 0 <= b <= 1:
        raise ModelError(f"BM25 needs K1 >= 0 and 0 <= B <= 1 (got K1={k1}, B={b})")
    lengths = plays.groupBy("item").agg(F.sum(played).alias("length"))
    total = lengths.agg(F.sum("length")).first()[0] or 0.0
    mean_length = total / n_items if n_items else 1.0
    norm = (1.0 - b) + b * F.col("length") / F.lit(mean_length)
    weight = played * (k1 + 1.0) / (F.lit(k1) * norm + played) * F.col("idf")
    return with_idf.join(lengths.hint(JOIN), "item").select("user", "item", "plays", weight.alias("weight"))


def als_ratings(weights: "DataFrame") -> "DataFrame":
    """(user, item, rating float) for MLlib's implicit ALS: the weights, negative ones clipped
    to :data:`PLAYED_WITHOUT_WEIGHT` (see there)."""
    from pyspark.sql import functions as F  # noqa: N812

    rating = F.greatest(F.col("weight"), F.lit(PLAYED_WITHOUT_WEIGHT)).cast("float")
    return weights.select("user", "item", rating.alias("rating"))
