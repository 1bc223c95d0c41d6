"""Asset checks from an offenders query: pass when it returns nothing, else count and a sample.

    offenders = sa.select(cuotas.c.prestamo_id, ...).where(...)
    return offenders_check(conn, offenders, "loans whose capital does not sum to the principal")

The description reads ``12 loans whose capital …``; metadata holds ``offenders`` (the count) and
``sample`` (a Markdown table of the first rows, ordered by the query's first column).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import sqlalchemy as sa

from cartera_pipelines.lib.metadata import markdown_table

SAMPLE = 20


def offenders_check(
    conn: sa.Connection,
    offenders: sa.Select[Any],
    what: str,
    *,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    sample: int = SAMPLE,
    metadata: dict[str, Any] | None = None,
) -> dg.AssetCheckResult:
    subquery = offenders.subquery()
    count = int(conn.execute(sa.select(sa.func.count()).select_from(subquery)).scalar_one())
    rows = [
        dict(row._mapping)
        for row in conn.execute(sa.select(subquery).order_by(*list(subquery.c)[:1]).limit(sample))
    ]
    return rows_check(rows, what, count=count, severity=severity, sample=sample, metadata=metadata)


def rows_check(
    rows: list[dict[str, Any]],
    what: str,
    *,
    count: int | None = None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    sample: int = SAMPLE,
    metadata: dict[str, Any] | None = None,
) -> dg.AssetCheckResult:
    """The same result from offenders already in hand (computed in Python, or read elsewhere)."""
    count = len(rows) if count is None else count
    return dg.AssetCheckResult(
        passed=count == 0,
        severity=severity,
        description=f"{count:,} {what}" if count else f"no {what}",
        metadata={
            "offenders": count,
            "sample": dg.MetadataValue.md(markdown_table(rows[:sample], limit=sample)),
            **(metadata or {}),
        },
    )
