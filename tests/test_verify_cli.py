import json

import pyarrow.parquet as pq

from conftest import write_jsonl
from distillery.cli import main


def test_verify_command_scores_rows_and_summarises(tmp_path, capsys):
    rows = [
        {
            "qid": "a",
            "category": "math",
            "reference": {"answer": "4"},
            "response": "<think>2+2</think><answer>\\boxed{4}</answer>",
        },
        {
            "qid": "b",
            "category": "math",
            "reference": {"answer": "5"},
            "response": "<think>hm</think><answer>\\boxed{4}</answer>",
        },
        {
            "qid": "c",
            "category": "science",
            "reference": {"answer": "A", "options": ["x", "y"]},
            "response": "<think>...</think><answer>The answer is A.</answer>",
        },
        {"qid": "d", "category": "math", "reference": {"answer": "1"}, "response": None},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    assert main(["verify", str(src), str(tmp_path / "out.parquet"), "--processes", "1"]) == 0
    out = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [r["score"] for r in out] == [1.0, 0.0, 1.0, 0.0] and out[3]["detail"] == "empty response"
    table = capsys.readouterr().out
    assert "| math | 3 | 0 | 0.333 | 0.333 |" in table and "| science | 1 | 0 | 1.000 | 1.000 |" in table
    assert main(["verify", str(src), str(tmp_path / "out.jsonl"), "--processes", "1"]) == 0
    assert json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["passed"] is True
