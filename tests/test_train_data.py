"""Training examples: only the final reply carries labels, TRL agrees, packing keeps the labels and never
lets attention cross a sample boundary."""

from __future__ import annotations

from itertools import pairwise

import pyarrow as pa
import pytest
import torch

from conftest import TINY_WORDS, tiny_llama_config, tiny_tokenizer
from distillery.distill.local_model import CHAT_TEMPLATE as GEMMA_TEMPLATE
from distillery.train.sft_data import IGNORE, build_dataset, system_prompt, to_prompt_completion, tokenize
from train_helpers import CORPUS_SCHEMA, corpus_rows

# A dialogue whose earlier assistant turn and final reply use disjoint words, so labels are easy to read.
DIALOGUE = {
    "qid": "q1",
    "category": "general",
    "messages": [
        {"role": "user", "text": "what is two plus four"},
        {"role": "assistant", "text": "hello hello"},
        {"role": "user", "text": "the answer"},
    ],
    "response": "think a b c answer 6",
}
SINGLE = {
    "qid": "q2",
    "category": "general",
    "messages": [{"role": "user", "text": "what is two plus four"}],
    "response": "think d e answer 6",
}


def labelled(tokens: dict) -> list[int]:
    return [t for t in tokens["labels"] if t != IGNORE]


def test_multi_turn_dialogue_trains_only_the_final_reply():
    tok = tiny_tokenizer()
    tokens = tokenize(to_prompt_completion(DIALOGUE, system=None), tok)
    assert len(tokens["labels"]) == len(tokens["input_ids"])
    # the reply and the end-of-turn token that teaches the model to stop; not the earlier "hello hello"
    assert tok.decode(labelled(tokens)) == "think a b c answer 6 </s>"
    hello = tok.convert_tokens_to_ids("hello")
    assert hello in tokens["input_ids"]
    assert all(
        label == IGNORE for tid, label in zip(tokens["input_ids"], tokens["labels"], strict=True) if tid == hello
    )
    # labels are the ids themselves where set (the model shifts them)
    assert all(label in (IGNORE, tid) for tid, label in zip(tokens["input_ids"], tokens["labels"], strict=True))


def test_single_turn_prompt_carries_no_labels():
    tok = tiny_tokenizer()
    tokens = tokenize(to_prompt_completion(SINGLE, system="system prompt"), tok)
    prompt_len = len(
        tok.apply_chat_template(
            to_prompt_completion(SINGLE, "system prompt")["prompt"],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
        )["input_ids"]
    )
    assert tokens["labels"][:prompt_len] == [IGNORE] * prompt_len
    assert tokens["labels"][prompt_len:] == tokens["input_ids"][prompt_len:]
    assert tok.decode(labelled(tokens)) == "think d e answer 6 </s>"


def test_gemma_template_folds_the_system_prompt_and_trains_the_end_of_turn():
    """The local student's chat template (Gemma's turn format): the paper's system prompt goes into the
    first user turn, and <end_of_turn> closes the trained reply."""
    from tokenizers import AddedToken

    tok = tiny_tokenizer()
    tok.add_tokens([AddedToken(t, special=True) for t in ("<start_of_turn>", "<end_of_turn>")])
    tok.add_tokens(["model"])
    tok.chat_template = GEMMA_TEMPLATE
    example = to_prompt_completion(DIALOGUE, system=system_prompt("paper"))
    assert example["prompt"][0]["role"] == "system" and example["prompt"][0]["content"].startswith("You are a helpful")
    tokens = tokenize(example, tok)
    text = tok.decode(labelled(tokens))
    assert text.replace(" ", "") == "thinkabcanswer6<end_of_turn>"
    assert tok.decode(tokens["input_ids"]).count("<start_of_turn>") == 4  # user, model, user, model


def test_system_prompt_setting():
    from distillery.core.prompts import SYSTEM_PROMPT

    assert system_prompt("paper") == SYSTEM_PROMPT
    assert system_prompt(None) is None
    assert system_prompt("be brief") == "be brief"
    # math queries get the paper's \boxed{} instruction, as the teachers were asked
    row = dict(SINGLE, category="math")
    assert to_prompt_completion(row, None)["prompt"][-1]["content"].endswith("within \\boxed{}.")


def corpus_table(rows):
    return pa.Table.from_pylist(rows, schema=CORPUS_SCHEMA)


def test_over_long_samples_are_dropped_and_counted():
    tok = tiny_tokenizer()
    rows = corpus_rows(10, length=(4, 8)) + corpus_rows(3, seed=1, length=(200, 220))
    dataset, stats = build_dataset(corpus_table(rows), tok, None, max_seq_len=64)
    assert stats.samples == 13 and stats.dropped_too_long == 3 and stats.kept == 10 == len(dataset)
    assert stats.longest > 64
    assert max(len(ids) for ids in dataset["input_ids"]) <= 64
    assert stats.tokens == sum(len(ids) for ids in dataset["input_ids"])
    assert stats.trained_tokens == sum(sum(1 for x in labels if x != IGNORE) for labels in dataset["labels"])


def sft_trainer(tmp_path, train_dataset, packing: bool, model=None, max_length=64, micro_batch=4):
    from transformers import LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer

    torch.manual_seed(0)
    args = SFTConfig(
        output_dir=str(tmp_path / "out"),
        report_to="none",
        use_cpu=True,
        bf16=False,
        per_device_train_batch_size=micro_batch,
        packing=packing,
        packing_strategy="bfd",
        max_length=max_length if packing else None,
        activation_checkpointing=False,
        seed=0,
    )
    return SFTTrainer(
        model=model or LlamaForCausalLM(tiny_llama_config()),
        args=args,
        train_dataset=train_dataset,
        processing_class=tiny_tokenizer(),
    )


def test_our_tokenisation_equals_trl_prompt_completion(tmp_path):
    """Same ids and labels as TRL's own prompt-completion path (completion-only loss)."""
    from datasets import Dataset

    tok = tiny_tokenizer()
    rows = corpus_rows(9)
    examples = [to_prompt_completion(r, "be brief") for r in rows]
    trainer = sft_trainer(tmp_path, Dataset.from_list(examples), packing=False)
    theirs = trainer.train_dataset
    ours = [tokenize(e, tok) for e in examples]
    assert theirs["input_ids"] == [o["input_ids"] for o in ours]
    assert theirs["labels"] == [o["labels"] for o in ours]


def packed_segments(batch):
    """(input_ids, labels, start, end) of each sample in a padding-free packed batch."""
    positions = batch["position_ids"][0]
    starts = (positions == 0).nonzero().flatten().tolist() + [len(positions)]
    return [(batch["input_ids"][0, a:b].tolist(), batch["labels"][0, a:b].tolist(), a, b) for a, b in pairwise(starts)]


@pytest.fixture(scope="module")
def packed_trainer(tmp_path_factory):
    tok = tiny_tokenizer()
    dataset, stats = build_dataset(corpus_table(corpus_rows(24, length=(2, 12))), tok, "be brief", max_seq_len=64)
    return sft_trainer(tmp_path_factory.mktemp("packed"), dataset, packing=True), dataset


def test_packed_batches_keep_only_final_turn_labels(packed_trainer):
    """The labels TRL actually trains on, with packing on: every sample appears once, whole, with its
    own labels (the final reply), and nothing of a prompt or an earlier turn is labelled."""
    trainer, dataset = packed_trainer
    expected = {tuple(ids): labels for ids, labels in zip(dataset["input_ids"], dataset["labels"], strict=True)}
    seen = []
    batches = list(trainer.get_train_dataloader())
    assert all("attention_mask" not in b and b["input_ids"].shape[0] == 1 for b in batches)  # padding-free
    for batch in batches:
        for ids, labels, _, _ in packed_segments(batch):
            assert tuple(ids) in expected, "a sample was cut or merged"
            assert labels == expected[tuple(ids)]  # position 0 is a prompt token: IGNORE either way
            seen.append(tuple(ids))
    assert sorted(seen) == sorted(expected)
    assert sum(len(packed_segments(b)) > 1 for b in batches) > 0  # packing happened
    trained = sum(int((b["labels"] != IGNORE).sum()) for b in batches)
    assert trained == sum(sum(1 for x in labels if x != IGNORE) for labels in dataset["labels"])


def tiny_gemma3():
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=len(TINY_WORDS),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        sliding_window=4,
        layer_types=["sliding_attention", "full_attention"],
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
    )
    return Gemma3ForCausalLM(config)


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_logits_equal_one_by_one(packed_trainer, arch, attn):
    """A packed batch, as the trainer's data loader makes it, gives the logits of each sample run alone
    (fp32 on CPU, max abs difference <= 1e-5; measured ~2e-7): attention stays inside each sample. The
    same batch with positions that do not restart does differ (> 1e-3): the check can see leakage."""
    from transformers import LlamaForCausalLM

    trainer, _ = packed_trainer
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_llama_config()) if arch == "llama" else tiny_gemma3()
    model.config._attn_implementation = attn
    model.eval()
    batch = next(b for b in trainer.get_train_dataloader() if len(packed_segments(b)) >= 3)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        packed = model(**inputs, use_cache=False).logits[0]  # use_cache=False as in training (TRL sets it)
        alone = torch.cat(
            [model(input_ids=torch.tensor([ids]), use_cache=False).logits[0] for ids, *_ in packed_segments(batch)]
        )
        leaky = model(input_ids=batch["input_ids"], use_cache=False).logits[0]
    assert (packed - alone).abs().max().item() <= 1e-5
    assert (leaky - alone).abs().max().item() > 1e-3
