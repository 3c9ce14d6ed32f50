"""Reward-model verification for chat and general queries.

Any Hugging Face sequence-classification reward model: one output is squashed with a sigmoid;
several outputs are attributes, of which the configured ones are averaged and scaled to [0, 1]. For
Decision-Tree-Reward-Llama-3.1-8B (custom code, ``trust_remote_code``) the outputs are the five
HelpSteer2 attributes, each 0-4, in the order of :data:`HELPSTEER2_ATTRIBUTES`; the paper averages
helpfulness, correctness and coherence (:data:`PAPER_ATTRIBUTES`), so score = mean / 4.
"""

from __future__ import annotations

import torch

from distillery.core.model_resolution import checkpoint_dtype, resolve_device, resolve_model
from distillery.verify.parse import answers_to_score
from distillery.verify.result import PASS_THRESHOLD, VerifyResult

NAME = "reward_model"
HELPSTEER2_ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
PAPER_ATTRIBUTES = ("helpfulness", "correctness", "coherence")


class RewardModelVerifier:
    def __init__(
        self,
        model,
        tokenizer,
        model_id: str,
        attributes: tuple[str, ...] = HELPSTEER2_ATTRIBUTES,
        use: tuple[str, ...] = PAPER_ATTRIBUTES,
        scale: tuple[float, float] = (0.0, 4.0),
        batch_size: int = 4,
        max_tokens: int = 8192,
        threshold: float = PASS_THRESHOLD,
    ):
        self.model, self.tokenizer, self.model_id = model.eval(), tokenizer, model_id
        self.attributes, self.use, self.scale = attributes, use, scale
        self.batch_size, self.max_tokens, self.threshold = batch_size, max_tokens, threshold
        unknown = set(use) - set(attributes)
        if unknown:
            raise ValueError(f"reward attributes {sorted(unknown)} are not among the model's {list(attributes)}")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "right"
        self.tokenizer.truncation_side = "left"  # a long conversation loses its start, never the reply
        self.model.config.pad_token_id = self.tokenizer.pad_token_id  # the model reads the last non-pad token

    @classmethod
    def load(cls, path: str, trust_remote_code: bool = False, dtype: str = "auto", device: str = "auto", **kwargs):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        location = resolve_model(path)
        model = AutoModelForSequenceClassification.from_pretrained(
            location, trust_remote_code=trust_remote_code, dtype=checkpoint_dtype(dtype)
        ).to(resolve_device(device))
        return cls(model, AutoTokenizer.from_pretrained(location, trust_remote_code=trust_remote_code), path, **kwargs)

    def normalize(self, outputs: torch.Tensor) -> float:
        """One reward model output row -> a score in [0, 1]."""
        if outputs.numel() == 1:
            return torch.sigmoid(outputs.reshape(())).item()
        if outputs.numel() != len(self.attributes):
            raise ValueError(
                f"the reward model gives {outputs.numel()} outputs, configured attributes: {self.attributes}"
            )
        picked = torch.stack([outputs[self.attributes.index(a)] for a in self.use]).mean().item()
        low, high = self.scale
        return min(max((picked - low) / (high - low), 0.0), 1.0)

    @torch.inference_mode()
    def score(self, queries: list[dict], responses: list[str]) -> list[VerifyResult]:
        results, where, answers = answers_to_score(responses, NAME)
        texts = [
            self.tokenizer.apply_chat_template(
                queries[i]["messages"] + [{"role": "assistant", "content": answer}], tokenize=False
            )
            for i, answer in zip(where, answers, strict=True)
        ]
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(
                texts[start : start + self.batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                add_special_tokens=False,
            )
            logits = self.model(**batch.to(self.model.device)).logits.float()
            for row, i in enumerate(where[start : start + self.batch_size]):
                value = self.normalize(logits[row])
                results[i] = VerifyResult.of(value, NAME, f"reward {value:.3f} from {self.model_id}", self.threshold)
        return results  # type: ignore[return-value]
