"""Arrow schemas of the query artifacts: one normalised shape for every source and category."""

from __future__ import annotations

import pyarrow as pa

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
TEST_CASE = pa.struct([("input", pa.string()), ("output", pa.string()), ("testtype", pa.string())])

# Test-type names used by LiveCodeBench, TACO/APPS dumps and open-r1's verifiable problems.
TESTTYPE_ALIASES = {
    "functional": "functional",
    "function_call": "functional",
    "call": "functional",
    "stdin": "stdin",
    "stdin_stdout": "stdin",
    "standard_io": "stdin",
}

# One struct for every category; a field a category does not use is null.
REFERENCE = pa.struct(
    [
        ("answer", pa.string()),  # math/science/general: final answer; science MCQ: the letter
        ("options", pa.list_(pa.string())),  # MCQ choices, in letter order
        ("tests", pa.list_(TEST_CASE)),  # code: functional (one JSON arg per line) or stdin
        ("fn_name", pa.string()),  # code, call-based tests
        ("instruction_id_list", pa.list_(pa.string())),  # IFEval
        ("kwargs", pa.string()),  # IFEval: JSON list, one object per instruction
        ("solution", pa.string()),  # code: a reference program; tests it fails exactly need a special judge
    ]
)

QUERY = pa.schema(
    [
        ("qid", pa.string()),
        ("source", pa.string()),
        ("category", pa.string()),
        ("messages", pa.list_(MESSAGE)),
        ("reference", REFERENCE),
        ("meta", pa.string()),  # JSON: source id, row number, extra source columns
    ]
)

# Rows that never became queries: what was read, where, and why it was refused.
INGEST_REJECT = pa.schema(
    [
        ("source", pa.string()),
        ("row", pa.int64()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("record", pa.string()),  # the raw row, as JSON or as the undecodable line
    ]
)

# Queries removed by a later stage keep every query column, plus why.
QUERY_REJECT = pa.schema(list(QUERY) + [pa.field("reason", pa.string()), pa.field("detail", pa.string())])

DECONTAMINATION_REJECT = pa.schema(
    list(QUERY_REJECT)
    + [
        pa.field("benchmark", pa.string()),
        pa.field("benchmark_item", pa.string()),
        pa.field("similarity", pa.float32()),
    ]
)

BENCHMARK_ITEM = pa.schema([("benchmark", pa.string()), ("item_id", pa.string()), ("text", pa.string())])


def embedding_schema(key_fields: list[pa.Field], dim: int) -> pa.Schema:
    return pa.schema(key_fields + [pa.field("embedding", pa.list_(pa.float16(), dim))])


def reject_rows(
    queries: pa.Table, reason: list[str], detail: list[str], schema: pa.Schema = QUERY_REJECT, **extra: list
) -> pa.Table:
    """Query rows turned into reject rows with their reasons (and stage-specific columns)."""
    columns = {name: queries.column(name) for name in QUERY.names}
    columns.update(reason=reason, detail=detail, **extra)
    return pa.table(columns, schema=schema)


def as_queries(table: pa.Table) -> pa.Table:
    """The query columns of ``table`` in the canonical order and types (extra columns dropped)."""
    return table.select(QUERY.names).cast(QUERY)


# Every attempt of a teacher at a query (results/distill/{teacher}/{shard}.parquet).
ATTEMPT = pa.schema(
    [
        ("qid", pa.string()),
        ("teacher", pa.string()),
        ("category", pa.string()),
        ("attempt", pa.int32()),
        ("seed", pa.int64()),
        ("key", pa.string()),
        ("response", pa.string()),
        ("think", pa.string()),
        ("answer", pa.string()),
        ("finish_reason", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("latency_s", pa.float64()),
        ("cached", pa.bool_()),
        ("score", pa.float64()),
        ("scorable", pa.bool_()),
        ("verifier", pa.string()),
        ("detail", pa.string()),
        ("accepted", pa.bool_()),
    ]
)

# A teacher's corpus: one row per query it answered acceptably (the accepted attempt, after quality
# assurance), with the query it answers. ``attempt`` is 0-based as in the distillation attempts;
# ``prompt_tokens``/``completion_tokens`` are the teacher's own counts; ``ppl`` is null when not scored.
CORPUS = pa.schema(
    list(QUERY)
    + [
        pa.field("teacher", pa.string()),
        pa.field("attempt", pa.int32()),
        pa.field("response", pa.string()),
        pa.field("think", pa.string()),
        pa.field("answer", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("verifier", pa.string()),
        pa.field("prompt_tokens", pa.int64()),
        pa.field("completion_tokens", pa.int64()),
        pa.field("ppl", pa.float64()),
    ]
)
CORPUS_REJECT = pa.schema(list(CORPUS) + [pa.field("reason", pa.string()), pa.field("detail", pa.string())])

# Perplexity of a teacher's accepted responses under the analysis LM (``scored_tokens``: response tokens
# that entered the mean; 0 and a null ppl for an empty response).
PERPLEXITY = pa.schema(
    [
        ("qid", pa.string()),
        ("attempt", pa.int32()),
        ("ppl", pa.float64()),
        ("scored_tokens", pa.int64()),
    ]
)

# One row per (teacher, query of the shards): how distillation ended for it and, when a response was
# accepted, its token counts under the student's tokenizer. Figures and tables are drawn from these.
SAMPLE_STATUSES = ("kept", "qa_rejected", "not_accepted", "unscorable", "not_distilled")
SAMPLE_STATS = pa.schema(
    [
        ("teacher", pa.string()),
        ("qid", pa.string()),
        ("source", pa.string()),
        ("category", pa.string()),
        ("status", pa.string()),  # one of SAMPLE_STATUSES
        ("qa_reason", pa.string()),  # first failed QA check of a qa_rejected sample
        ("in_parallel", pa.bool_()),  # in the parallel corpora (accepted for every teacher)
        ("attempts", pa.int32()),  # attempts made (0: not distilled)
        ("accepted_attempt", pa.int32()),  # 1-based attempt that passed verification; null if none
        ("response_tokens", pa.int64()),  # student tokenizer, accepted response; null if none
        ("think_tokens", pa.int64()),
        ("answer_tokens", pa.int64()),
        ("prompt_tokens", pa.int64()),  # the query's turns, student tokenizer
        ("generated_tokens", pa.int64()),  # teacher's own counts, every attempt
        ("accepted_generated_tokens", pa.int64()),  # teacher's own count of the accepted attempt
        ("ppl", pa.float64()),
    ]
)

# A release's index (rule release_index): where each query's record is, and the release's own verdict.
RELEASE_INDEX = pa.schema(
    [
        ("qid", pa.string()),
        ("file", pa.int32()),
        ("line", pa.int64()),
        ("offset", pa.int64()),
        ("length", pa.int64()),
        ("response_digest", pa.string()),
        ("verify_score", pa.float64()),  # the release's own verdict, to compare ours with
    ]
)
# The release records not indexed: malformed, or a duplicate or conflicting response for a query.
RELEASE_REJECT = pa.schema(
    [
        ("file", pa.string()),
        ("line", pa.int64()),
        ("qid", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("kept_file", pa.string()),
        ("kept_line", pa.int64()),
    ]
)
