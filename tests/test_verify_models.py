"""Model-based verifiers. No trained reward model or instruction-tuned LM installs offline, so these
tests check the plumbing with randomly initialised tiny models, and the judge's reading of ratings with
a scripted backend (a stand-in, named as such, for an instruction-tuned LM that cannot exist here)."""

import pytest
import torch
from transformers import LlamaForCausalLM, LlamaForSequenceClassification

from conftest import tiny_llama_config, tiny_tokenizer
from distillery.generation.backend import GenerationRequest, GenerationResult
from distillery.generation.transformers_backend import TransformersBackend
from distillery.verify.judge import JudgeVerifier, judge_prompt, parse_rating
from distillery.verify.reward import PAPER_ATTRIBUTES, RewardModelVerifier

QUERY = {"category": "chat", "messages": [{"role": "user", "content": "what is two plus two"}], "reference": {}}
REPLY = "<think>a b</think><answer>the answer is four</answer>"


def reward_verifier(num_labels, **kwargs):
    torch.manual_seed(0)
    model = LlamaForSequenceClassification(tiny_llama_config(num_labels=num_labels))
    return RewardModelVerifier(model, tiny_tokenizer(), "tiny-rm", **kwargs)


def test_attribute_reward_is_the_mean_of_the_chosen_attributes_scaled():
    rm = reward_verifier(5)
    outputs = torch.tensor([4.0, 2.0, 3.0, 0.0, 9.0])  # helpfulness, correctness, coherence, complexity, verbosity
    assert rm.normalize(outputs) == pytest.approx((4 + 2 + 3) / 3 / 4)
    assert rm.normalize(torch.tensor([9.0, 9.0, 9.0, 0.0, 0.0])) == 1.0  # clipped
    assert reward_verifier(5, use=("verbosity",)).normalize(outputs) == 1.0
    with pytest.raises(ValueError, match="not among"):
        reward_verifier(5, use=("honesty",))
    assert reward_verifier(1).normalize(torch.tensor([0.0])) == 0.5  # one output: sigmoid


def test_reward_scores_read_the_model_and_batching_does_not_change_them():
    rm = reward_verifier(5, batch_size=3)
    queries = [QUERY, {**QUERY, "messages": [{"role": "user", "content": "hello"}]}, QUERY]
    replies = [REPLY, "<think>b</think><answer>hello a b c d e f g</answer>", ""]
    batched = rm.score(queries, replies)
    single = [reward_verifier(5, batch_size=1).score([q], [r])[0] for q, r in zip(queries, replies, strict=True)]
    assert [r.score for r in batched] == pytest.approx([r.score for r in single], abs=1e-5)
    assert batched[2].score == 0 and batched[2].detail == "empty response"
    text = rm.tokenizer.apply_chat_template(
        QUERY["messages"] + [{"role": "assistant", "content": "the answer is four"}], tokenize=False
    )
    with torch.no_grad():
        logits = rm.model(**rm.tokenizer(text, return_tensors="pt", add_special_tokens=False)).logits[0]
    assert batched[0].score == pytest.approx(rm.normalize(logits), abs=1e-5)
    assert PAPER_ATTRIBUTES == ("helpfulness", "correctness", "coherence")


def test_ratings_are_read_from_the_last_rating_line():
    assert parse_rating("Solid. Rating: 7") == 7
    assert parse_rating("Rating: 3\nOn reflection... Rating: **9/10**") == 9
    assert parse_rating("Rating: 10") == 10 and parse_rating("no idea") is None
    assert "A reference answer is given: 42" in judge_prompt({"messages": [], "reference": {"answer": "42"}}, "x")


class ScriptedBackend:
    """Stand-in for an instruction-tuned judge LM (none installs offline): answers from a script."""

    model_id = "scripted-judge"

    def __init__(self, replies):
        self.replies = replies
        self.seen = []

    def generate(self, requests):
        self.seen.extend(requests)
        return [GenerationResult(self.replies.pop(0), "stop", 1, 1) for _ in requests]


def test_judge_turns_ratings_into_scores_and_never_asks_about_empty_replies():
    backend = ScriptedBackend(["Correct and clear. Rating: 10", "Wrong. Rating: 2", "I refuse."])
    results = JudgeVerifier(backend).score([QUERY] * 4, [REPLY, REPLY, REPLY, ""])
    assert [r.score for r in results] == [1.0, 0.2, 0.0, 0.0]
    assert results[0].passed and not results[1].passed and "no rating" in results[2].detail
    assert len(backend.seen) == 3 and "the answer is four" in backend.seen[0].messages[0]["content"]


def test_few_shot_judge_sees_graded_examples_before_the_reply():
    backend = ScriptedBackend(["Fine.\nRating: 9"])
    result = JudgeVerifier(backend, few_shot=True).score([QUERY], [REPLY])[0]
    messages = backend.seen[0].messages
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2 + ["user"]
    assert all(parse_rating(m["content"]) is not None for m in messages if m["role"] == "assistant")
    assert "the answer is four" in messages[-1]["content"] and result.passed


def test_judge_runs_on_a_real_transformers_backend():
    torch.manual_seed(0)
    backend = TransformersBackend(LlamaForCausalLM(tiny_llama_config()), tiny_tokenizer(), "tiny-lm", batch_size=2)
    results = JudgeVerifier(backend, max_new_tokens=8).score([QUERY] * 3, [REPLY] * 3)
    # A random model rarely writes "rating N"; either way every reply gets a verdict with a reason.
    assert len(results) == 3 and all(r.verifier == "judge" and r.detail for r in results)


def test_next_token_probabilities_batched_with_padding_equal_one_by_one():
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_llama_config()).eval()
    conversations = [[{"role": "user", "content": t}] for t in ("what is two plus two", "hello", "a b c d e f g a b c")]
    digits = [str(d) for d in range(10)]
    batched = TransformersBackend(model, tiny_tokenizer(), "tiny-lm", batch_size=3).next_token_probabilities(
        conversations, "rating ", digits
    )
    tokenizer = tiny_tokenizer()
    ids = tokenizer.convert_tokens_to_ids(digits)
    for conversation, (probs, mass) in zip(conversations, batched, strict=True):
        text = tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True) + "rating "
        with torch.no_grad():
            alone = model(**tokenizer(text, return_tensors="pt", add_special_tokens=False)).logits[0, -1].softmax(-1)
        assert mass == pytest.approx(float(alone[ids].sum()), rel=1e-4)
        assert probs == pytest.approx((alone[ids] / alone[ids].sum()).tolist(), abs=1e-5)
    with pytest.raises(ValueError, match="single tokens"):
        TransformersBackend(model, tokenizer, "tiny-lm").next_token_probabilities(conversations, "", ["two plus"])


class ScriptedProbabilities:
    """Stand-in for a judge LM's next-token probabilities (no instruction-tuned LM installs offline)."""

    model_id = "scripted-judge"

    def __init__(self, distributions):
        self.distributions = distributions
        self.seen = []

    def next_token_probabilities(self, conversations, prefix, candidates):
        self.seen.append((conversations, prefix, candidates))
        return [(self.distributions.pop(0), 0.9) for _ in conversations]


def test_probability_judge_scores_the_expected_rating():
    certain_nine = [0.0] * 9 + [1.0]
    split = [0.5] + [0.0] * 8 + [0.5]  # 0 or 9: expected 4.5
    backend = ScriptedProbabilities([certain_nine, split])
    judge = JudgeVerifier(backend, scoring="probabilities", threshold=0.5)
    results = judge.score([QUERY] * 3, [REPLY, "", REPLY])
    assert [r.score for r in results] == pytest.approx([1.0, 0.0, 0.5])
    assert [r.passed for r in results] == [True, False, True] and "empty" in results[1].detail
    ((conversations, prefix, candidates),) = backend.seen
    assert len(conversations) == 2 and prefix == "Rating: " and candidates == [str(d) for d in range(10)]
    assert "0 (wrong or useless) to 9" in conversations[0][-1]["content"]
    assert "expected rating 9.00/9" in results[0].detail
    with pytest.raises(ValueError, match="scoring"):
        JudgeVerifier(backend, scoring="vibes")


def test_judge_threshold_wins_over_the_distill_threshold_for_the_judges_verdicts():
    from distillery.verify import Verifier

    queries = [QUERY, {"category": "math", "reference": {"answer": "5"}, "messages": []}]
    replies = [REPLY, "<think>x</think><answer>\\boxed{5}</answer>"]
    backend = ScriptedProbabilities([[0.0] * 4 + [1.0] + [0.0] * 5])  # rating 4: score 0.44
    config = {"judge": {"model": "judge-lm", "scoring": "probabilities", "threshold": 0.4}, "threshold": 0.95}
    with Verifier.from_config(config, processes=1, loaded={"judge-lm": backend}) as verifier:  # loads no model
        judged, math = verifier.score(queries, replies)
    assert judged.verifier == "judge" and judged.score == pytest.approx(4 / 9) and judged.passed
    assert math.verifier == "math" and math.score == 1.0 and math.passed


def test_transformers_backend_batches_like_single_requests_and_counts_tokens():
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_llama_config())
    backend = TransformersBackend(model, tiny_tokenizer(), "tiny-lm", batch_size=4)
    requests = [
        GenerationRequest([{"role": "user", "content": t}], max_new_tokens=6)
        for t in ("what is two plus two", "hello", "a b c d e f g a b")
    ]
    batched = backend.generate(requests)
    single = [TransformersBackend(model, tiny_tokenizer(), "tiny-lm", batch_size=1).generate([r])[0] for r in requests]
    assert [r.text for r in batched] == [r.text for r in single]
    assert [r.prompt_tokens for r in batched] == [r.prompt_tokens for r in single]
    assert all(r.completion_tokens <= 6 and r.finish_reason in ("stop", "length") for r in batched)


def test_verifier_routes_chat_and_undecided_answers_to_the_judge():
    from distillery.verify import Verifier

    def math(boxed):
        return {
            "category": "math",
            "reference": {"answer": "5"},
            "messages": [],
        }, f"<think>x</think><answer>\\boxed{{{boxed}}}</answer>"

    # words math-verify reads as symbols, a box it reads no expression from; then a right and a wrong number
    items = [math("\\text{five apples}"), math("five"), math("\\emph{five}"), math("5"), math("4")]
    queries, replies = [QUERY] + [q for q, _ in items], [REPLY] + [r for _, r in items]
    alone = Verifier(processes=1).score(queries, replies)
    assert not alone[0].scorable
    for result in alone[1:4]:
        assert (result.verifier, result.score, result.undecided) == ("math", 0.0, True) and result.scorable
        assert "does not parse" in result.detail
    assert [(r.score, r.undecided) for r in alone[4:]] == [(1.0, False), (0.0, False)]
    backend = ScriptedBackend(["Rating: 9", "Rating: 10", "Rating: 3", "Rating: 9"])
    judged = Verifier(processes=1, judge=JudgeVerifier(backend)).score(queries, replies)
    assert [r.verifier for r in judged] == ["judge"] * 4 + ["math"] * 2
    assert [r.score for r in judged] == [0.9, 1.0, 0.3, 0.9, 1.0, 0.0]
    assert len(backend.seen) == 4 and "five apples" in backend.seen[1].messages[-1]["content"]
