"""Fig. 6: every student's loss curve from its log_history.jsonl, on one plot and in one CSV."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pandas as pd

from distillery.analysis.figures import fig6_loss_curves
from distillery.analysis.figures.render import render


def write_log(path, steps, scale, repeat_step=None):
    lines = []
    for step in range(1, steps + 1):
        noise = 0.1 * math.sin(1.7 * step)  # step-to-step noise, like real losses
        lines.append(
            {
                "loss": scale * (1 + math.exp(-step / 30)) + noise,
                "learning_rate": 1e-5,
                "grad_norm": 1.0,
                "num_tokens": 100.0 * step,
                "epoch": step / steps,
                "step": step,
            }
        )
        if step == repeat_step:  # a run resumed from an earlier checkpoint logs this step again
            lines.append(dict(lines[-1], loss=lines[-1]["loss"] + 0.05))
    lines.append({"train_runtime": 1.0, "step": steps})  # the summary entry has no loss
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_fig6_one_plot_every_student(tmp_path):
    teachers = ["am", "r1", "toy"]
    paths = [
        write_log(tmp_path / "am.jsonl", 200, 1.0),
        write_log(tmp_path / "r1.jsonl", 150, 1.2, 40),
        write_log(tmp_path / "toy.jsonl", 3, 1.5),
    ]
    curves, notes = fig6_loss_curves.read(paths, teachers, {})
    assert notes == []
    assert list(curves.columns[:5]) == ["teacher", "step", "epoch", "loss", "loss_smoothed"]
    assert curves.groupby("teacher").size().to_dict() == {"am": 200, "r1": 150, "toy": 3}
    r1 = curves[curves.teacher == "r1"].set_index("step")
    first = json.loads((tmp_path / "r1.jsonl").read_text().splitlines()[39])
    assert r1.loc[40, "loss"] == first["loss"] + 0.05  # the later entry of a repeated step wins
    toy = curves[curves.teacher == "toy"]
    assert toy["loss_smoothed"].tolist() == toy["loss"].tolist()  # short curves are not smoothed
    am = curves[curves.teacher == "am"]
    assert am["loss_smoothed"].iloc[0] == am["loss"].iloc[0]
    assert am["loss_smoothed"].diff().abs().mean() < 0.5 * am["loss"].diff().abs().mean()
    outputs = SimpleNamespace(**{k: str(tmp_path / f"fig6.{k}") for k in ("pdf", "png", "csv")})
    style = {"teacher_labels": {"am": "AM-Thinking-v1"}, "width": 3.5, "height": 2.6}
    render(fig6_loss_curves.__name__, paths, teachers, style, outputs)
    assert (tmp_path / "fig6.png").stat().st_size > 5000 and (tmp_path / "fig6.pdf").stat().st_size > 1000
    table = pd.read_csv(outputs.csv)
    assert len(table) == 353 and set(table.teacher) == {"am", "r1", "toy"}
