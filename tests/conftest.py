import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Nothing in the tests may reach a model or dataset hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_collection_modifyitems(config, items):
    """Acceptance tests (the embedded default end to end, tens of minutes) run only when -m names them."""
    if "acceptance" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="acceptance test, on demand: pytest -m acceptance")
    for item in items:
        if "acceptance" in item.keywords:
            item.add_marker(skip)


def shared_file(name: str) -> Path:
    """A real benchmark/query sample from ../shared/data; the test is skipped when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent (real data samples live in ../shared/data, outside the repo)")
    return path


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows: list) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


@pytest.fixture
def filters_config():
    """Every filter on, with the schema's defaults."""
    return {
        "empty": {"enabled": True},
        "too_short": {"enabled": True, "min_chars": 10},
        "incomplete": {"enabled": True},
        "unusual_unicode": {"enabled": True, "max_ratio": 0.05},
        "url": {"enabled": True},
        "table": {"enabled": True},
        "image": {"enabled": True},
    }


TINY_WORDS = ["<pad>", "<unk>", "<s>", "</s>", "user", "assistant", "system", ":"] + (
    "what is two plus four the answer think a b c d e f g rating 0 1 2 3 4 5 6 7 8 9 10 hello".split()
)
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} </s> {% endfor %}"
    "{% if add_generation_prompt %}assistant : {% endif %}"
)


def tiny_tokenizer():
    """A word-level tokenizer with a chat template, built offline: for plumbing tests only."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(TINY_WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_llama_config(**kwargs):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(TINY_WORDS),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        bos_token_id=2,
        eos_token_id=3,
        pad_token_id=0,
        **kwargs,
    )


@pytest.fixture(scope="session")
def tiny_done(tmp_path_factory):
    """The cheap complete workflow run of tests/tiny_run.py, made once per session (it takes minutes):
    read it, or copy it (tiny_run.clone) before changing it."""
    import tiny_run

    return tiny_run.complete(tmp_path_factory.mktemp("tiny"))
