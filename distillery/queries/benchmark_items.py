"""Evaluation benchmarks as plain items (id, text): what decontamination compares queries against."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from distillery.core.schema import BENCHMARK_ITEM
from distillery.queries.sources import MISSING, SourceError, lookup, read_rows


def load_items(name: str, spec: dict, base_dir: str | Path = ".") -> pa.Table:
    """One benchmark's items; a row without the text or id field is an error naming the row."""
    rows = {"benchmark": [], "item_id": [], "text": []}
    seen: dict[str, int] = {}
    for raw in read_rows({"name": name, **spec}, base_dir):
        if raw.error is not None:
            raise SourceError(f"benchmark {name!r}: {raw.error}")
        text, item_id = lookup(raw.record, spec["text"]), lookup(raw.record, spec["id"])
        if not isinstance(text, str) or not text.strip() or item_id is None or item_id is MISSING:
            raise SourceError(
                f"benchmark {name!r} row {raw.row}: needs text field {spec['text']!r} and id field {spec['id']!r}"
            )
        if str(item_id) in seen:
            raise SourceError(f"benchmark {name!r} row {raw.row}: item id {item_id!r} repeats row {seen[str(item_id)]}")
        seen[str(item_id)] = raw.row
        rows["benchmark"].append(name)
        rows["item_id"].append(str(item_id))
        rows["text"].append(text)
    if not rows["text"]:
        raise SourceError(f"benchmark {name!r}: no items")
    return pa.table(rows, schema=BENCHMARK_ITEM)


def load_benchmarks(specs: dict[str, dict], base_dir: str | Path = ".") -> pa.Table:
    """The items of every benchmark in ``specs`` (name -> its config entry)."""
    return pa.concat_tables([load_items(name, spec, base_dir) for name, spec in specs.items()])
