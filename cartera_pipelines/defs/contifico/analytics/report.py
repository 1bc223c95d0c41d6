"""The reorder report: an Excel workbook (a summary sheet, one sheet per warehouse) and a plot of the
items most at risk, as a Markdown data-URI image for asset metadata."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cartera_pipelines.defs.contifico.analytics.tables import ALL_WAREHOUSES, NO_WAREHOUSE
from cartera_pipelines.lib.metadata import figure_markdown

COLUMNS = (
    ("urgency_rank", "Urgencia", "0"),
    ("product_id", "Producto", "@"),
    ("stock", "Stock", "#,##0.00"),
    ("velocity_90", "Unidades/día (90 d)", "#,##0.000"),
    ("days_to_stockout", "Días hasta agotarse", "#,##0.0"),
    ("lead_time_days", "Tiempo de entrega (días)", "#,##0.0"),
    ("slack_days", "Holgura (días)", "#,##0.0"),
    ("safety_stock", "Stock de seguridad", "#,##0.00"),
    ("reorder_point", "Punto de reorden", "#,##0.00"),
    ("suggested_quantity", "Cantidad sugerida", "#,##0"),
    ("suggested_value", "Valor sugerido (USD)", "#,##0.00"),
)


def sheet_title(name: str, used: set[str]) -> str:
    """An Excel sheet title: no ``[]:*?/\\``, at most 31 characters, unique in the workbook."""
    base = re.sub(r"[\[\]:*?/\\]", " ", name).strip()[:31] or "Bodega"
    title, n = base, 2
    while title.lower() in used:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(title.lower())
    return title


def warehouse_label(warehouse_id: str, names: Mapping[str, str]) -> str:
    if warehouse_id == ALL_WAREHOUSES:
        return "Resumen"
    if warehouse_id == NO_WAREHOUSE:
        return "Sin bodega"
    return names.get(warehouse_id, warehouse_id)


def write_workbook(
    path: Path, rows: Sequence[Mapping[str, Any]], names: Mapping[str, str], as_of: str
) -> dict[str, int]:
    """Write the suggestions to order (rank order); returns rows per sheet. Money stays Decimal → number."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    to_order = sorted((r for r in rows if r["urgency_rank"] is not None), key=lambda r: r["urgency_rank"])
    # the summary first, then the warehouses by name, stock in no warehouse last
    others = {r["warehouse_id"] for r in rows} - {ALL_WAREHOUSES}
    scopes = [ALL_WAREHOUSES, *sorted(others, key=lambda w: (w == NO_WAREHOUSE, warehouse_label(w, names)))]
    workbook, used, counts = Workbook(), set(), {}
    workbook.remove(workbook.active)
    for scope in scopes:
        sheet = workbook.create_sheet(sheet_title(warehouse_label(scope, names), used))
        sheet.append([f"Sugerencias de compra al {as_of}"])
        sheet["A1"].font = Font(bold=True)
        sheet.append([label for _, label, _ in COLUMNS])
        chosen = [r for r in to_order if r["warehouse_id"] == scope]
        for row in chosen:
            sheet.append([row[key] for key, _, _ in COLUMNS])
        for index, (_, label, number_format) in enumerate(COLUMNS, start=1):
            letter = sheet.cell(row=2, column=index).column_letter
            sheet.column_dimensions[letter].width = max(12, len(label) + 2)
            for cell in sheet[letter][2:]:
                cell.number_format = number_format
        sheet.freeze_panes = "A3"
        counts[sheet.title] = len(chosen)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return counts


def at_risk_chart_markdown(items: Sequence[Mapping[str, Any]]) -> str:
    """Days to stockout against lead time for the most urgent items (bars in red: too late to order)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not items:
        return "_no item needs an order_"
    chosen = list(items)[::-1]
    labels = [str(r["product_id"]) for r in chosen]
    stockout = [float(r["days_to_stockout"]) for r in chosen]  # floats only for drawing
    lead = [float(r["lead_time_days"]) for r in chosen]
    colours = ["#d1242f" if s < ld else "#bf8700" for s, ld in zip(stockout, lead, strict=True)]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(chosen) + 1.2), dpi=80)
    ax.barh(labels, stockout, color=colours, label="días hasta agotarse")
    ax.scatter(lead, labels, color="#1f2328", marker="|", s=120, label="tiempo de entrega")
    ax.set_xlabel("días")
    ax.legend(loc="lower right", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return figure_markdown(fig, "items at risk")


def try_at_risk_chart(items: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """``(chart, None)``, or ``(None, why)``: a chart never fails the suggestions."""
    try:
        return at_risk_chart_markdown(items), None
    except Exception as exc:  # a chart is a nicety (matplotlib missing, a font, a backend)
        return None, f"at-risk chart not drawn: {exc}"
