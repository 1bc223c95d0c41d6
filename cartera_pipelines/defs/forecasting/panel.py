"""The demand of one NIT as a matrix: articles x months, NaN before an article's first month."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from cartera_pipelines.defs.forecasting.demand import month_range


@dataclass(frozen=True)
class Panel:
    nit: str
    articles: list[str]
    names: list[str | None]
    months: list[dt.date]
    demand: np.ndarray
    """(articles, months) float; NaN before the article's first month, zeros are real zeros."""
    price: np.ndarray
    """(articles, months) average unit price, carried forward; NaN before the first sale."""
    sales_value: np.ndarray
    """(articles, months) net sales value (sales minus returns), 0 before the first month."""

    @property
    def n_articles(self) -> int:
        return len(self.articles)

    @property
    def n_months(self) -> int:
        return len(self.months)

    def starts(self) -> np.ndarray:
        """Index of each article's first month."""
        return np.argmax(~np.isnan(self.demand), axis=1)

    def history_months(self) -> np.ndarray:
        """Months of history per article (from its first month to the panel's end)."""
        return np.sum(~np.isnan(self.demand), axis=1)


def build_panel(nit: str, rows: Iterable[Mapping[str, object]]) -> Panel:
    """A panel from ``demand_monthly`` rows of one NIT (any order)."""
    rows = list(rows)
    if not rows:
        return Panel(nit, [], [], [], np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 0)))
    articles = sorted({str(r["article_code"]) for r in rows})
    first = min(r["month"] for r in rows)  # type: ignore[type-var]
    last = max(r["month"] for r in rows)  # type: ignore[type-var]
    months = month_range(first, last)  # type: ignore[arg-type]
    a_index = {a: i for i, a in enumerate(articles)}
    m_index = {m: j for j, m in enumerate(months)}
    demand = np.full((len(articles), len(months)), np.nan)
    price = np.full_like(demand, np.nan)
    value = np.zeros_like(demand)
    names: list[str | None] = [None] * len(articles)
    for r in rows:
        i, j = a_index[str(r["article_code"])], m_index[r["month"]]  # type: ignore[index]
        demand[i, j] = float(r["demand_qty"])  # type: ignore[arg-type]
        if r.get("avg_unit_price") is not None:
            price[i, j] = float(r["avg_unit_price"])  # type: ignore[arg-type]
        value[i, j] = float(r["sales_value"]) - float(r["returns_value"])  # type: ignore[arg-type]
        if r.get("article_name"):
            names[i] = str(r["article_name"])
    return Panel(nit, articles, names, months, demand, price, value)
