"""Temperature + nucleus (top-p) sampling without sorting the whole vocabulary.

transformers' ``TopPLogitsWarper`` sorts every row of logits at every step. With Gemma's 262k-token
vocabulary that sort costs more than the 270M model's forward pass on a CPU (~0.22 s per step at
batch 16, against ~0.01 s for a softmax and a top-1024), so sampling ran ~4x slower than greedy
decoding. The nucleus of a real LM's next-token distribution is almost always a few dozen tokens:
take the top ``k`` probabilities, and when they hold at least ``top_p`` of the mass the cut lies
inside them and the kept set is the one a full sort gives; otherwise fall back to the full sort.
The result is the same distribution as transformers' warpers, not an approximation.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor
from transformers.generation.logits_process import TopPLogitsWarper


class TemperatureTopP(LogitsProcessor):
    """Temperature scaling then top-p filtering, in that order (as transformers applies them).

    One processor for both because generate() runs user processors before its own warpers: a custom
    top-p after transformers' temperature cannot be expressed, so the backend passes neither to
    generate() and this does both."""

    def __init__(self, temperature: float, top_p: float, candidates: int = 1024):
        if temperature <= 0:
            raise ValueError("temperature must be > 0 for sampling")
        if not 0 < top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        self.temperature = temperature
        self.top_p = top_p
        self.candidates = candidates
        self._full = TopPLogitsWarper(top_p) if top_p < 1 else None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.temperature != 1.0:
            scores = scores / self.temperature
        if self._full is None:
            return scores
        k = min(self.candidates, scores.shape[-1])
        probs, index = scores.softmax(dim=-1).topk(k, dim=-1)  # descending
        if bool((probs.sum(dim=-1) < self.top_p).any()):
            return self._full(input_ids, scores)  # the nucleus is wider than k for some row
        # transformers removes a token when the mass of it and every smaller token is <= 1 - top_p;
        # for the i-th largest that mass is 1 - (mass of the i-1 larger ones).
        larger = probs.cumsum(dim=-1) - probs
        keep = (1 - larger) > (1 - self.top_p)
        keep[..., 0] = True
        kept = torch.full_like(scores, float("-inf"))
        kept.scatter_(-1, index, torch.where(keep, scores.gather(-1, index), kept.gather(-1, index)))
        return kept
