"""What every asset reports: row counts, a Markdown preview, the table's column schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import dagster as dg
import sqlalchemy as sa

_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (sa.Boolean, "boolean"),
    (sa.Integer, "integer"),
    (sa.Numeric, "numeric"),
    (sa.Float, "float"),
    (sa.DateTime, "timestamp"),
    (sa.Date, "date"),
    (sa.JSON, "json"),
    (sa.String, "text"),
    (sa.Text, "text"),
)


def _type_name(column: sa.Column[Any]) -> str:
    for sa_type, name in _TYPE_NAMES:
        if isinstance(column.type, sa_type):
            if isinstance(column.type, sa.Numeric) and getattr(column.type, "precision", None):
                return f"numeric({column.type.precision},{column.type.scale or 0})"
            return name
    return str(column.type).lower()


def _unique(table: sa.Table, column: sa.Column[Any]) -> bool:
    """Unique on its own: declared unique, or the whole primary key (a column of a composite key is not)."""
    if column.unique:
        return True
    key = list(table.primary_key.columns)
    singles = {
        next(iter(c.columns)).name
        for c in table.constraints
        if isinstance(c, sa.UniqueConstraint) and len(c.columns) == 1
    }
    return (key == [column]) or column.name in singles


def _description(comment: str | None) -> str | None:
    """A column comment as the UI shows it: Markdown, so a leading ``>`` (``>= 0``) is escaped, not a quote."""
    if comment and comment.lstrip().startswith(">"):
        return "\\" + comment.lstrip()
    return comment


def column_schema(table: sa.Table) -> dg.TableSchema:
    """The ``dagster/column_schema`` of a SQLAlchemy table (names, types, constraints, comments).

    ``unique`` marks a column that is unique by itself; the columns of a composite key are listed as the
    table's ``other`` constraint instead.
    """
    key = [c.name for c in table.primary_key.columns]
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=column.name,
                type=_type_name(column),
                description=_description(column.comment),
                constraints=dg.TableColumnConstraints(
                    nullable=bool(column.nullable), unique=_unique(table, column)
                ),
            )
            for column in table.columns
        ],
        constraints=dg.TableConstraints(other=[f"primary key ({', '.join(key)})"]) if len(key) > 1 else None,
    )


def table_metadata(table: sa.Table) -> dict[str, Any]:
    """Definition-time metadata for an asset stored in ``table``."""
    return {"dagster/column_schema": column_schema(table), "dagster/table_name": table.name}


def _cell(value: Any, width: int = 60) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:,.2f}" if value == value.quantize(Decimal("0.01")) else f"{value:,}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "…"


def markdown_table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None, limit: int = 10, width: int = 60
) -> str:
    """A Markdown table of the first ``limit`` rows (for ``preview`` metadata); text cells longer than
    ``width`` characters are cut with an ellipsis."""
    rows = list(rows)[:limit]
    if not rows:
        return "_no rows_"
    headers = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(row.get(h), width) for h in headers) + " |" for row in rows]
    return "\n".join(lines)


def preview(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None, limit: int = 10
) -> dg.MarkdownMetadataValue:
    return dg.MetadataValue.md(markdown_table(rows, columns, limit))


def preview_query(conn: sa.Connection, query: sa.Select[Any], limit: int = 10) -> dg.MarkdownMetadataValue:
    """A preview of the first rows ``query`` returns."""
    rows = [dict(r._mapping) for r in conn.execute(query.limit(limit))]
    return preview(rows, limit=limit)


def count_rows(conn: sa.Connection, table: sa.Table, where: sa.ColumnElement[bool] | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    if where is not None:
        query = query.where(where)
    return int(conn.execute(query).scalar_one())


def markdown_image(png: bytes, alt: str) -> str:
    """A Markdown image with the PNG inline (data URI), which the Dagster UI renders in metadata."""
    import base64

    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def figure_markdown(fig: Any, alt: str, dpi: int | None = None) -> str:
    """A matplotlib figure as an inline Markdown image; the figure is closed (no leak across runs)."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return markdown_image(buffer.getvalue(), alt)
