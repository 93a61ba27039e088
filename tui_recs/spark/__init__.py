"""Training on Apache Spark (MLlib's implicit ALS) and writing the result as a model bundle.

The only package that imports pyspark (an import-linter contract), and only when Spark is
asked for: pyspark is the optional ``spark`` extra, needs Java 17+, and costs ~1 s to import.

- :mod:`.context`: a quiet SparkSession (log4j to a file in the cache), Java checked first.
- :mod:`.read`: the listening data read by Spark itself, under the local loaders' rules.
- :mod:`.weighting`: BM25 / TF-IDF as DataFrame operations (the local weighting's formulas).
- :mod:`.als`: MLlib ALS with the project's hyperparameters, progress and cancel.
- :mod:`.bundle`: the bundle's tables and manifest (docs/bundle.md), written by Spark.
- :mod:`.engine`: the "spark" engine of :mod:`tui_recs.models.engine`.
- :mod:`.job`: ``tui-recs train --engine spark``: read, train, write the bundle.
"""
