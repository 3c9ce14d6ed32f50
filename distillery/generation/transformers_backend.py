"""A local Hugging Face causal LM as a generation backend (CPU or GPU), batched."""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import groupby

import torch
from transformers import LogitsProcessorList

from distillery.core.model_resolution import model_dtype, resolve_device, resolve_model
from distillery.generation.backend import GenerationRequest, GenerationResult
from distillery.generation.nucleus_sampling import NucleusSampler


class TransformersBackend:
    """Batches requests that share sampling settings, by prompt length; left padding so that batched and single
    generation agree. Each request samples from its own seed, whatever it is batched with."""

    def __init__(self, model, tokenizer, model_id: str, batch_size: int = 8, progress: Callable | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model_id = model_id
        self.batch_size = batch_size
        self.progress = progress
        self._stoppers: dict[tuple[str, ...], object] = {}

    @classmethod
    def load(cls, path: str, dtype: str = "auto", device: str = "auto", **kwargs) -> "TransformersBackend":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        location, device = resolve_model(path), resolve_device(device)
        model = AutoModelForCausalLM.from_pretrained(location, dtype=model_dtype(dtype, device)).to(device)
        return cls(model, AutoTokenizer.from_pretrained(location), model_id=path, **kwargs)

    def _stop_criteria(self, stop: tuple[str, ...]):
        """One stop-string checker per stop tuple: building it scans the whole vocabulary (seconds
        for Gemma's 262k tokens), which generate() would otherwise redo on every call."""
        if not stop:
            return None
        if stop not in self._stoppers:
            from transformers import StoppingCriteriaList, StopStringCriteria

            self._stoppers[stop] = StoppingCriteriaList([StopStringCriteria(self.tokenizer, list(stop))])
        return self._stoppers[stop]

    def _prompt(self, messages: list[dict]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    @torch.inference_mode()
    def next_token_probabilities(
        self, conversations: list[list[dict]], prefix: str, candidates: list[str]
    ) -> list[tuple[list[float], float]]:
        """For each conversation, the reply started with ``prefix``: the probability of each candidate
        (one token each) as the next token, renormalised over the candidates, and the share of the
        whole next-token mass they hold. One forward pass, no decoding."""
        ids = [self.tokenizer.encode(c, add_special_tokens=False) for c in candidates]
        if any(len(i) != 1 for i in ids):
            raise ValueError(f"candidates must be single tokens of {self.model_id}: {candidates}")
        ids = [i[0] for i in ids]
        texts = [self._prompt(m) + prefix for m in conversations]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[tuple[list[float], float] | None] = [None] * len(texts)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            inputs = self.tokenizer(
                [texts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(self.model.device)
            positions = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)  # left padding
            logits = self.model(**inputs, position_ids=positions, logits_to_keep=1).logits[:, -1].float()
            probs = torch.softmax(logits, dim=-1)[:, ids]
            for i, row in zip(batch, probs, strict=True):
                mass = float(row.sum())
                out[i] = ((row / mass).tolist() if mass > 0 else [0.0] * len(ids), mass)
        return out  # type: ignore[return-value]

    @torch.inference_mode()
    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        results: list[GenerationResult | None] = [None] * len(requests)

        def key(i):
            return requests[i].max_new_tokens, requests[i].temperature, requests[i].top_p, requests[i].stop

        # Similar prompts side by side: less padding to prefill, and replies of one kind (one category's
        # few-shot turns) end at similar lengths, so a batch stops sooner.
        prompts = [self._prompt(r.messages) for r in requests]
        order = sorted(range(len(requests)), key=lambda i: (key(i), len(prompts[i])))
        batches = [list(g) for _, g in groupby(order, key=key)]
        batches = [b[i : i + self.batch_size] for b in batches for i in range(0, len(b), self.batch_size)]
        if self.progress is not None:
            batches = self.progress(batches, unit="batch")
        for batch in batches:
            done = self._generate_batch([requests[i] for i in batch], [prompts[i] for i in batch])
            for i, result in zip(batch, done, strict=True):
                results[i] = result
        return results  # type: ignore[return-value]

    def _generate_batch(self, batch: list[GenerationRequest], prompts: list[str]) -> list[GenerationResult]:
        first = batch[0]
        started = time.perf_counter()
        inputs = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.model.device
        )
        sampling = first.temperature > 0
        # The sampler draws the token itself (temperature, exact top-p, a draw among the nucleus only);
        # generate() decodes greedily and so picks it.
        seeds = [r.seed for r in batch]
        warp = LogitsProcessorList([NucleusSampler(first.temperature, first.top_p, seeds)] if sampling else [])
        out = self.model.generate(
            **inputs,
            max_new_tokens=first.max_new_tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            logits_processor=warp,
            pad_token_id=self.tokenizer.pad_token_id,
            stopping_criteria=self._stop_criteria(first.stop),
        )
        width = inputs["input_ids"].shape[1]
        latency = time.perf_counter() - started
        eos = set(
            self.model.generation_config.eos_token_id
            if isinstance(self.model.generation_config.eos_token_id, list)
            else [self.model.generation_config.eos_token_id]
        )
        results = []
        for row, request in enumerate(batch):
            new = out[row, width:].tolist()
            end = next((k for k, t in enumerate(new) if t in eos), None)
            ended = end is not None
            if ended:
                new = new[: end + 1]  # what follows the end of sequence is batch padding
            else:
                while new and new[-1] == self.tokenizer.pad_token_id:
                    new.pop()
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            # Keep the stop string (as servers do): "</answer>" closes the answer the verifier reads.
            cut = min((text.index(s) + len(s) for s in request.stop if s in text), default=None)
            stopped = cut is not None
            if stopped:
                text = text[:cut]
            finish = "stop" if ended or stopped or len(new) < request.max_new_tokens else "length"
            results.append(GenerationResult(text, finish, int(inputs["attention_mask"][row].sum()), len(new), latency))
        return results
