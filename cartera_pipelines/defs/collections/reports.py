"""The run's reports (``asignacion_<user>.txt`` per house, ``reporte_fijos_efect.xlsx``, a balance plot)
and the metadata both assets of the run show in the UI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import dagster as dg

from cartera_pipelines.defs.collections import normalize
from cartera_pipelines.defs.collections.assignment import AssignmentPlan
from cartera_pipelines.defs.collections.sql import FixedManagement, WriteCounts
from cartera_pipelines.lib.metadata import markdown_table
from cartera_pipelines.lib.xlsx import write_workbook

EXCEL_NAME = "reporte_fijos_efect.xlsx"
PLOT_NAME = "balance_casas.png"
SUMMARY_COLUMNS = (
    "house",
    "weight",
    "before",
    "kept",
    "removed",
    "added",
    "fixed",
    "total",
    "target",
    "deviation",
)


def txt_name(user_id: int) -> str:
    return f"asignacion_{user_id}.txt"


@dataclass(frozen=True)
class ReportFiles:
    directory: Path
    txt: dict[int, Path]
    excel: Path
    plot: Path | None


def directory(reports_dir: Path, plan: AssignmentPlan, dry_run: bool) -> Path:
    """``reports/collections/<as_of>/`` (``<as_of>_dry_run/`` for a dry run)."""
    return reports_dir / "collections" / (plan.as_of.isoformat() + ("_dry_run" if dry_run else ""))


def facts(plan: AssignmentPlan, *, dry_run: bool, run_id: str, arrears: int) -> dict[str, object]:
    """The run's facts, as the Excel's "Metadata" sheet lists them."""
    rules = plan.rules
    return {
        "as_of": plan.as_of.isoformat(),
        "dry_run": dry_run,
        "run_id": run_id,
        "houses": ", ".join(f"{h.user_id} (weight {h.weight})" for h in rules.houses),
        "threshold_days": rules.threshold_days,
        "fixed_effect": rules.fixed_effect,
        "contracts_in_arrears": arrears,
        "eligible_contracts": plan.eligible,
        "removed": len(plan.removals),
        "added": len(plan.additions),
        "fixed_contracts": len(plan.fixed),
        "tie_turn": ", ".join(str(h) for h in plan.turn),
        "next_turn": ", ".join(str(h) for h in plan.next_turn),
    }


def _notes(plan: AssignmentPlan) -> str:
    return "\n".join(f"- {n}" for n in plan.notes) or "within one contract of every weighted target"


def _summary(plan: AssignmentPlan) -> dg.MarkdownMetadataValue:
    return dg.MetadataValue.md(markdown_table(summary_rows(plan), SUMMARY_COLUMNS, limit=50))


def assignment_metadata(
    plan: AssignmentPlan,
    counts: WriteCounts | None,
    *,
    contracts_in_arrears: int,
    rows_before: int,
    seconds: dict[str, float],
) -> dict[str, Any]:
    """Metadata of ``operations/contract_advisors`` (``counts`` is ``None`` in a dry run)."""
    return {
        "dagster/row_count": sum(s.total for s in plan.summary) if counts else rows_before,
        "as_of": plan.as_of.isoformat(),
        "dry_run": counts is None,
        "summary": _summary(plan),
        "balance": dg.MetadataValue.md(_notes(plan)),
        "balanced": plan.balanced,
        "removed": len(plan.removals),
        "added": len(plan.additions),
        "fixed_contracts": sum(s.fixed for s in plan.summary),
        "eligible_contracts": plan.eligible,
        "contracts_in_arrears": contracts_in_arrears,
        "contracts_of_other_users": plan.other_users_contracts,
        "history_opened": counts.history_opened if counts else 0,
        "history_closed": counts.history_closed if counts else 0,
        "tie_turn": ", ".join(str(h) for h in plan.turn),
        # read back by the next run (run_history.latest_applied): the turn lives in Dagster's run history
        "next_turn": ", ".join(str(h) for h in plan.next_turn),
        **{f"seconds_{name}": value for name, value in seconds.items()},
    }


def reports_metadata(
    plan: AssignmentPlan, files: ReportFiles, *, dry_run: bool, seconds: float
) -> dict[str, Any]:
    """Metadata of ``reports/collections_assignment``: the summary, text bars, a link to every file."""
    metadata: dict[str, Any] = {
        "dagster/row_count": len(plan.fixed),
        "as_of": plan.as_of.isoformat(),
        "dry_run": dry_run,
        "summary": _summary(plan),
        "balance": dg.MetadataValue.md(markdown_bars(plan) + "\n\n" + _notes(plan)),
        "directory": dg.MetadataValue.url(files.directory.resolve().as_uri()),
        "seconds_reports": seconds,
    }
    for path in [*files.txt.values(), files.excel]:
        metadata[f"file_{path.name}"] = dg.MetadataValue.path(str(path))
    if files.plot is not None:
        metadata["plot"] = dg.MetadataValue.path(str(files.plot))
    return metadata


def summary_rows(plan: AssignmentPlan) -> list[dict[str, object]]:
    return [
        {
            "house": s.user_id,
            "weight": s.weight,
            "before": s.before,
            "kept": s.kept,
            "removed": s.removed,
            "added": s.added,
            "fixed": s.fixed,
            "total": s.total,
            "target": round(float(s.target), 1),
            "deviation": round(float(s.deviation), 1),
        }
        for s in plan.summary
    ]


def write_reports(
    plan: AssignmentPlan,
    directory: Path,
    *,
    fixed: Mapping[int, FixedManagement],
    facts: Mapping[str, object],
    plot: bool = True,
) -> ReportFiles:
    """Write every report of ``plan`` into ``directory`` (replacing a previous run of the same date);
    ``fixed`` gives each fixed contract's management (its date goes to "Contratos Fijos")."""
    directory.mkdir(parents=True, exist_ok=True)
    txt: dict[int, Path] = {}
    for user_id, contracts in plan.holdings.items():
        path = directory / txt_name(user_id)
        path.write_text("".join(f"{c}\n" for c in contracts), encoding="utf-8")
        txt[user_id] = path
    excel = directory / EXCEL_NAME
    _write_excel(plan, excel, {c: f.management_date for c, f in fixed.items()}, facts)
    return ReportFiles(
        directory=directory,
        txt=txt,
        excel=excel,
        plot=_write_plot(plan, directory / PLOT_NAME) if plot else None,
    )


def _cell(value: object) -> object:
    """A value Excel can hold: numbers and dates as they are (an aware moment as Bogotá's wall time, since
    Excel has no time zones), anything else as text."""
    if isinstance(value, dt.date):
        return normalize.to_local(value)
    return value if isinstance(value, (int, float)) or value is None else str(value)


def _write_excel(
    plan: AssignmentPlan, path: Path, fixed_dates: Mapping[int, object], facts: Mapping[str, object]
) -> None:
    fixed_rows = (
        (f.contract_id, f.user_id, f.days_overdue, f.action, _cell(fixed_dates.get(f.contract_id)))
        for f in plan.fixed
    )
    summary = [[row[c] for c in SUMMARY_COLUMNS] for row in summary_rows(plan)]
    meta = [[key, _cell(value)] for key, value in facts.items()] + [["note", note] for note in plan.notes]
    write_workbook(
        path,
        [
            (
                "Contratos Fijos",
                chain(
                    [("contract_id", "house_user_id", "days_overdue", "action", "management_date")],
                    fixed_rows,
                ),
            ),
            ("Resumen", [list(SUMMARY_COLUMNS), *summary]),
            ("Metadata", [["key", "value"], *meta]),
        ],
    )


def _write_plot(plan: AssignmentPlan, path: Path) -> Path:
    """Stacked bars per house (kept, added) with the weighted target as a black tick, as a PNG.

    Drawn with Pillow: importing matplotlib alone took longer (1.5 s quiet, 4 s on a loaded machine) than
    the rest of the reports for two bars and a tick."""
    from PIL import Image, ImageDraw, ImageFont

    width, height, left, right, top, bottom = 500, 300, 70, 20, 30, 45
    image = Image.new("RGB", (width, height), "white")
    draw, font = ImageDraw.Draw(image), ImageFont.load_default()
    houses = plan.summary
    top_value = max([max(s.total, float(s.target)) for s in houses] + [1]) * 1.1
    plot_h = height - top - bottom

    def y(value: float) -> float:
        return height - bottom - plot_h * value / top_value

    draw.line([(left, top), (left, height - bottom), (width - right, height - bottom)], fill="black")
    for tick in range(5):
        value = top_value * tick / 4
        draw.line([(left - 4, y(value)), (left, y(value))], fill="black")
        draw.text((left - 6, y(value)), f"{value:,.0f}", fill="black", font=font, anchor="rm")
    slot = (width - left - right) / max(len(houses), 1)
    for i, s in enumerate(houses):
        x0, x1 = left + slot * (i + 0.2), left + slot * (i + 0.8)
        draw.rectangle([x0, y(s.kept), x1, y(0)], fill="#1f77b4")
        draw.rectangle([x0, y(s.kept + s.added), x1, y(s.kept)], fill="#ff7f0e")
        draw.line([(x0 - 6, y(float(s.target))), (x1 + 6, y(float(s.target)))], fill="black", width=3)
        draw.text(((x0 + x1) / 2, height - bottom + 6), str(s.user_id), fill="black", font=font, anchor="mt")
    draw.text((width / 2, 8), f"Assignment {plan.as_of.isoformat()}", fill="black", font=font, anchor="mt")
    draw.text(((width + left) / 2, height - 14), "house user", fill="black", font=font, anchor="mm")
    draw.text((6, top - 14), "contracts", fill="black", font=font)
    for n, (label, colour) in enumerate((("kept", "#1f77b4"), ("added", "#ff7f0e"), ("target", "black"))):
        lx = 8 + n * 60  # the legend in the bottom-left corner, under the axis, clear of the bars
        draw.rectangle([lx, height - 18, lx + 10, height - 10], fill=colour)
        draw.text((lx + 14, height - 14), label, fill="black", font=font, anchor="lm")
    tmp = path.with_suffix(".png.tmp")
    image.save(tmp, format="PNG")
    tmp.replace(path)
    return path


def markdown_bars(plan: AssignmentPlan, width: int = 30) -> str:
    """A text bar per house (total vs target), readable in the asset's metadata without opening a file."""
    top = max([s.total for s in plan.summary] + [1])
    lines = []
    for s in plan.summary:
        bar = "█" * round(width * s.total / top)
        lines.append(f"`{s.user_id:>6}` {bar} {s.total:,} (target {float(s.target):,.1f})")
    return "  \n".join(lines)
