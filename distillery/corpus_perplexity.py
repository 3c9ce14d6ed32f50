"""Perplexity of a teacher's accepted responses under the analysis LM (the paper: a 32B model; the
embedded default: the local Gemma 3 270M), for the QA threshold and Fig. 5.

Each response is scored given the query's own turns (not the teacher's system prompt or few-shot
turns, which differ between teachers), rendered with the LM's chat template when it has one. Batches
are length-bucketed under a token budget: short responses go many to a batch, long ones few, so a
long tail neither pads every batch nor overflows memory. Its own artifact, so that changing a
threshold re-filters without re-scoring.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pyarrow as pa
from jinja2.exceptions import TemplateError

from distillery.schema import PERPLEXITY
from distillery.verify.perplexity import encode_pairs, response_perplexities


def prompt_text(tokenizer, messages: list[dict]) -> str:
    """The query's turns as the LM expects a conversation (its template without the BOS text, which
    tokenizing adds), or plain ``role: text`` paragraphs for a model without a template."""
    turns = [{"role": m["role"], "content": m["content"]} for m in messages]
    if getattr(tokenizer, "chat_template", None):
        try:
            text = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
            bos = tokenizer.bos_token
            return text[len(bos):] if bos and text.startswith(bos) else text
        except TemplateError:  # e.g. a template that insists on alternating roles
            pass
    return "".join(f"{m['role']}: {m['content']}\n\n" for m in turns) + "assistant: "


def buckets(lengths: list[int], batch_size: int, batch_tokens: int) -> list[list[int]]:
    """Indices grouped by length: at most ``batch_size`` per group and, padded to the longest, at most
    ``batch_tokens`` tokens (a single longer sequence still gets a group of its own)."""
    groups: list[list[int]] = []
    current: list[int] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if current and (len(current) >= batch_size or (len(current) + 1) * lengths[i] > batch_tokens):
            groups.append(current)
            current = []
        current.append(i)
    if current:
        groups.append(current)
    return groups


def score_responses(model, tokenizer, prompts: list[str], responses: list[str], batch_size: int, batch_tokens: int,
                    max_tokens: int, progress: Callable | None = None) -> tuple[list[float | None], list[int]]:
    """(perplexity or None when nothing was scored, response tokens scored) per response."""
    encoded = encode_pairs(tokenizer, prompts, responses, max_tokens)
    groups = buckets([len(ids) for ids, _ in encoded], batch_size, batch_tokens)
    if progress is not None:
        groups = progress(groups, total=len(groups), unit="batch")
    ppl: list[float | None] = [None] * len(prompts)
    for group in groups:
        values = response_perplexities(model, tokenizer, [prompts[i] for i in group], [responses[i] for i in group],
                                       batch_size=len(group), max_tokens=max_tokens)
        for i, value in zip(group, values):
            ppl[i] = None if math.isnan(value) else value
    return ppl, [n for _, n in encoded]


def load_model(name: str, dtype: str, device: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from distillery.models import checkpoint_dtype, resolve_device, resolve_model

    path = resolve_model(name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=checkpoint_dtype(dtype))
    return model.to(resolve_device(device)).eval(), tokenizer


def perplexity_table(accepted: pa.Table, queries: pa.Table, model, tokenizer, settings: dict,
                     progress: Callable | None = None) -> pa.Table:
    """PERPLEXITY rows for accepted attempts (``qid``, ``attempt``, ``response``) of the given queries."""
    messages = dict(zip(queries["qid"].to_pylist(), queries["messages"].to_pylist()))
    qids = accepted["qid"].to_pylist()
    prompts = [prompt_text(tokenizer, messages[q]) for q in qids]
    ppl, scored = score_responses(model, tokenizer, prompts, [r or "" for r in accepted["response"].to_pylist()],
                                  settings["batch_size"], settings["batch_tokens"], settings["max_tokens"], progress)
    return pa.table({"qid": qids, "attempt": accepted["attempt"], "ppl": ppl, "scored_tokens": scored},
                    schema=PERPLEXITY)
