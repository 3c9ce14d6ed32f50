"""Per-sample statistics of one teacher: the artifact every figure and table is drawn from.

One row per query of the shards: how its distillation ended (kept in the corpus, removed by QA, never
accepted, unscorable, not distilled because its shard is missing or empty), the attempts it took, the
tokens the teacher generated for it (the teacher's own counts, every attempt: the cost), and for an
accepted response its token counts under the *student's* tokenizer (response, think, answer, prompt:
comparable across teachers) and its perplexity. Token counting is the costly part; it happens once
here, so a figure redraws in a second.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from distillery.analysis.token_counts import CHUNK, count_tokens, count_tokens_with_spans
from distillery.core.schema import CORPUS, CORPUS_REJECT, SAMPLE_STATS
from distillery.corpora.teacher_corpus import first_accepted


def turns_text(messages: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Each conversation's turn texts joined by blank lines (vectorised: no Python per row)."""
    messages = messages.combine_chunks() if isinstance(messages, pa.ChunkedArray) else messages
    contents = pc.struct_field(messages.flatten(), "content")
    return pc.binary_join(pa.ListArray.from_arrays(messages.offsets, contents), "\n\n")


def segment_spans(responses: list[str | None], thinks: list[str | None], answers: list[str | None]):
    """Character spans of the think and answer segments inside each response (None where the
    response has no such segment); the segments are the stripped texts the distillation parsed."""
    think_spans, answer_spans = [], []
    for response, think, answer in zip(responses, thinks, answers, strict=True):
        end = 0
        for segment, spans in ((think, think_spans), (answer, answer_spans)):
            at = -1 if response is None or segment is None else response.find(segment, end)
            spans.append(None if at < 0 else (at, at + len(segment)))
            end = end if at < 0 else at + len(segment)
    return think_spans, answer_spans


def token_counts(rows: pa.Table, tokenizer, chunk: int = CHUNK) -> dict[str, pa.Array]:
    """Student tokens of each row's response, think and answer segments and prompt, a chunk of rows at
    a time (only one chunk's texts exist as Python strings at once)."""
    parts: dict[str, list[pa.Array]] = {f"{k}_tokens": [] for k in ("response", "think", "answer", "prompt")}
    for start in range(0, rows.num_rows, chunk):
        batch = rows.slice(start, chunk)
        responses = batch["response"].to_pylist()
        spans = segment_spans(responses, batch["think"].to_pylist(), batch["answer"].to_pylist())
        total, (think, answer) = count_tokens_with_spans(tokenizer, responses, list(spans), chunk)
        prompt = count_tokens(tokenizer, turns_text(batch["messages"]).to_pylist(), chunk)
        for key, array in zip(parts, (total, think, answer, prompt), strict=True):
            parts[key].append(array)
    return {k: pa.concat_arrays(v) if v else pa.array([], pa.int64()) for k, v in parts.items()}


def sample_stats(
    teacher: str,
    queries: pa.Table,
    attempts: pa.Table,
    corpus: pa.Table,
    rejects: pa.Table,
    parallel: set[str] | pa.Array,
    tokenizer,
) -> pa.Table:
    """SAMPLE_STATS rows for every query of ``queries`` (the shards the teacher was given)."""
    frame = queries.select(["qid", "source", "category"]).to_pandas().set_index("qid")
    tries = attempts.select(["qid", "attempt", "scorable", "completion_tokens"]).to_pandas()
    tries = (
        tries.sort_values(["qid", "attempt"])
        .groupby("qid")
        .agg(
            attempts=("attempt", "size"),
            generated_tokens=("completion_tokens", "sum"),
            last_scorable=("scorable", "last"),
        )
    )
    accepted = first_accepted(attempts).select(["qid", "attempt", "completion_tokens"]).to_pandas().set_index("qid")
    frame = frame.join(tries).join(
        accepted.rename(columns={"attempt": "accepted_attempt", "completion_tokens": "accepted_generated_tokens"})
    )

    # Accepted responses: kept ones and those QA removed, tokenised together.
    done = pa.concat_tables(
        [
            corpus.cast(CORPUS).append_column("reason", pa.nulls(corpus.num_rows, pa.string())),
            rejects.cast(CORPUS_REJECT).drop_columns(["detail"]),
        ]
    )
    counts = {"qid": done["qid"], "qa_reason": done["reason"], "ppl": done["ppl"], "kept": pc.is_null(done["reason"])}
    counts.update(token_counts(done, tokenizer))
    frame = frame.join(pa.table(counts).to_pandas().set_index("qid"))

    in_parallel = set(parallel.to_pylist() if isinstance(parallel, pa.Array) else parallel)
    distilled = frame["attempts"].notna()
    status = pd.Series("not_accepted", index=frame.index, dtype=object)
    status[distilled & ~frame["last_scorable"].fillna(True).astype(bool)] = "unscorable"
    status[frame["kept"].eq(True)] = "kept"
    status[frame["kept"].eq(False)] = "qa_rejected"
    status[~distilled] = "not_distilled"
    frame = frame.assign(
        teacher=teacher,
        status=status,
        in_parallel=frame.index.isin(in_parallel),
        attempts=frame["attempts"].fillna(0),
        generated_tokens=frame["generated_tokens"].fillna(0),
        accepted_attempt=frame["accepted_attempt"] + 1,
    )
    frame = frame.reset_index().sort_values("qid")
    return pa.Table.from_pandas(frame[SAMPLE_STATS.names], schema=SAMPLE_STATS, preserve_index=False)
