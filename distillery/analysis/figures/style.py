"""What every figure shares: the paper-like look, gap notes, and writing the PDF, PNG and CSV of a figure."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from distillery.core.artifacts import atomic_path  # noqa: E402

CATEGORY_LABELS = {
    "math": "Math",
    "code": "Code",
    "science": "Science",
    "if": "Instruction following",
    "chat": "Multi-turn chat",
    "general": "General reasoning",
}
# Muted, colour-blind-safe category colours (Paul Tol's "muted" scheme).
CATEGORY_COLORS = {
    "math": "#332288",
    "code": "#88CCEE",
    "science": "#44AA99",
    "if": "#DDCC77",
    "chat": "#CC6677",
    "general": "#AA4499",
}
OTHER_COLOR = "#BBBBBB"
GAP_COLOR = "#DDDDDD"
# Okabe-Ito, the default teacher palette (schema default too).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def short_category(category: str) -> str:
    """A category's name on a crowded axis."""
    return {"if": "IF", "chat": "Chat", "general": "General", "all": "All"}.get(category, category.capitalize())


def label(style: dict, teacher: str) -> str:
    return style.get("teacher_labels", {}).get(teacher, teacher)


def color(style: dict, teachers: Sequence[str], teacher: str) -> str:
    palette = style.get("palette") or PALETTE
    return palette[list(teachers).index(teacher) % len(palette)]


@contextlib.contextmanager
def paper_style(style: dict):
    """Matplotlib settings of a paper figure: small sans-serif type, no top/right spines, TrueType
    fonts embedded in the PDF."""
    size = style.get("font_size", 8)
    rc = {
        "font.family": style.get("font_family", "sans-serif"),
        "font.size": size,
        "axes.titlesize": size + 1,
        "axes.labelsize": size,
        "xtick.labelsize": size - 0.5,
        "ytick.labelsize": size - 0.5,
        "legend.fontsize": size - 0.5,
        "legend.frameon": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.linewidth": 0.7,
        "xtick.major.width": 0.7,
        "ytick.major.width": 0.7,
        "lines.linewidth": 1.0,
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
        "savefig.dpi": style.get("dpi", 200),
    }
    with plt.rc_context(rc):
        yield


def figure(style: dict, **kwargs):
    return plt.figure(figsize=(style["width"], style["height"]), layout="constrained", **kwargs)


def add_notes(fig, notes: Sequence[str], style: dict) -> None:
    """The figure's gaps, in small grey type above it (as the figure's super-title, for which the
    layout makes room: bottoms are taken by legends)."""
    if notes:
        fig.suptitle(
            "\n".join(f"Note: {n}" for n in notes),
            x=0.0,
            ha="left",
            fontsize=style.get("font_size", 8) - 1.5,
            color="#555555",
            fontstyle="italic",
        )


def text_color(background: str) -> str:
    """Black or white, whichever reads better on ``background``."""
    r, g, b = to_rgb(background)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.6 else "white"


def save(fig, table: pd.DataFrame, outputs) -> None:
    """``outputs`` has ``pdf``, ``png`` and ``csv``; each is written whole or not at all. PDFs carry
    no creation date, so an unchanged figure is byte-identical."""
    for kind in ("pdf", "png"):
        with atomic_path(getattr(outputs, kind)) as tmp:
            metadata = {"CreationDate": None} if kind == "pdf" else None
            fig.savefig(tmp, format=kind, bbox_inches="tight", pad_inches=0.03, metadata=metadata)
    with atomic_path(outputs.csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.10g")
    plt.close(fig)
