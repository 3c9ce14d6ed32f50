"""The paper's published numbers and names (a-m-team, 2025, arXiv 2505.14464), in one place: what our
tables and dataset statistics are put beside."""

from __future__ import annotations

TEACHERS = ("AM-Thinking-v1", "Qwen3-235B-A22B", "DeepSeek-R1")
# Our teachers are matched to the paper's by analysis.paper_teachers, else by a hint in the model name.
MODEL_HINTS = (
    ("am-thinking", "AM-Thinking-v1"),
    ("qwen3-235b", "Qwen3-235B-A22B"),
    ("deepseek-r1", "DeepSeek-R1"),
    ("deepseek-reasoner", "DeepSeek-R1"),
)

# Each teacher's parallel corpus: samples, mean response tokens (Fig. 4), mean perplexity under a 32B
# model (Fig. 5). Fig. 2's category shares exist only as donut charts, so they are not here.
DATASET = {
    "AM-Thinking-v1": {"samples": 1_890_000, "mean_tokens": 3757.3, "mean_ppl": 2.5},
    "Qwen3-235B-A22B": {"samples": 1_890_000, "mean_tokens": 4196.7, "mean_ppl": 3.0},
    "DeepSeek-R1": {"samples": 1_890_000, "mean_tokens": 3784.8, "mean_ppl": 2.9},
}

# The students (Qwen2.5-32B) distilled from each teacher, on the paper's benchmarks.
BENCHMARKS = ("AIME2024", "AIME2025", "MATH500", "LiveCodeBench")
TABLE1_PASS_AT_1 = {  # %
    "AM-Thinking-v1": dict(zip(BENCHMARKS, (84.3, 72.2, 98.4, 65.9), strict=True)),
    "Qwen3-235B-A22B": dict(zip(BENCHMARKS, (79.4, 62.2, 93.9, 59.6), strict=True)),
    "DeepSeek-R1": dict(zip(BENCHMARKS, (70.9, 52.8, 95.8, 57.0), strict=True)),
}
TABLE2_MEAN_TOKENS = {
    "AM-Thinking-v1": dict(zip(BENCHMARKS, (15273.8, 18199.2, 3495.7, 23426.9), strict=True)),
    "Qwen3-235B-A22B": dict(zip(BENCHMARKS, (13516.4, 16975.7, 6429.4, 13576.7), strict=True)),
    "DeepSeek-R1": dict(zip(BENCHMARKS, (11853.5, 13495.9, 3613.0, 30731.0), strict=True)),
}


def paper_teacher(name: str, model: str, mapping: dict) -> str | None:
    """The paper's teacher that ours (``name``, serving ``model``) stands for, or None."""
    if name in mapping:
        return mapping[name]
    model = model.lower()
    return next((paper for hint, paper in MODEL_HINTS if hint in model), None)
