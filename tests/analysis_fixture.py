"""A small, fully known distillation result for the corpora and analysis tests: queries, three
teachers' attempts with chosen lengths and outcomes, and the tiny random model that scores and
tokenises them (word-level: a response's token count is its number of whitespace-separated words)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from conftest import tiny_llama_config, tiny_tokenizer
from distillery.core.canonical import qid, shard_of
from distillery.core.schema import ATTEMPT, QUERY
from distillery.plan.paths import shard_names

NUM_SHARDS = 3


def queries() -> list[dict]:
    specs = [("math", f"what is {i} plus {i} in math question {i}", str(2 * i)) for i in range(5)]
    specs += [("code", f"write a function that adds {i} numbers case {i}", None) for i in range(3)]
    specs += [("if", f"write a poem of {i + 3} lines with no commas please {i}", None) for i in range(2)]
    specs += [("chat", "hello there how are you today", None)]
    rows = []
    for category, text, answer in specs:
        rows.append(_query(category, [{"role": "user", "content": text}], answer))
    rows.append(
        _query(
            "chat",
            [
                {"role": "user", "content": "tell me a joke please"},
                {"role": "assistant", "content": "why did the chicken cross"},
                {"role": "user", "content": "and another one please"},
            ],
            None,
        )
    )
    return rows


def _query(category: str, messages: list[dict], answer: str | None) -> dict:
    reference = {
        "answer": answer,
        "options": None,
        "tests": None,
        "fn_name": None,
        "instruction_id_list": None,
        "kwargs": None,
    }
    if category == "code":
        reference.update(tests=[{"input": "1", "output": "2", "testtype": "stdin"}])
    if category == "if":
        reference.update(instruction_id_list=["punctuation:no_comma"], kwargs="[{}]")
    return {
        "qid": qid(messages),
        "source": f"toy_{category}",
        "category": category,
        "messages": messages,
        "reference": reference,
        "meta": "{}",
    }


def response(think: int, answer: int) -> str:
    """``think`` + ``answer`` + 4 tag tokens, in the paper's format."""
    return f"<think> {' '.join(['t'] * think)} </think> <answer> {' '.join(['a'] * answer)} </answer>"


@dataclass
class Attempt:
    text: str
    accepted: bool
    scorable: bool = True
    tokens: int | None = None  # the teacher's own count; default: words


@dataclass
class Teacher:
    name: str
    attempts: dict[str, list[Attempt]] = field(default_factory=dict)  # qid -> attempts in order
    empty_shards: tuple[str, ...] = ()
    missing_shards: tuple[str, ...] = ()


def teachers(qs: list[dict]) -> list[Teacher]:
    """a: everything on every shard, but math 0 needs two attempts, code 0 is never accepted and
    if 0's accepted response has no think segment (QA removes it); c: shard 1 empty, shard 2 missing,
    and its chat queries unscorable."""
    a, c = (
        Teacher("a"),
        Teacher("c", empty_shards=(shard_names(NUM_SHARDS)[1],), missing_shards=(shard_names(NUM_SHARDS)[2],)),
    )
    by = {(q["category"], i): q for i, q in _numbered(qs)}
    for i, q in enumerate(qs):
        a.attempts[q["qid"]] = [Attempt(response(i + 1, 2), True)]
        if shard(q) == shard_names(NUM_SHARDS)[0]:
            c.attempts[q["qid"]] = (
                [Attempt("", False, scorable=False, tokens=0)]
                if q["category"] == "chat"
                else [Attempt(response(3, 3), True)]
            )
    special = {
        ("math", 0): [Attempt("wrong", False, tokens=10), Attempt(response(1, 2), True)],
        ("code", 0): [Attempt("bad", False, tokens=10) for _ in range(3)],
        ("if", 0): [Attempt("a plain answer with no tags", True)],
    }
    for key, attempts in special.items():
        if key in by:
            a.attempts[by[key]["qid"]] = attempts
    return [a, c]


def _numbered(qs):
    seen: dict[str, int] = {}
    for q in qs:
        n = seen.get(q["category"], 0)
        seen[q["category"]] = n + 1
        yield n, q


def shard(q: dict) -> str:
    return shard_names(NUM_SHARDS)[shard_of(q["qid"], NUM_SHARDS)]


def attempt_rows(teacher: Teacher, qs: list[dict]) -> list[dict]:
    from distillery.verify.parse import split_response

    rows = []
    for q in qs:
        for k, att in enumerate(teacher.attempts.get(q["qid"], [])):
            parsed = split_response(att.text)
            rows.append(
                {
                    "qid": q["qid"],
                    "teacher": teacher.name,
                    "category": q["category"],
                    "attempt": k,
                    "seed": k,
                    "key": f"{teacher.name}-{q['qid']}-{k}",
                    "response": att.text,
                    "think": parsed.think,
                    "answer": parsed.answer,
                    "finish_reason": "stop",
                    "prompt_tokens": 5,
                    "completion_tokens": len(att.text.split()) if att.tokens is None else att.tokens,
                    "latency_s": 0.0,
                    "cached": False,
                    "score": 1.0 if att.accepted else 0.0,
                    "scorable": att.scorable,
                    "verifier": f"{q['category']}_check",
                    "detail": "",
                    "accepted": att.accepted,
                }
            )
    return rows


def write_distillation(root: Path, qs: list[dict], ts: list[Teacher]) -> None:
    """The query shards and each teacher's attempt shards (and reports), as the earlier stages would."""
    for name in shard_names(NUM_SHARDS):
        mine = [q for q in qs if shard(q) == name]
        path = root / "results/queries/shards" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(mine, schema=QUERY), path)
    for t in ts:
        folder = root / "results/distill" / t.name
        folder.mkdir(parents=True, exist_ok=True)
        for name in shard_names(NUM_SHARDS):
            if name in t.missing_shards:
                continue
            rows = [] if name in t.empty_shards else attempt_rows(t, [q for q in qs if shard(q) == name])
            pq.write_table(pa.Table.from_pylist(rows, schema=ATTEMPT), folder / f"{name}.parquet")


def save_tiny_model(folder: Path) -> Path:
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    LlamaForCausalLM(tiny_llama_config()).save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder
