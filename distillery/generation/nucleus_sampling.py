"""Temperature + nucleus (top-p) sampling without touching the whole vocabulary more than once.

Two costs dominate sampling from Gemma's 262k-token vocabulary on a CPU, each more than the 270M
model's forward pass. transformers' ``TopPLogitsWarper`` sorts every row at every step (~0.22 s per
step at batch 16). And ``torch.multinomial`` draws one exponential variate per vocabulary entry (0.13 s
per step at batch 24, half of the step). The nucleus of a real LM's next-token distribution is almost
always a few dozen tokens: take the top ``k`` probabilities, and when they hold at least ``top_p`` of
the mass the cut lies inside them and the kept set is the one a full sort gives (otherwise fall back
to the full sort); then draw among those ``k`` only. The result is the same distribution as
transformers' warpers and sampler, not an approximation.
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
        scores = self._scale(scores)
        if self._full is None:
            return scores
        fast = self._nucleus(scores)
        if fast is None:
            return self._full(input_ids, scores)  # the nucleus is wider than k for some row
        index, _, keep = fast
        kept = torch.full_like(scores, float("-inf"))
        kept.scatter_(-1, index, torch.where(keep, scores.gather(-1, index), kept.gather(-1, index)))
        return kept

    def _scale(self, scores: torch.FloatTensor) -> torch.FloatTensor:
        return scores / self.temperature if self.temperature != 1.0 else scores

    def _nucleus(self, scores: torch.FloatTensor):
        """(top-k token ids, their probabilities, which of them the nucleus keeps), or None when some
        row's nucleus is wider than the top k."""
        k = min(self.candidates, scores.shape[-1])
        probs, index = scores.softmax(dim=-1).topk(k, dim=-1)  # descending
        if k == 0 or bool((probs.sum(dim=-1) < self.top_p).any()):
            return None
        # transformers removes a token when the mass of it and every smaller token is <= 1 - top_p;
        # for the i-th largest that mass is 1 - (mass of the i-1 larger ones).
        larger = probs.cumsum(dim=-1) - probs
        keep = (1 - larger) > (1 - self.top_p)
        keep[..., 0] = True
        return index, probs, keep


class NucleusSampler(TemperatureTopP):
    """Draws the next token itself and returns scores that are -inf but for that token, for generate()
    to pick by greedy decoding (``do_sample=False``): the draw is over the top-k candidates, not over
    the vocabulary. Each row draws from its own generator, seeded by its request's seed, so a request's
    draws do not depend on which requests share its batch (a streaming feeder batches whatever is queued)."""

    def __init__(self, temperature: float, top_p: float, seeds: list[int], candidates: int = 1024):
        super().__init__(temperature, top_p, candidates)
        self.generators = [torch.Generator().manual_seed(int(seed) % 2**63) for seed in seeds]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scaled = self._scale(scores)
        fast = self._nucleus(scaled) if self._full is not None else None
        if fast is None:  # top_p = 1, or a nucleus wider than k: the whole vocabulary
            filtered = scaled if self._full is None else self._full(input_ids, scaled)
            index, probs = None, filtered.softmax(dim=-1).float().cpu()
        else:
            index, probs, keep = fast
            probs = torch.where(keep, probs, 0.0).float().cpu()
        rows = zip(probs, self.generators, strict=True)
        drawn = torch.cat([torch.multinomial(row, 1, generator=g) for row, g in rows])
        chosen = drawn.to(scores.device).unsqueeze(-1)
        if index is not None:
            chosen = index.gather(-1, chosen)
        return torch.full_like(scores, float("-inf")).scatter_(-1, chosen, 0.0)
