"""The verify-and-retry loop of one teacher over one shard of queries.

Every query is sent to the teacher, every response is verified as it completes, and a query whose
response fails is sent again at once with its next attempt's seed, until it passes or
``max_attempts`` is spent (:mod:`distillery.generation.scheduler` keeps the engine full meanwhile).
Every attempt is kept (the analysis counts rejected attempts too). Generations go through the
content-addressed cache, flushed by count and by time, so a rerun after a crash, a re-sharding or a
new verify threshold regenerates nothing it already has.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from distillery.core.canonical import attempt_seed
from distillery.core.schema import ATTEMPT
from distillery.generation.backend import GenerationRequest
from distillery.generation.cache import GenerationCache
from distillery.generation.scheduler import Feeding, Verification, stream_attempts
from distillery.generation.streaming import EngineStream
from distillery.verify.parse import split_response
from distillery.verify.result import VerifyResult


@dataclass(frozen=True)
class TeacherSettings:
    name: str
    max_new_tokens: int
    temperature: float
    top_p: float
    max_attempts: int
    seed: int = 0
    stop: tuple[str, ...] = field(default_factory=tuple)


def distill(
    queries: list[dict],
    teacher: TeacherSettings,
    open_stream: Callable[[], EngineStream],
    cache: GenerationCache,
    verifier,
    conversation: Callable[[dict], list[dict]],
    feeding: Feeding | None = None,
    progress: Callable | None = None,
    threaded: bool = True,
) -> tuple[pa.Table, dict]:
    """All attempts of ``teacher`` on ``queries`` (accepted ones marked) and the shard's report.

    ``verifier`` has ``score(queries, responses) -> [VerifyResult]``; ``conversation`` turns a query
    into the messages sent to the teacher (system prompt, few-shot turns, the query's turns);
    ``open_stream`` opens the teacher's engine (called only when the cache lacks a generation).
    """
    started = time.perf_counter()
    counts = Counter()
    messages = [conversation(q) for q in queries]

    def request_for(i: int, attempt: int) -> GenerationRequest:
        seed = attempt_seed(teacher.seed, queries[i]["qid"], attempt)
        return GenerationRequest(
            messages[i], teacher.max_new_tokens, teacher.temperature, teacher.top_p, seed, teacher.stop
        )

    def verify(items: list[int], results: list) -> list:
        """Refused requests (a prompt over the engine's context) are unscorable with the engine's reason: never
        retried, since every attempt of the query would be refused the same way."""
        verdicts = {j: VerifyResult.unscorable("engine", r.error) for j, r in enumerate(results) if r.error}
        scored = [j for j in range(len(results)) if j not in verdicts]
        if scored:
            found = verifier.score([queries[items[j]] for j in scored], [results[j].text for j in scored])
            verdicts.update(zip(scored, found, strict=True))
        return [verdicts[j] for j in range(len(results))]

    attempts = stream_attempts(
        len(queries),
        teacher.max_attempts,
        request_for,
        open_stream,
        cache,
        feeding or Feeding(),
        Verification(verify, threaded),
        retry=lambda verdict: verdict.scorable and not verdict.passed,
        counts=counts,
        progress=progress,
    )
    rows = []
    for a in attempts:
        query, result, verdict = queries[a.item], a.result, a.verdict
        parsed = split_response(result.text)
        rows.append(
            {
                "qid": query["qid"],
                "teacher": teacher.name,
                "category": query["category"],
                "attempt": a.attempt,
                "seed": request_for(a.item, a.attempt).seed,
                "key": a.key,
                "response": result.text,
                "think": parsed.think,
                "answer": parsed.answer,
                "finish_reason": result.finish_reason,
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "latency_s": result.latency_s,
                "cached": a.cached,
                "score": verdict.score,
                "scorable": verdict.scorable,
                "verifier": verdict.verifier,
                "detail": verdict.detail,
                "accepted": verdict.passed,
            }
        )
    table = pa.Table.from_pylist(rows, schema=ATTEMPT)
    return table, shard_report(table, len(queries), counts, time.perf_counter() - started)


def shard_report(attempts: pa.Table, n_queries: int, counts: Counter, wall_s: float) -> dict:
    rows = attempts.to_pylist()
    by_category: dict[str, dict] = defaultdict(lambda: {"queries": 0, "accepted": 0, "unscorable": 0})
    final = {}
    for row in rows:  # the last attempt of a query says how it ended
        final[row["qid"]] = row
    for row in final.values():
        c = by_category[row["category"]]
        c["queries"] += 1
        c["accepted"] += row["accepted"]
        c["unscorable"] += not row["scorable"]
    for c in by_category.values():
        c["acceptance"] = round(c["accepted"] / c["queries"], 4) if c["queries"] else None
    accepted_at = Counter(r["attempt"] + 1 for r in rows if r["accepted"])
    tokens_accepted = sum(r["completion_tokens"] for r in rows if r["accepted"])
    tokens_all = sum(r["completion_tokens"] for r in rows)
    return {
        "queries": n_queries,
        "attempts": len(rows),
        "generated": counts["generated"],
        "cache_hits": counts["cache_hits"],
        "rejected_by_engine": counts["rejected"],
        "accepted": sum(c["accepted"] for c in by_category.values()),
        "accepted_at_attempt": dict(sorted(accepted_at.items())),
        "by_category": dict(sorted(by_category.items())),
        "tokens_generated": {"accepted": tokens_accepted, "rejected": tokens_all - tokens_accepted},
        "wall_s": round(wall_s, 3),
    }


def summarize_reports(reports: list[dict]) -> dict:
    """One teacher's shard reports added up."""
    total = Counter()
    accepted_at, agreement = Counter(), Counter()
    categories: dict[str, Counter] = defaultdict(Counter)
    for r in reports:
        total.update({k: r[k] for k in ("queries", "attempts", "generated", "cache_hits", "accepted")})
        total["rejected_by_engine"] += r.get("rejected_by_engine", 0)
        total.update({f"tokens_{k}": v for k, v in r["tokens_generated"].items()})
        total["wall_s"] += r["wall_s"]
        accepted_at.update({int(k): v for k, v in r["accepted_at_attempt"].items()})
        for category, c in r["by_category"].items():
            categories[category].update({k: c[k] for k in ("queries", "accepted", "unscorable")})
        agreement.update(r.get("release_agreement", {}))
    by_category = {
        c: {**dict(v), "acceptance": round(v["accepted"] / v["queries"], 4) if v["queries"] else None}
        for c, v in sorted(categories.items())
    }
    return {
        **dict(total),
        "shards": len(reports),
        "accepted_at_attempt": dict(sorted(accepted_at.items())),
        "by_category": by_category,
        "acceptance": round(total["accepted"] / total["queries"], 4) if total["queries"] else None,
        **({"release_agreement": dict(agreement)} if agreement else {}),
    }
