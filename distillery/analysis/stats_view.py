"""Reading the per-sample statistics, and which of them a figure or table describes, in what order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from distillery.core.schema import SAMPLE_STATS

CATEGORIES = ("math", "code", "science", "if", "chat", "general")  # the paper's, in its order


def categories(stats: pd.DataFrame) -> list[str]:
    """The paper's categories in its order, then any other category present."""
    return list(CATEGORIES) + sorted(set(stats["category"].dropna()) - set(CATEGORIES))


def analysed(stats: pd.DataFrame, corpus: str) -> pd.DataFrame:
    """The samples the paper's figures describe: kept in the corpus and, for ``parallel``, accepted
    for every teacher."""
    kept = stats[stats["status"] == "kept"]
    return kept[kept["in_parallel"]] if corpus == "parallel" else kept


def read_stats(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Every teacher's statistics in one frame (an empty one with the columns when there are none)."""
    tables = [pq.read_table(p).cast(SAMPLE_STATS) for p in paths]
    return (pa.concat_tables(tables) if tables else SAMPLE_STATS.empty_table()).to_pandas()
