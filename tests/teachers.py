"""A scripted teacher: a stand-in for an LLM that sometimes answers right, which cannot exist on
this offline CPU machine (the local 270M base model almost never does). It goes through the same
Backend interface and cache as a real model; its answers depend only on the request (conversation
and seed), like a sampled model's, so reruns reproduce them."""

import hashlib
import json
import time

from distillery.generation.backend import GenerationResult


class ScriptedTeacher:
    """Answers a math query with its reference when hash(request) says so (``right`` of the time)."""

    def __init__(self, model_id="scripted-teacher", right=0.5, delay_s=0.0):
        self.model_id, self.right, self.delay_s = model_id, right, delay_s
        self.calls = 0

    def generate(self, requests):
        time.sleep(self.delay_s)
        out = []
        for r in requests:
            self.calls += 1
            question = r.messages[-1]["content"]
            reference = json.loads(question.split("REF:", 1)[1]) if "REF:" in question else None
            h = int(hashlib.blake2b(f"{question}|{r.seed}".encode(), digest_size=4).hexdigest(), 16) / 2**32
            answer = reference if h < self.right else "wrong"
            text = f"<think>working on it</think><answer>\\boxed{{{answer}}}</answer>"
            out.append(GenerationResult(text, "stop", len(question.split()), 7, 0.001))
        return out
