"""The forecast plot: history, holdout (actual and the chosen model's prediction), forecast band."""

from __future__ import annotations

import io

import numpy as np

from cartera_pipelines.defs.forecasting.demand import add_months
from cartera_pipelines.defs.forecasting.training import TrainingResult
from cartera_pipelines.lib.metadata import markdown_image as lib_markdown_image


def top_articles(result: TrainingResult, count: int) -> list[int]:
    """Indices of the articles with the highest net sales value over the last 12 months."""
    value = np.nan_to_num(result.panel.sales_value[:, -12:]).sum(axis=1)
    return [int(i) for i in np.argsort(-value, kind="stable")[:count]]


def forecast_plot_png(result: TrainingResult, count: int = 4, dpi: int = 64) -> bytes:
    """A small PNG (2 columns) for the top ``count`` articles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panel = result.panel
    chosen = top_articles(result, count)
    if not chosen:
        return b""
    rows = (len(chosen) + 1) // 2
    fig, axes = plt.subplots(rows, 2 if len(chosen) > 1 else 1, figsize=(10, 2.6 * rows), squeeze=False)
    months = np.array(panel.months, dtype="datetime64[D]")
    horizon = result.forecast.shape[1]
    future = np.array([add_months(panel.months[-1], h + 1) for h in range(horizon)], dtype="datetime64[D]")
    cut = result.windows.holdout
    for ax, i in zip(axes.flat, chosen, strict=False):
        model = result.chosen[i]
        ax.plot(months[: cut + 1], panel.demand[i, : cut + 1], color="#555555", lw=1.2, label="history")
        ax.plot(months[cut:], panel.demand[i, cut:], "o-", color="black", ms=3, lw=1, label="holdout actual")
        ax.plot(
            months[cut:],
            result.holdout["chosen"][i],
            "--",
            color="#d95f02",
            lw=1.2,
            label=f"{result.eval_chosen[i]} on holdout",
        )
        ax.fill_between(
            future, result.lower[i], result.upper[i], color="#1b9e77", alpha=0.25, label="forecast band"
        )
        ax.plot(future, result.forecast[i], color="#1b9e77", lw=1.6, label="forecast")
        name = panel.names[i] or ""
        ax.set_title(f"{panel.articles[i]} {name[:30]} — {model}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_ylim(bottom=0)
    for ax in list(axes.flat)[len(chosen) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str = "forecast plot") -> str:
    """A Markdown image with the PNG inline (``lib.metadata.markdown_image``)."""
    return lib_markdown_image(png, alt)


def accuracy_plot_png(rows: list[dict], dpi: int = 64) -> bytes:
    """MAE of the published forecasts and of seasonal naive per horizon (all segments), one line per
    training date."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["segment"] == "all"]
    if not rows:
        return b""
    fig, ax = plt.subplots(figsize=(7, 3))
    for trained_at in sorted({r["trained_at"] for r in rows})[-6:]:
        mine = sorted((r for r in rows if r["trained_at"] == trained_at), key=lambda r: r["horizon"])
        label = f"{trained_at:%Y-%m-%d}"
        ax.plot(
            [r["horizon"] for r in mine], [r["mae"] for r in mine], "o-", lw=1.2, label=f"published {label}"
        )
        ax.plot(
            [r["horizon"] for r in mine],
            [r["mae_seasonal_naive"] if r["mae_seasonal_naive"] is not None else np.nan for r in mine],
            "x--",
            lw=1,
            label=f"seasonal naive {label}",
        )
    ax.set_xlabel("horizon (months)")
    ax.set_ylabel("MAE (units)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()
