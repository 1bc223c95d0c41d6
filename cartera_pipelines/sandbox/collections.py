"""Sandbox data for the collections family: a lending ledger and the operations assignment tables.

Deterministic for a (seed, scale, today): 4,000 contracts per unit of scale with 5 installments each,
dated relative to ``today`` (default: today in Bogotá) so the demo's default run date finds a realistic
spread — about 35 % current, 25 % 1–60 days and 40 % 61+ days overdue, 10 % of contracts not ``ACTIVO``.
Operations: managements by houses 45/81 and other users (``pago_total`` on about 4 % of contracts,
some from both houses so the latest wins, some by non-house users), current assignments for 20 % of the
contracts (unbalanced 60/40, a share of them now at 0–60 days or not ``ACTIVO``, a few held by a
non-house user) each with its open history row, plus closed history rows.

Volumes are generated with numpy and loaded in bulk (``LOAD DATA LOCAL INFILE`` on MySQL, ``COPY`` on
PostgreSQL, executemany on SQLite), so ``--scale 250`` (1 M contracts, 5 M installments, 200 k
assignments) is the benchmark's data set.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
from collections.abc import Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa

from cartera_pipelines.defs.collections.tables import LENDING_TABLES, OPERATIONS_TABLES
from cartera_pipelines.lib.bulk import NULL, copy_stream
from cartera_pipelines.lib.dates import BOGOTA, today_in
from cartera_pipelines.sandbox.db import recreate_tables
from cartera_pipelines.sandbox.targets import SandboxTargets

CONTRACTS_PER_SCALE = 4_000
INSTALLMENTS = 5
HOUSES = (45, 81)
OTHER_USERS = (12, 33, 77)
EFFECTS = ("llamada", "promesa_pago", "sin_contacto", "acuerdo_pago", "pago_parcial")


def lending_frames(
    n: int, rng: np.random.Generator, today: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """``contract_status`` and ``contract_amortization`` rows, plus each contract's intended days overdue."""
    ids = np.arange(1, n + 1, dtype=np.int64)
    status = rng.choice(
        np.array(["ACTIVO", "CANCELADO", "CASTIGADO", "SUSPENDIDO"]), size=n, p=[0.90, 0.06, 0.02, 0.02]
    )
    category = rng.choice(3, size=n, p=[0.35, 0.25, 0.40])  # current, 1–60, 61+
    days = np.where(
        category == 0,
        0,
        np.where(
            category == 1,
            rng.integers(1, 61, size=n),
            61 + np.minimum(rng.exponential(150, size=n), 840).astype(np.int64),
        ),
    )
    first_unpaid = rng.integers(0, INSTALLMENTS, size=n)
    # a current contract's first unpaid installment is due today or within the month; 1 % are fully paid
    current_offset = rng.integers(0, 30, size=n)
    paid_off = (category == 0) & (rng.random(n) < 0.03)
    today64 = np.datetime64(today.isoformat(), "D")
    k = np.arange(INSTALLMENTS)
    anchor = np.where(category == 0, today64 + current_offset, today64 - days)  # date of the first unpaid one
    dates = anchor[:, None] + (k[None, :] - first_unpaid[:, None]) * 30
    amount_cents = rng.integers(5_000_000, 90_000_000, size=n)
    pending = np.where(k[None, :] < first_unpaid[:, None], 0, amount_cents[:, None])
    partial = rng.random(n) < 0.2  # part of the oldest unpaid installment was paid
    pending[np.arange(n), first_unpaid] = np.where(
        partial, (amount_cents * rng.uniform(0.1, 0.9, size=n)).astype(np.int64), amount_cents
    )
    pending[paid_off] = 0
    dates[paid_off] = today64 - 30 * (INSTALLMENTS - k[None, :])
    days = np.where(paid_off, 0, days)
    days = np.where(status == "ACTIVO", days, 0)
    status_df = pd.DataFrame({"contract_id": ids, "status": status})
    cents = pending.reshape(-1)
    amort_df = pd.DataFrame(
        {
            "contract_id": np.repeat(ids, INSTALLMENTS),
            "payment_date": pd.to_datetime(dates.reshape(-1)).strftime("%Y-%m-%d"),
            "pending_balance": _money(cents),
        }
    )
    return status_df, amort_df, days


def _money(cents: np.ndarray) -> np.ndarray:
    """Integer cents as exact decimal strings ("1234.05"), never through floats."""
    whole = (cents // 100).astype(str)
    frac = np.char.zfill((cents % 100).astype(str), 2)
    return np.char.add(np.char.add(whole, "."), frac)


def operations_frames(
    n: int, days: np.ndarray, rng: np.random.Generator, today: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``managements``, ``contract_advisors`` and ``contract_advisors_history`` rows."""
    ids = np.arange(1, n + 1, dtype=np.int64)
    today_ts = pd.Timestamp(today)

    # managements: everyday effects by everyone, pago_total by the houses (some twice), a few by others
    m_count = n // 2
    m_contracts = rng.choice(ids, size=m_count)
    m_users = rng.choice(np.array(HOUSES + OTHER_USERS), size=m_count)
    m_effects = rng.choice(np.array(EFFECTS), size=m_count)
    fixed_count = max(4, n * 4 // 100)
    fixed_contracts = rng.choice(ids, size=fixed_count, replace=False)
    fixed_users = rng.choice(np.array(HOUSES), size=fixed_count)
    both = fixed_contracts[: fixed_count // 10]  # a later pago_total by the other house: the latest wins
    both_users = np.where(fixed_users[: fixed_count // 10] == HOUSES[0], HOUSES[1], HOUSES[0])
    others = rng.choice(ids, size=max(1, n // 100))
    contracts = np.concatenate([m_contracts, fixed_contracts, both, others])
    users = np.concatenate(
        [m_users, fixed_users, both_users, rng.choice(np.array(OTHER_USERS), size=others.size)]
    )
    effects = np.concatenate(
        [m_effects, np.full(fixed_count + both.size + others.size, "pago_total", dtype=m_effects.dtype)]
    )
    minutes = rng.integers(60 * 24 * 10, 60 * 24 * 180, size=contracts.size)
    minutes[m_count + fixed_count : m_count + fixed_count + both.size] = rng.integers(
        0, 60 * 24 * 10, size=both.size
    )
    management_df = pd.DataFrame(
        {
            "contract_id": contracts,
            "user_id": users,
            "effect": effects,
            "management_date": (today_ts - pd.to_timedelta(minutes, unit="m")).strftime("%Y-%m-%d %H:%M:%S"),
        }
    )

    # current assignments (20 % of contracts): mostly 61+, some now 0–60 or not ACTIVO; unbalanced 60/40
    a_count = n // 5
    over = ids[days >= 61]
    under = ids[days < 61]
    from_over = min(over.size, a_count * 8 // 10)
    chosen = np.concatenate(
        [
            rng.choice(over, size=from_over, replace=False),
            rng.choice(under, size=a_count - from_over, replace=False),
        ]
    )
    chosen.sort()
    holders = rng.choice(np.array(HOUSES + OTHER_USERS[:1]), size=chosen.size, p=[0.59, 0.40, 0.01])
    assigned = today_ts - pd.to_timedelta(rng.integers(1, 300, size=chosen.size), unit="D")
    advisors_df = pd.DataFrame(
        {"contract_id": chosen, "user_id": holders, "assigned_date": assigned.strftime("%Y-%m-%d")}
    )

    # history: the open row of every current assignment, plus closed rows of earlier assignments
    closed_count = a_count // 3
    closed_contracts = rng.choice(ids, size=closed_count)
    closed_start = today_ts - pd.to_timedelta(rng.integers(300, 700, size=closed_count), unit="D")
    closed_end = closed_start + pd.to_timedelta(rng.integers(20, 280, size=closed_count), unit="D")
    history_df = pd.concat(
        [
            pd.DataFrame(
                {
                    "contract_id": closed_contracts,
                    "user_id": rng.choice(np.array(HOUSES), size=closed_count),
                    "fecha_inicial": closed_start.strftime("%Y-%m-%d"),
                    "fecha_terminal": closed_end.strftime("%Y-%m-%d"),
                }
            ),
            pd.DataFrame(
                {
                    "contract_id": chosen,
                    "user_id": holders,
                    "fecha_inicial": advisors_df["assigned_date"],
                    "fecha_terminal": None,
                }
            ),
        ],
        ignore_index=True,
    )
    return management_df, advisors_df, history_df


def _load(engine: sa.Engine, table: sa.Table, frame: pd.DataFrame) -> int:
    """Bulk-load ``frame`` (columns named as the table's) in the fastest way the engine offers."""
    columns = list(frame.columns)
    backend = engine.dialect.name
    if backend == "postgresql":
        buffer = io.StringIO()
        frame.to_csv(buffer, sep="\t", index=False, header=False, na_rep=NULL)
        with engine.begin() as conn:
            copy_stream(conn, table.name, columns, [buffer.getvalue()])
    elif backend == "mysql":
        fd, path = tempfile.mkstemp(suffix=".csv")
        os.close(fd)
        try:
            frame.to_csv(path, index=False, header=False, na_rep="\\N")
            loader = sa.create_engine(engine.url, connect_args={"local_infile": True})
            with loader.begin() as conn:
                conn.exec_driver_sql(
                    f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table.name} "
                    f"FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' "
                    f"({', '.join(columns)})"
                )
            loader.dispose()
        finally:
            os.unlink(path)
    else:
        values = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
        raw = engine.raw_connection()
        try:
            raw.cursor().executemany(
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                values,
            )
            raw.commit()
        finally:
            raw.close()
    return len(frame)


def load_tables(url: str, tables: Sequence[sa.Table], frames: Sequence[pd.DataFrame]) -> dict[str, int]:
    engine = recreate_tables(url, tables)
    try:
        counts = {
            table.name: _load(engine, table, frame) for table, frame in zip(tables, frames, strict=True)
        }
        # fresh statistics, as a production table has them (the planner picks its joins from them)
        if engine.dialect.name in ("postgresql", "mysql"):
            with engine.begin() as conn:
                for table in tables:
                    conn.exec_driver_sql(
                        ("ANALYZE " if engine.dialect.name == "postgresql" else "ANALYZE TABLE ") + table.name
                    )
        return counts
    finally:
        engine.dispose()


def build(
    targets: SandboxTargets,
    *,
    scale: int = 1,
    seed: int = 42,
    today: dt.date | None = None,
    parts: Sequence[str] = ("lending", "operations"),
) -> dict[str, int]:
    """Recreate and fill the lending tables and the operations assignment tables.

    ``parts`` limits the stores written (the benchmark resets only ``operations`` between runs; the
    operations rows depend on the lending data, which is regenerated in memory but not reloaded).
    """
    today = today or today_in(BOGOTA)
    rng = np.random.default_rng(seed)
    n = CONTRACTS_PER_SCALE * scale
    status_df, amort_df, days = lending_frames(n, rng, today)
    counts: dict[str, int] = {}
    if "lending" in parts:
        # LENDING_TABLES = (contract_status, contract_amortization); OPERATIONS_TABLES = (managements,
        # contract_advisors, contract_advisors_history): the frames below follow that order.
        counts |= load_tables(targets.lending_url, LENDING_TABLES, [status_df, amort_df])
    del amort_df, status_df
    if "operations" in parts:
        management_df, advisors_df, history_df = operations_frames(n, days, rng, today)
        counts |= load_tables(
            targets.operations_url, OPERATIONS_TABLES, [management_df, advisors_df, history_df]
        )
    return counts
