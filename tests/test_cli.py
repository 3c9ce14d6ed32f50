import json

from distillery.cli import main
from distillery.core.artifacts import write_json


def write_reports(queries_dir, lost=0):
    write_json(
        {"source": "a", "category": "math", "rows_read": 10, "kept": 9, "rejected": 1, "reasons": {"invalid_json": 1}},
        queries_dir / "raw/a.report.json",
    )
    write_json(
        {"source": "b", "category": "code", "rows_read": 5, "kept": 5, "rejected": 0, "reasons": {}},
        queries_dir / "raw/b.report.json",
    )
    write_json(
        {"rows_in": 14, "kept": 12 - lost, "rejected": 2, "reasons": {"duplicate": 2}},
        queries_dir / "deduped.report.json",
    )


def test_prep_report_prints_each_stage(tmp_path, capsys):
    write_reports(tmp_path / "queries")
    assert main(["prep-report", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| ingest | 15 | 14 | 1 | invalid_json 1 |" in out and "| dedup | 14 | 12 | 2 | duplicate 2 |" in out
    assert main(["prep-report", "--results", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accounted"] is True


def test_prep_report_fails_when_rows_go_missing(tmp_path, capsys):
    write_reports(tmp_path / "queries", lost=1)
    assert main(["prep-report", "--results", str(tmp_path)]) == 2
    assert "do not add up" in capsys.readouterr().out


def test_prep_report_without_results(tmp_path, capsys):
    assert main(["prep-report", "--results", str(tmp_path)]) == 1
    assert "no query-preparation reports" in capsys.readouterr().err
