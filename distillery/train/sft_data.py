"""Corpus rows -> token sequences whose labels cover only the teacher's final response.

A training example is prompt/completion (TRL's prompt-completion format): the prompt is the paper's
system prompt and the query's turns, earlier assistant turns included, exactly as the teacher was asked
(``generate.prompting.build_messages``, without few-shot turns); the completion is the accepted final
response. Only completion tokens carry labels, so a multi-turn dialogue trains the final (reasoning)
reply only; the paper's recipe. ``assistant_only_loss`` would train every assistant turn.

Tokenisation is done here rather than inside SFTTrainer so that over-long samples can be dropped and
counted (TRL's packer would truncate them silently); ``tests/test_train_data.py`` checks that the ids
and labels equal those TRL makes from the same prompt/completion rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pyarrow as pa

from distillery.core.prompts import SYSTEM_PROMPT, build_messages

IGNORE = -100  # label of a token that is not trained (PyTorch's cross-entropy ignore_index)


def system_prompt(setting: str | None) -> str | None:
    """``"paper"`` means the paper's system prompt; null none; anything else is the prompt itself."""
    return SYSTEM_PROMPT if setting == "paper" else setting


def _turn(message: dict) -> dict:
    text = message.get("content")
    return {"role": message["role"], "content": message.get("text") if text is None else text}


def to_prompt_completion(row: dict, system: str | None) -> dict:
    """One corpus row (qid, category, messages, response) as a conversational prompt/completion pair."""
    query = {"category": row.get("category"), "messages": [_turn(m) for m in row["messages"]]}
    return {"prompt": build_messages(query, system), "completion": [{"role": "assistant", "content": row["response"]}]}


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):  # the shorter one ends the prefix
        if x != y:
            break
        n += 1
    return n


def tokenize(example: dict, tokenizer) -> dict:
    """input_ids of prompt + completion rendered by the chat template; labels = input_ids on the completion
    and IGNORE on the prompt. The completion starts where the prompt (rendered with the generation prompt)
    and the full conversation diverge, like TRL's prompt-completion tokenisation."""
    prompt = tokenizer.apply_chat_template(
        example["prompt"], add_generation_prompt=True, tokenize=True, return_dict=True
    )["input_ids"]
    full = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=True, return_dict=True)[
        "input_ids"
    ]
    start = _common_prefix(prompt, full)
    return {"input_ids": list(full), "labels": [IGNORE] * start + list(full[start:])}


@dataclass
class DataStats:
    """What went in and what was dropped: the paper drops samples longer than the sequence length."""

    samples: int
    dropped_too_long: int
    kept: int
    tokens: int  # of the kept samples
    trained_tokens: int  # tokens that carry a label
    max_seq_len: int
    longest: int  # longest sample seen, dropped or not

    def as_dict(self) -> dict:
        return asdict(self)


def _tokenize_batch(batch: dict, tokenizer, system: str | None) -> dict:
    rows = [dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True)]
    out = {"input_ids": [], "labels": [], "length": [], "trained": []}
    for row in rows:
        tokens = tokenize(to_prompt_completion(row, system), tokenizer)
        out["input_ids"].append(tokens["input_ids"])
        out["labels"].append(tokens["labels"])
        out["length"].append(len(tokens["input_ids"]))
        out["trained"].append(sum(1 for x in tokens["labels"] if x != IGNORE))
    return out


def build_dataset(corpus: pa.Table, tokenizer, system: str | None, max_seq_len: int, num_proc: int | None = None):
    """The corpus as a ``datasets.Dataset`` of input_ids/labels, samples longer than ``max_seq_len``
    dropped, and the counts. Rows keep corpus order (the trainer shuffles)."""
    from datasets import Dataset, Features, Sequence, Value

    columns = [c for c in ("qid", "category", "messages", "response") if c in corpus.column_names]
    dataset = Dataset(corpus.select(columns))
    # int32 halves the tokenised corpus kept beside the checkpoints (billions of tokens at the paper's scale)
    features = Features(
        {
            "input_ids": Sequence(Value("int32")),
            "labels": Sequence(Value("int32")),
            "length": Value("int32"),
            "trained": Value("int32"),
        }
    )
    if not len(dataset):  # map() adds no columns to an empty dataset
        empty = Dataset.from_dict(
            {"input_ids": [], "labels": []}, features=Features({k: features[k] for k in ("input_ids", "labels")})
        )
        return empty, DataStats(
            samples=0, dropped_too_long=0, kept=0, tokens=0, trained_tokens=0, max_seq_len=max_seq_len, longest=0
        )
    tokenized = dataset.map(
        _tokenize_batch,
        batched=True,
        batch_size=256,
        num_proc=num_proc,
        remove_columns=columns,
        fn_kwargs={"tokenizer": tokenizer, "system": system},
        features=features,
        desc="tokenizing",
    )
    lengths = tokenized["length"]
    kept = tokenized.filter(lambda n: n <= max_seq_len, input_columns="length", num_proc=num_proc)
    stats = DataStats(
        samples=len(tokenized),
        dropped_too_long=len(tokenized) - len(kept),
        kept=len(kept),
        tokens=sum(kept["length"]),
        trained_tokens=sum(kept["trained"]),
        max_seq_len=max_seq_len,
        longest=max(lengths, default=0),
    )
    return kept.remove_columns(["length", "trained"]), stats


def packing_efficiency(seq_lengths: list[list[int]], max_seq_len: int) -> float:
    """Real tokens / capacity of the packed sequences (each holds up to ``max_seq_len`` tokens)."""
    if not seq_lengths:
        return 0.0
    return sum(sum(pack) for pack in seq_lengths) / (len(seq_lengths) * max_seq_len)
