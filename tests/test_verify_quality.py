import math

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from distillery.corpora.perplexity import response_perplexities
from distillery.corpora.quality import most_repeated_ngram, quality_problems, structure_problem

QA = {
    "structure": {"enabled": True},
    "repetition": {"enabled": True, "ngram": 20, "max_repeats": 20},
    "perplexity": {"enabled": True, "max": 10.0},
}
GOOD = "<think>Add them: 2 + 2 = 4.</think><answer>\\boxed{4}</answer>"
USER = [{"role": "user", "content": "What is 2 + 2?"}]


def test_structure_needs_think_answer_and_even_turns():
    assert structure_problem(USER, GOOD) is None
    assert structure_problem(USER, "\\boxed{4}") == "no think segment"
    assert "no answer segment" in structure_problem(USER, "<think>hmm</think>")
    two_users = USER + [{"role": "user", "content": "And 3 + 3?"}]
    assert "odd number of turns" in structure_problem(two_users, GOOD)


def test_repetition_counts_20_token_ngrams():
    loop = " ".join(["wait let me check this again because the sum of the two numbers might be wrong here ok"] * 30)
    problems = quality_problems(USER, f"<think>{loop}</think><answer>4</answer>", None, QA)
    assert set(problems) == {"repetition"} and "occurs" in problems["repetition"]
    assert most_repeated_ngram("a b c".split(), 20) == (0, ())
    assert quality_problems(USER, GOOD, 3.0, QA) == {}


def test_perplexity_threshold_and_switches():
    assert "perplexity 12.00 > 10.0" in quality_problems(USER, GOOD, 12.0, QA)["perplexity"]
    off = {k: {**v, "enabled": False} for k, v in QA.items()}
    assert quality_problems([], "junk", 99.0, off) == {}


@pytest.fixture(scope="module")
def tiny_lm():
    """A randomly initialised tiny Llama and a word-level tokenizer: only the mechanics matter here."""
    words = ["<pad>", "<unk>", "<s>"] + "what is two plus four the answer think a b c d e f g".split()
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>")
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(words),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
    )
    return model.eval(), tokenizer


def test_batched_left_padded_perplexity_equals_one_by_one(tiny_lm):
    model, tokenizer = tiny_lm
    prompts = ["what is two plus two", "what", "a b c d e f g a b c"]
    responses = ["the answer is four", "a b", "think"]
    batched = response_perplexities(model, tokenizer, prompts, responses, batch_size=3)
    single = [
        response_perplexities(model, tokenizer, [p], [r], batch_size=1)[0]
        for p, r in zip(prompts, responses, strict=True)
    ]
    assert batched == pytest.approx(single, rel=1e-4)
    # By hand for one pair: exp(mean NLL of the response tokens) from the full logits.
    ids = tokenizer(prompts[0])["input_ids"] + tokenizer(responses[0], add_special_tokens=False)["input_ids"]
    n = len(tokenizer(responses[0], add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0]
    nll = torch.nn.functional.cross_entropy(logits[len(ids) - n - 1 : -1], torch.tensor(ids[-n:]))
    assert batched[0] == pytest.approx(math.exp(nll.item()), rel=1e-4)
    assert math.isnan(response_perplexities(model, tokenizer, ["what"], [""])[0])


def test_apply_quality_accounts_for_every_row():
    from distillery.corpora.quality import apply_quality

    loop = " ".join(["the same twenty one words are repeated here again and again to make a loop in the text ok"] * 30)
    rows = [
        {"messages": USER, "response": GOOD, "perplexity": 2.0},
        {"messages": USER, "response": f"<think>{loop}</think>4", "perplexity": 50.0},
        {"messages": USER, "response": "", "perplexity": None},
    ]
    kept, rejects, report = apply_quality(rows, QA)
    assert report["rows_in"] == len(kept) + len(rejects) == 3
    assert [r["reason"] for r in rejects] == ["repetition", "structure"]
    assert "perplexity: perplexity 50.00 > 10.0" in rejects[0]["detail"]
    assert report["flagged"] == {"perplexity": 1, "repetition": 1, "structure": 1}
