"""Synthetic TNS movements with seasonal demand, for the forecasting tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np

from cartera_pipelines.defs.forecasting.demand import add_months


def seasonal_demand(
    n_articles: int, months: int, seed: int = 0, noise: float = 0.15, level: float = 40.0
) -> np.ndarray:
    """(articles, months) integer demand: level x (1 + yearly seasonality) x trend, with noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    base = level * rng.lognormal(0, 0.5, n_articles)[:, None]
    amplitude = rng.uniform(0.3, 0.7, n_articles)[:, None]
    phase = rng.uniform(0, 2 * np.pi, n_articles)[:, None]
    trend = 1 + rng.normal(0, 0.005, n_articles)[:, None] * t
    mean = base * (1 + amplitude * np.sin(2 * np.pi * t / 12 + phase)) * trend
    return np.maximum(np.round(mean * (1 + rng.normal(0, noise, mean.shape))), 0)


def movement_rows(
    nit: str,
    demand: np.ndarray,
    first_month: dt.date,
    *,
    returns_every: int = 5,
    extra_documents: bool = True,
) -> list[dict[str, object]]:
    """``tns_inventory_movements`` rows producing exactly ``demand`` (sales minus returns) per article
    and month, split over the company-years of the calendar years (``<nit>_<year>``), two warehouses,
    with some sales returns and (``extra_documents``) purchases that demand must ignore."""
    rows: list[dict[str, object]] = []
    ids: dict[int, int] = {}
    extracted = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def add(article: int, month: dt.date, doc: str, code: str, qty: int, warehouse: str, day: int) -> None:
        year = month.year
        ids[year] = ids.get(year, 0) + 1
        price = Decimal(10 + article)
        rows.append(
            {
                "company_year": f"{nit}_{year}",
                "company_nit": nit,
                "fiscal_year": year,
                "company_code": "01",
                "kardex_id": ids[year],
                "dekardex_id": ids[year],
                "document_type": doc,
                "document_code": code,
                "prefix": "A",
                "number": str(ids[year]),
                "movement_date": month.replace(day=day),
                "article_code": f"ART{article:03d}",
                "article_name": f"Article {article}",
                "warehouse_code": warehouse,
                "warehouse_name": f"Bodega {warehouse}",
                "third_party_nit": "800100200",
                "third_party_name": "Cliente",
                "quantity": Decimal(qty),
                "unit_price_base": price,
                "unit_price_tax": price,
                "unit_price_net": price,
                "discount": Decimal("0"),
                "line_total": price * qty,
                "extracted_at": extracted,
            }
        )

    for a in range(demand.shape[0]):
        for m in range(demand.shape[1]):
            qty = int(demand[a, m])
            month = add_months(first_month, m)
            returned = 1 if (a + m) % returns_every == 0 else 0
            if qty + returned == 0:
                continue
            first = (qty + returned) // 2
            add(a, month, "FACTURA_VENTA", "FV", first, "01", 3)
            if qty + returned - first:
                add(a, month, "FACTURA_VENTA", "FV", qty + returned - first, "02", 17)
            if returned:
                add(a, month, "DEVOLUCION_VENTA", "DV", returned, "01", 25)
            if extra_documents and m % 3 == 0:
                add(a, month, "FACTURA_COMPRA", "FC", 500, "01", 1)
    return [r for r in rows if r["quantity"] != 0]
