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
