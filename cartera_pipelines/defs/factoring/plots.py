"""A bar chart of exposure by client, as a Markdown data-URI image for asset metadata."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cartera_pipelines.lib.metadata import figure_markdown


def exposure_chart_markdown(rows: Sequence[Mapping[str, Any]], top: int = 15) -> str:
    """Credit line vs outstanding ceded amount for the ``top`` most used clients (millions of CLP)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = sorted(rows, key=lambda r: r["monto_cedido_vigente"], reverse=True)[:top][::-1]
    if not chosen:
        return "_no clients_"
    labels = [f"{r['razon_social'][:28]} ({r['cliente_id']})" for r in chosen]
    line = [float(r["linea_credito"]) / 1e6 for r in chosen]  # floats only for drawing
    used = [float(r["monto_cedido_vigente"]) / 1e6 for r in chosen]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(chosen) + 1.2), dpi=80)
    ax.barh(labels, line, color="#d9e2ec", label="línea de crédito")
    ax.barh(labels, used, color="#1f6feb", label="cedido vigente")
    ax.set_xlabel("millones CLP")
    ax.legend(loc="lower right", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return figure_markdown(fig, "exposure by client")


def try_exposure_chart(rows: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """``(chart, None)``, or ``(None, why)`` when it cannot be drawn: a chart never fails a snapshot."""
    try:
        return exposure_chart_markdown(rows), None
    except Exception as exc:  # a chart is a nicety (matplotlib missing, a font, a backend)
        return None, f"exposure chart not drawn: {exc}"
