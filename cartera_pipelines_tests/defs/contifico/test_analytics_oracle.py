"""Oracle: every inventory measure recomputed in plain Python from the hand-built data set (not from the
warehouse), compared with what the set-based SQL wrote, on SQLite and on the real PostgreSQL.

The data set (``analytics_data.py``) has credit notes (one larger than the product's sales), voided,
deleted and LQC documents, a sale after ``as_of``, zero-stock and dead-stock products, a service, a
product in two warehouses and a supplier with one delivery (and a purchase never delivered).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartera_pipelines.defs.contifico.analytics import reorder, sql, tables
from cartera_pipelines.resources.database import create_store_engine
from cartera_pipelines_tests.defs.contifico.analytics_data import (
    AS_OF,
    NOW,
    Dataset,
    Document,
    Movement,
    Product,
    load,
    small_dataset,
)

Q6, Q4, Q2 = Decimal("0.000001"), Decimal("0.0001"), Decimal("0.01")


def q(value: Decimal, step: Decimal) -> Decimal:
    return value.quantize(step, ROUND_HALF_UP)


@pytest.fixture(params=["sqlite", "postgresql"])
def computed(request: pytest.FixtureRequest, tmp_path) -> dict[str, list[dict]]:
    url = (
        f"sqlite:///{tmp_path / 'w.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = create_store_engine(url)
    load(engine, small_dataset())
    with engine.begin() as conn:
        sql.write_sales_velocity(conn, AS_OF, NOW)
        sql.write_stock_position(conn, AS_OF, NOW)
        sql.write_turnover(conn, AS_OF, NOW)
        sql.write_supplier_lead_times(conn, AS_OF, NOW, horizon_days=60, window_days=365)
    with engine.connect() as conn:
        out = {t.name: sql.read_slice(conn, t, AS_OF) for t in tables.ANALYTICS_TABLES}
        out["reorder_inputs"] = sql.read_reorder_inputs(conn, AS_OF)
    engine.dispose()
    return out


# -- the oracle: plain Python over the data set ---------------------------------------------------------
def net_sales(data: Dataset, days: int) -> list[tuple[str, dt.date, Decimal]]:
    start = AS_OF - dt.timedelta(days=days)
    return [
        (product, doc.day, -qty if doc.kind == "NCT" else qty)
        for doc in data.sales
        if doc.kind in ("FAC", "NCT") and doc.status != "A" and not doc.deleted and start < doc.day <= AS_OF
        for product, qty in doc.lines
    ]


def exit_shares(data: Dataset) -> dict[str, dict[str, Decimal]]:
    start = AS_OF - dt.timedelta(days=90)
    exits: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for m in data.movements:
        if m.kind == "EGR" and start < m.day <= AS_OF:
            for product, qty in m.lines:
                exits[product][m.warehouse] += qty
    return {p: {w: qty / sum(ws.values()) for w, qty in ws.items()} for p, ws in exits.items()}


def expected_velocity(data: Dataset) -> dict[tuple[str, str], dict]:
    sold = net_sales(data, 90)
    shares = exit_shares(data)
    result = {}
    for product in sorted({p for p, _, _ in sold}):
        u90 = sum(qty for p, _, qty in sold if p == product)
        u30 = sum(qty for p, d, qty in sold if p == product and d > AS_OF - dt.timedelta(days=30))
        for warehouse, share in [("*", Decimal(1)), *(shares.get(product) or {"-": Decimal(1)}).items()]:
            v30 = q(max(u30 * share, Decimal(0)) / 30, Q6)
            v90 = q(max(u90 * share, Decimal(0)) / 90, Q6)
            result[(product, warehouse)] = {
                "units_30": q(u30 * share, Q6),
                "units_90": q(u90 * share, Q6),
                "velocity_30": v30,
                "velocity_90": v90,
                "trend": q(v30 / v90, Q4) if v90 else None,
            }
    return result


def expected_stock(data: Dataset) -> dict[tuple[str, str], dict]:
    velocity = expected_velocity(data)
    sold_90 = {p for p, _, qty in net_sales(data, 90) if qty > 0}
    ledger: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for m in data.movements:
        if m.day <= AS_OF:
            for product, qty in m.lines:
                ledger[product][m.warehouse] += qty if m.kind == "ING" else -qty
    result = {}
    for p in data.products:
        if p.kind == "SER":
            continue
        per_warehouse = dict(ledger[p.id]) if p.id in ledger else {"-": p.stock}
        rows = [*per_warehouse.items(), ("*", sum(per_warehouse.values()))]
        for warehouse, stock in rows:
            v90 = velocity.get((p.id, warehouse), {}).get("velocity_90", Decimal(0))
            coverage = Decimal(0) if stock <= 0 else (q(stock / v90, Q2) if v90 > 0 else None)
            result[(p.id, warehouse)] = {
                "stock_source": "ledger" if p.id in ledger else "product",
                "stock": stock,
                "stock_value": q(stock * p.cost, Q2),
                "days_coverage": coverage,
                "below_minimum": (stock < p.minimum) if warehouse == "*" and p.minimum is not None else None,
                "dead_stock": stock > 0 and p.id not in sold_90,
            }
    return result


def expected_turnover(data: Dataset) -> dict[tuple[str, str], dict]:
    stock = expected_stock(data)
    sold = defaultdict(Decimal)
    for product, _, qty in net_sales(data, 365):
        sold[product] += qty
    bought = defaultdict(Decimal)
    for doc in data.purchases:
        if doc.kind == "FAC" and AS_OF - dt.timedelta(days=365) < doc.day <= AS_OF:
            for product, qty in doc.lines:
                bought[product] += qty
    rows = {}
    for p in data.products:
        if p.kind == "SER":
            continue
        closing = stock[(p.id, "*")]["stock"]
        opening = closing - bought[p.id] + sold[p.id]
        rows[p.id] = (
            p.category or "-",
            q(sold[p.id] * p.cost, Q2),
            q(max(opening, Decimal(0)) * p.cost, Q2),
            q(max(closing, Decimal(0)) * p.cost, Q2),
        )
    result = {}
    groups: dict[str, list] = defaultdict(list)
    for product, (category, cogs, opening, closing) in rows.items():
        result[("product", product)] = (cogs, opening, closing)
        groups[category].append((cogs, opening, closing))
    for category, items in groups.items():
        result[("category", category)] = tuple(sum(x[i] for x in items) for i in range(3))
    return {
        key: {
            "cogs": cogs,
            "opening_value": opening,
            "closing_value": closing,
            "average_inventory_value": q((opening + closing) / 2, Q2),
            "turnover": q(cogs / ((opening + closing) / 2), Q4) if opening + closing > 0 else None,
        }
        for key, (cogs, opening, closing) in result.items()
    }


def expected_lead_times(data: Dataset) -> dict[tuple[str, str], dict]:
    entries = defaultdict(list)
    for m in data.movements:
        if m.kind == "ING" and m.day <= AS_OF:
            for product, _ in m.lines:
                entries[product].append(m.day)
    leads: dict[tuple[str, str], list[int]] = defaultdict(list)
    purchases: dict[tuple[str, str], int] = defaultdict(int)
    for doc in data.purchases:
        if doc.kind != "FAC" or not (AS_OF - dt.timedelta(days=365) < doc.day <= AS_OF):
            continue
        for product in {p for p, _ in doc.lines}:
            for supplier in (doc.person, "*"):
                purchases[(supplier, product)] += 1
            later = [(e - doc.day).days for e in entries[product] if 0 <= (e - doc.day).days <= 60]
            if later:
                for supplier in (doc.person, "*"):
                    leads[(supplier, product)].append(min(later))
    result = {}
    for key, count in purchases.items():
        values = sorted(leads.get(key, []))
        result[key] = {
            "purchases": count,
            "deliveries": len(values),
            "median_days": q(Decimal(str(statistics.median(values))), Q2) if values else None,
            "p90_days": values[math.ceil(0.9 * len(values)) - 1] if values else None,
        }
    return result


def _pick(rows: list[dict], keys: tuple[str, ...], fields) -> dict:
    return {tuple(r[k] for k in keys): {f: r[f] for f in fields} for r in rows}


def test_sales_velocity_matches_the_oracle(computed: dict) -> None:
    expected = expected_velocity(small_dataset())
    got = _pick(computed["contifico_sales_velocity"], ("product_id", "warehouse_id"), expected[("P1", "*")])
    assert got == expected
    # the product in two warehouses: its sales spread 80/20 by its exits; the credit note nets them
    assert got[("P1", "W1")]["units_90"] == Decimal("30.4") and got[("P1", "*")]["units_30"] == Decimal(8)
    # a credit note larger than the sales: net units negative, velocity clamped at 0
    assert got[("P2", "*")]["units_30"] == Decimal(-2) and got[("P2", "*")]["velocity_30"] == 0


def test_stock_position_matches_the_oracle(computed: dict) -> None:
    expected = expected_stock(small_dataset())
    got = _pick(computed["contifico_stock_position"], ("product_id", "warehouse_id"), expected[("P1", "*")])
    assert got == expected
    assert ("P4", "*") not in got  # services hold no stock
    assert got[("P3", "*")]["dead_stock"] and got[("P5", "*")]["below_minimum"]


def test_turnover_matches_the_oracle(computed: dict) -> None:
    expected = expected_turnover(small_dataset())
    got = _pick(computed["contifico_turnover"], ("scope", "scope_id"), expected[("product", "P1")])
    assert got == expected


def test_supplier_lead_times_match_the_oracle(computed: dict) -> None:
    expected = expected_lead_times(small_dataset())
    got = _pick(
        computed["contifico_supplier_lead_times"], ("supplier_id", "product_id"), expected[("U1", "P1")]
    )
    assert got == expected
    assert got[("U2", "P5")] == {"purchases": 1, "deliveries": 1, "median_days": Decimal(7), "p90_days": 7}
    assert got[("U2", "P3")]["deliveries"] == 0  # bought, never entered


def test_reorder_suggestions_match_the_oracle(computed: dict) -> None:
    """Safety stock, reorder point and order quantity recomputed with floats from the raw daily sales."""
    data = small_dataset()
    policy = reorder.Policy(service_level=0.95, target_coverage_days=30, default_lead_time_days=7)
    rows = {
        (r["product_id"], r["warehouse_id"]): r
        for r in reorder.suggestions(computed["reorder_inputs"], policy)
    }
    daily: dict[str, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for product, day, qty in net_sales(data, 90):
        daily[product][day] += qty
    leads = expected_lead_times(data)
    velocity = expected_velocity(data)
    stock = expected_stock(data)
    z = statistics.NormalDist().inv_cdf(0.95)
    for (product, warehouse), position in stock.items():
        v = velocity.get((product, warehouse), {}).get("velocity_90", Decimal(0))
        share = float(v / velocity[(product, "*")]["velocity_90"]) if v else 0.0
        if (product, warehouse) in velocity and not v:
            share = 1.0 if warehouse in ("*", "-") else share
        series = [float(daily[product].get(AS_OF - dt.timedelta(days=k), 0)) for k in range(90)]
        sigma = statistics.pstdev(series) * share
        lead = (
            float(leads[("*", product)]["median_days"])
            if ("*", product) in leads and leads[("*", product)]["median_days"] is not None
            else 7.0
        )
        safety = z * sigma * math.sqrt(lead)
        row = rows[(product, warehouse)]
        assert float(row["safety_stock"]) == pytest.approx(safety, abs=1e-3), (product, warehouse)
        assert float(row["reorder_point"]) == pytest.approx(float(v) * lead + safety, abs=1e-3)
        needs = v > 0 and float(position["stock"]) <= float(v) * lead + safety
        quantity = math.ceil(float(v) * (lead + 30) + safety - float(position["stock"])) if needs else 0
        assert row["suggested_quantity"] == max(quantity, 0), (product, warehouse)
    # P5 (3 units, minimo 8, one delivery of 7 days) is the one to order, first in its warehouse and overall
    assert rows[("P5", "*")]["urgency_rank"] == 1 and rows[("P5", "W1")]["urgency_rank"] == 1
    assert rows[("P5", "*")]["suggested_quantity"] == Decimal(3)
    assert rows[("P1", "*")]["urgency_rank"] is None


# -- random data sets: SQLite, PostgreSQL and the oracle agree ------------------------------------------
def _datasets() -> st.SearchStrategy[Dataset]:
    products = st.lists(
        st.tuples(
            st.integers(0, 60),
            st.integers(1, 50_000).map(lambda cents: Decimal(cents) / 100),
            st.one_of(st.none(), st.integers(0, 20).map(Decimal)),
            st.sampled_from(["C1", "C2", None]),
        ),
        min_size=1,
        max_size=4,
    )
    offset = st.integers(0, 420).map(lambda d: AS_OF - dt.timedelta(days=d - 5))  # a few after as_of
    quantity = st.integers(1, 25).map(Decimal)

    def build(items: list, sales: list, moves: list, buys: list) -> Dataset:
        ids = [f"P{n}" for n in range(1, len(items) + 1)]
        pick = lambda n: ids[n % len(ids)]  # noqa: E731
        return Dataset(
            warehouses={"W1": "Norte", "W2": "Sur", "W3": "Centro"},
            products=[Product(ids[n], Decimal(s), c, m, cat) for n, (s, c, m, cat) in enumerate(items)],
            sales=[Document(f"S{n}", k, d, ((pick(p), q),)) for n, (k, d, p, q) in enumerate(sales)],
            movements=[
                Movement(f"M{n}", k, d, w, ((pick(p), q),)) for n, (k, d, w, p, q) in enumerate(moves)
            ],
            purchases=[
                Document(f"B{n}", "FAC", d, ((pick(p), q),), person=u) for n, (u, d, p, q) in enumerate(buys)
            ],
        )

    product = st.integers(0, 3)
    return st.builds(
        build,
        products,
        st.lists(st.tuples(st.sampled_from(["FAC", "FAC", "NCT"]), offset, product, quantity), max_size=12),
        st.lists(
            st.tuples(
                st.sampled_from(["ING", "EGR"]),
                offset,
                st.sampled_from(["W1", "W2", "W3"]),
                product,
                quantity,
            ),
            max_size=10,
        ),
        st.lists(st.tuples(st.sampled_from(["U1", "U2"]), offset, product, quantity), max_size=6),
    )


def _compute(engine: sa.Engine, data: Dataset) -> dict[str, list[dict]]:
    load(engine, data)
    with engine.begin() as conn:
        sql.write_sales_velocity(conn, AS_OF, NOW)
        sql.write_stock_position(conn, AS_OF, NOW)
        sql.write_turnover(conn, AS_OF, NOW)
        sql.write_supplier_lead_times(conn, AS_OF, NOW, horizon_days=60, window_days=365)
    with engine.connect() as conn:
        return {
            t.name: [
                {k: v for k, v in r.items() if k != "computed_at"} for r in sql.read_slice(conn, t, AS_OF)
            ]
            for t in tables.ANALYTICS_TABLES[:4]
        }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_datasets())
def test_random_data_sets_agree_on_both_engines_and_with_the_oracle(
    data: Dataset, postgres_url: str, tmp_path
) -> None:
    sqlite = create_store_engine(f"sqlite:///{tmp_path / 'random.db'}")
    postgres = create_store_engine(postgres_url)
    on_sqlite, on_postgres = _compute(sqlite, data), _compute(postgres, data)
    sqlite.dispose()
    postgres.dispose()
    assert on_sqlite == on_postgres
    velocity = expected_velocity(data)
    assert _pick(
        on_postgres["contifico_sales_velocity"],
        ("product_id", "warehouse_id"),
        ("velocity_30", "velocity_90", "trend"),
    ) == {k: {f: v[f] for f in ("velocity_30", "velocity_90", "trend")} for k, v in velocity.items()}
    stock = expected_stock(data)
    fields = ("stock", "stock_value", "days_coverage", "below_minimum", "dead_stock")
    assert _pick(on_postgres["contifico_stock_position"], ("product_id", "warehouse_id"), fields) == {
        k: {f: v[f] for f in fields} for k, v in stock.items()
    }
    turnover = expected_turnover(data)
    assert _pick(on_postgres["contifico_turnover"], ("scope", "scope_id"), ("cogs", "turnover")) == {
        k: {f: v[f] for f in ("cogs", "turnover")} for k, v in turnover.items()
    }
    leads = expected_lead_times(data)
    fields = ("purchases", "deliveries", "median_days", "p90_days")
    assert _pick(on_postgres["contifico_supplier_lead_times"], ("supplier_id", "product_id"), fields) == leads
