"""Perplexity of responses under a causal LM, scoring only the response tokens.

Sequences are left-padded so that every response ends at the last position, and the model computes
logits for the last positions only (``logits_to_keep``): a long prompt never builds a (tokens x
vocabulary) tensor for nothing (262k vocabulary for Gemma 3). Batches are grouped by length.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch


def encode_pairs(tokenizer, prompts: Sequence[str], responses: Sequence[str], max_tokens: int) -> list[tuple[list[int], int]]:
    """(token ids of prompt + response, number of response tokens scored), truncated from the left."""
    encoded = []
    for prompt, response in zip(prompts, responses):
        p = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        r = tokenizer(response, add_special_tokens=False)["input_ids"]
        ids = (p + r)[-max_tokens:]
        encoded.append((ids, min(len(r), len(ids) - 1)))
    return encoded


@torch.inference_mode()
def response_perplexities(model, tokenizer, prompts: Sequence[str], responses: Sequence[str], batch_size: int = 8,
                          max_tokens: int = 4096, progress: Callable | None = None) -> list[float]:
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
        batch = [i for i in order[start:start + batch_size] if encoded[i][1] > 0]
        if not batch:
            continue
        width = max(len(encoded[i][0]) for i in batch)
        keep = max(encoded[i][1] for i in batch) + 1
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            seq = encoded[i][0]
            ids[row, width - len(seq):] = torch.tensor(seq)
            mask[row, width - len(seq):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                       logits_to_keep=keep).logits.float()  # (batch, keep, vocab): the last `keep` positions
        for row, i in enumerate(batch):
            seq, n = encoded[i]
            predicted = logits[row, keep - 1 - n: keep - 1]  # logits at the positions before each response token
            targets = torch.tensor(seq[len(seq) - n:], device=device)
            result[i] = math.exp(torch.nn.functional.cross_entropy(predicted, targets).item())
    return result
