"""Perplexity of a teacher's accepted responses under the analysis LM (the paper: a 32B model; the
embedded default: the local Gemma 3 270M), for the QA threshold and Fig. 5.

Each response is scored given the query's own turns (not the teacher's system prompt or few-shot
turns, which differ between teachers), rendered with the LM's chat template when it has one. Batches
are length-bucketed under a token budget: short responses go many to a batch, long ones few, so a
long tail neither pads every batch nor overflows memory. Its own artifact, so that changing a
threshold re-filters without re-scoring.

Only the response tokens are scored: sequences are left-padded so that every response ends at the last
position, and the model computes logits for the last positions only (``logits_to_keep``), so a long
prompt never builds a (tokens x vocabulary) tensor for nothing (262k vocabulary for Gemma 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pyarrow as pa
import torch
from jinja2.exceptions import TemplateError

from distillery.core.schema import PERPLEXITY


def encode_pairs(
    tokenizer, prompts: Sequence[str], responses: Sequence[str], max_tokens: int
) -> list[tuple[list[int], int]]:
    """(token ids of prompt + response, number of response tokens scored), truncated from the left."""
    encoded = []
    for prompt, response in zip(prompts, responses, strict=True):
        p = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        r = tokenizer(response, add_special_tokens=False)["input_ids"]
        ids = (p + r)[-max_tokens:]
        encoded.append((ids, min(len(r), len(ids) - 1)))
    return encoded


@torch.inference_mode()
def response_perplexities(
    model,
    tokenizer,
    prompts: Sequence[str],
    responses: Sequence[str],
    batch_size: int = 8,
    max_tokens: int = 4096,
    progress: Callable | None = None,
) -> list[float]:
    """exp(mean negative log-likelihood of each response's tokens given its prompt); NaN if empty."""
    device = next(model.parameters()).device
    encoded = encode_pairs(tokenizer, prompts, responses, max_tokens)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
    result = [math.nan] * len(encoded)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    starts = range(0, len(order), batch_size)
    if progress is not None:
        starts = progress(starts, total=len(starts), unit="batch")
    for start in starts:
        batch = [i for i in order[start : start + batch_size] if encoded[i][1] > 0]
        if not batch:
            continue
        width = max(len(encoded[i][0]) for i in batch)
        keep = max(encoded[i][1] for i in batch) + 1
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            seq = encoded[i][0]
            ids[row, width - len(seq) :] = torch.tensor(seq)
            mask[row, width - len(seq) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            logits_to_keep=keep,
        ).logits.float()  # (batch, keep, vocab): the last `keep` positions
        for row, i in enumerate(batch):
            seq, n = encoded[i]
            predicted = logits[row, keep - 1 - n : keep - 1]  # logits at the positions before each response token
            targets = torch.tensor(seq[len(seq) - n :], device=device)
            result[i] = math.exp(torch.nn.functional.cross_entropy(predicted, targets).item())
    return result


def prompt_text(tokenizer, messages: list[dict]) -> str:
    """The query's turns as the LM expects a conversation (its template without the BOS text, which
    tokenizing adds), or plain ``role: text`` paragraphs for a model without a template."""
    turns = [{"role": m["role"], "content": m["content"]} for m in messages]
    if getattr(tokenizer, "chat_template", None):
        try:
            text = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
            bos = tokenizer.bos_token
            return text[len(bos) :] if bos and text.startswith(bos) else text
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


def score_responses(
    model,
    tokenizer,
    prompts: list[str],
    responses: list[str],
    batch_size: int,
    batch_tokens: int,
    max_tokens: int,
    progress: Callable | None = None,
) -> tuple[list[float | None], list[int]]:
    """(perplexity or None when nothing was scored, response tokens scored) per response."""
    encoded = encode_pairs(tokenizer, prompts, responses, max_tokens)
    groups = buckets([len(ids) for ids, _ in encoded], batch_size, batch_tokens)
    if progress is not None:
        groups = progress(groups, total=len(groups), unit="batch")
    ppl: list[float | None] = [None] * len(prompts)
    for group in groups:
        values = response_perplexities(
            model,
            tokenizer,
            [prompts[i] for i in group],
            [responses[i] for i in group],
            batch_size=len(group),
            max_tokens=max_tokens,
        )
        for i, value in zip(group, values, strict=True):
            ppl[i] = None if math.isnan(value) else value
    return ppl, [n for _, n in encoded]


def load_model(name: str, dtype: str, device: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from distillery.core.model_resolution import model_dtype, resolve_device, resolve_model

    path, device = resolve_model(name), resolve_device(device)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=model_dtype(dtype, device))
    return model.to(device).eval(), tokenizer


def perplexity_table(
    accepted: pa.Table, queries: pa.Table, model, tokenizer, settings: dict, progress: Callable | None = None
) -> pa.Table:
    """PERPLEXITY rows for accepted attempts (``qid``, ``attempt``, ``response``) of the given queries."""
    messages = dict(zip(queries["qid"].to_pylist(), queries["messages"].to_pylist(), strict=True))
    qids = accepted["qid"].to_pylist()
    prompts = [prompt_text(tokenizer, messages[q]) for q in qids]
    ppl, scored = score_responses(
        model,
        tokenizer,
        prompts,
        [r or "" for r in accepted["response"].to_pylist()],
        settings["batch_size"],
        settings["batch_tokens"],
        settings["max_tokens"],
        progress,
    )
    return pa.table(
        {"qid": qids, "attempt": accepted["attempt"], "ppl": ppl, "scored_tokens": scored}, schema=PERPLEXITY
    )
