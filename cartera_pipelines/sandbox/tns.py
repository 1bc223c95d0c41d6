"""Sandbox TNS servers: an ADMIN database and company-year databases per server, in SQLite or Firebird.

Deterministic for a seed. Two servers (``targets.tns.servers``); the second holds a stale copy of a
company-year the first also has (a duplicate discovery must report). Company names carry accents and
ñ (all WIN1252); NITs are written with a valid check digit, an invalid one, and none. Every company
has 2–3 fiscal years of sales (FV) with yearly seasonality and a trend per article, sales returns
(DV), purchases (FC/DC), entry remissions (RE), a few documents with codes we must skip (NC, XX), and
voided or unposted documents that must not be extracted. ``scale`` multiplies the lines.

The tables come from ``defs/tns/tables.py`` (the same definition the extraction reads).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import random
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine.default import DefaultDialect

from cartera_pipelines.defs.tns.nit import check_digit
from cartera_pipelines.defs.tns.tables import (
    ADMIN_TABLES,
    BODEGA,
    COMPANY_TABLES,
    DEKARDEX,
    EMPRESAS,
    KARDEX,
    MATERIAL,
    TERCEROS,
)
from cartera_pipelines.sandbox.targets import SandboxTargets, TnsTarget

YEARS_ALL = (2023, 2024, 2025)
CENT = Decimal("0.01")
FOUR = Decimal("0.0001")


@dataclass(frozen=True)
class Company:
    key: str
    name: str
    nit: str
    """As written in EMPRESAS.NIT."""
    years: tuple[int, ...]
    server: int
    articles: int


def _with_dv(number: str, dotted: bool = False) -> str:
    text = f"{int(number):,}".replace(",", ".") if dotted else number
    return f"{text}-{check_digit(number)}"


def _bad_dv(number: str) -> str:
    return f"{number}-{(int(check_digit(number)) + 3) % 10}"


COMPANIES: tuple[Company, ...] = (
    Company("andina", "Distribuidora Andina S.A.S.", _with_dv("900123456", dotted=True), YEARS_ALL, 0, 40),
    Company("nandu", "Comercializadora Ñandú Ltda.", _with_dv("860512330"), YEARS_ALL, 0, 36),
    Company("alamo", "Ferretería El Álamo", _bad_dv("800197268"), (2024, 2025), 1, 24),
    Company("espanola", "Panadería y Pastelería La Española", "901.455.782", YEARS_ALL, 1, 30),
)
DUPLICATE = ("andina", 2025)
"""Company-year whose stale copy also lives on the second server."""

ARTICLE_WORDS = (
    "Café molido",
    "Azúcar morena",
    "Harina de trigo",
    "Aceite de girasol",
    "Arroz premium",
    "Panela",
    "Chocolate de mesa",
    "Piñata surtida",
    "Jabón de baño",
    "Champú anticaspa",
    "Crema dental",
    "Tornillo galvanizado",
    "Tuerca hexagonal",
    "Pintura látex",
    "Brocha de cerdas",
    "Martillo",
    "Guantes de nitrilo",
    "Cinta aislante",
    "Bombillo LED",
    "Cable eléctrico",
    "Mantequilla",
    "Queso campesino",
    "Leche entera",
    "Yogur de fresa",
    "Pan tajado",
    "Galletas de avena",
    "Té de manzanilla",
    "Atún en aceite",
    "Fríjol cargamanto",
    "Lenteja",
    "Garbanzo",
    "Maíz pira",
    "Bocadillo veleño",
    "Arequipe",
    "Salsa de tomate",
    "Mayonesa",
    "Vinagre",
    "Sal refinada",
    "Pasta spaghetti",
    "Cereal de maíz",
    "Avena en hojuelas",
    "Detergente en polvo",
)
SIZES = ("250 g", "500 g", "1 kg", "2 kg", "x 12 und", "x 6 und", "1 L", "3 L", "caja", "bolsa")
PERSON_NAMES = (
    "José Muñoz",
    "María Peña",
    "Andrés Gómez",
    "Lucía Ibáñez",
    "Tienda La Niña",
    "Supermercado El Ñato",
    "Almacén Éxito Norte",
    "Droguería San José",
    "Ferretería Ávila",
    "Cafetería Ramírez",
    "Minimercado Doña Inés",
    "Distribuciones Suárez",
    "Panadería Begoña",
    "Granero Núñez",
    "Comercial Gutiérrez",
    "Autoservicio Cañaveral",
    "Papelería Colón",
    "Restaurante El Fogón",
)
SUPPLIER_NAMES = (
    "Alimentos Cárnicos S.A.S.",
    "Molinos Ñuble S.A.",
    "Industrias Químicas Peña",
    "Lácteos La Pradera",
    "Distribuidora Ferretera Núñez",
    "Importadora Andrés & Cía.",
)


@dataclass(frozen=True)
class Article:
    matid: int
    code: str
    name: str
    price: Decimal
    tax_rate: Decimal
    base_lines: float
    trend: float
    amplitude: float
    phase: int
    decimals: bool


def _articles(rng: random.Random, n: int) -> list[Article]:
    words = rng.sample(ARTICLE_WORDS, k=min(n, len(ARTICLE_WORDS)))
    articles = []
    for i in range(n):
        word = words[i % len(words)]
        articles.append(
            Article(
                matid=i + 1,
                code=f"ART-{i + 1:04d}",
                name=f"{word} {rng.choice(SIZES)}",
                price=Decimal(rng.randint(1_500, 180_000)).quantize(CENT)
                + Decimal(rng.choice((0, 50, 90))) / 100,
                tax_rate=rng.choice((Decimal("0.19"), Decimal("0.19"), Decimal("0.05"), Decimal("0"))),
                base_lines=rng.uniform(1.2, 3.5),
                trend=rng.uniform(-0.10, 0.30),
                amplitude=rng.uniform(0.25, 0.6),
                phase=rng.randint(0, 11),
                decimals=rng.random() < 0.15,
            )
        )
    return articles


# ---------------------------------------------------------------------------------------------
# Writers: the same tables and rows into SQLite files or Firebird databases.


class _Writer:
    """Creates tables and inserts rows (qmark parameters) on a DB-API connection."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.pending = 0

    def create(self, tables: Sequence[sa.Table]) -> None:
        cursor = self.conn.cursor()
        dialect = DefaultDialect()
        for table in tables:
            cursor.execute(str(sa.schema.CreateTable(table).compile(dialect=dialect)).strip())
            for index in table.indexes:
                cursor.execute(str(sa.schema.CreateIndex(index).compile(dialect=dialect)).strip())
        self.conn.commit()
        cursor.close()

    def insert(self, table: sa.Table, rows: Sequence[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        columns = [c.name for c in table.columns]
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        cursor = self.conn.cursor()
        cursor.executemany(sql, rows)
        cursor.close()
        self._committed(len(rows))
        return len(rows)

    def _committed(self, n: int) -> None:
        # Commit per chunk, not per statement: a commit is a synchronous write on Firebird.
        self.pending += n
        if self.pending >= 50_000:
            self.conn.commit()
            self.pending = 0

    def close(self) -> None:
        self.conn.commit()
        self.conn.close()


class _FirebirdWriter(_Writer):
    """Inserts ``BLOCK`` rows per round trip with ``EXECUTE BLOCK`` (fdb's executemany sends one
    statement per row, ~1 ms each over TCP)."""

    BLOCK = 40

    def insert(self, table: sa.Table, rows: Sequence[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        dialect = DefaultDialect()
        columns = list(table.columns)
        types = [c.type.compile(dialect=dialect) for c in columns]
        names = ", ".join(c.name for c in columns)
        cursor = self.conn.cursor()
        prepared: dict[int, Any] = {}
        for start in range(0, len(rows), self.BLOCK):
            block = rows[start : start + self.BLOCK]
            n = len(block)
            if n not in prepared:
                params = ", ".join(f"p{r}_{i} {types[i]} = ?" for r in range(n) for i in range(len(columns)))
                body = " ".join(
                    f"INSERT INTO {table.name} ({names}) VALUES ({', '.join(f':p{r}_{i}' for i in range(len(columns)))});"
                    for r in range(n)
                )
                prepared[n] = cursor.prep(f"EXECUTE BLOCK ({params}) AS BEGIN {body} END")
            cursor.execute(prepared[n], [v for row in block for v in row])
        cursor.close()
        self._committed(len(rows))
        return len(rows)


class _SqliteWriter(_Writer):
    def insert(self, table: sa.Table, rows: Sequence[tuple[Any, ...]]) -> int:
        # sqlite3 binds neither Decimal nor (without deprecated adapters) date: store their text.
        return super().insert(
            table, [tuple(str(v) if isinstance(v, (Decimal, dt.date)) else v for v in r) for r in rows]
        )


def _sqlite_writer(path: Path) -> _Writer:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    return _SqliteWriter(conn)


def _firebird_writer(tns: TnsTarget, path: str) -> _Writer:
    import fdb

    dsn = f"{tns.host}/{tns.port}:{path}"
    try:  # sandbox only: replace a database left by an earlier build
        fdb.connect(dsn=dsn, user=tns.user, password=tns.password, charset=tns.charset).drop_database()
    except fdb.DatabaseError:
        pass
    fdb.create_database(
        dsn=dsn, user=tns.user, password=tns.password, charset=tns.charset, page_size=8192
    ).close()
    # Sandbox data is rebuilt at will: asynchronous writes make each commit cheap (no fsync).
    conn = fdb.connect(dsn=dsn, user=tns.user, password=tns.password, charset=tns.charset, force_write=0)
    return _FirebirdWriter(conn)


def drop_firebird_databases(tns: TnsTarget, paths: Iterable[str]) -> None:
    """Drop sandbox databases on a Firebird server (test clean-up)."""
    import fdb

    for path in paths:
        with contextlib.suppress(fdb.DatabaseError):
            fdb.connect(
                dsn=f"{tns.host}/{tns.port}:{path}", user=tns.user, password=tns.password, charset=tns.charset
            ).drop_database()


def database_path(tns: TnsTarget, server: str, name: str) -> str:
    """Where a sandbox database lives: ``<dir>/<server>/<name>.db`` (SQLite) or ``<dir>/<server>_<name>.fdb``."""
    if tns.driver == "sqlite":
        return str(Path(tns.directory) / server / f"{name}.db")
    return f"{tns.directory.rstrip('/')}/{server}_{name}.fdb"


def database_paths(tns: TnsTarget) -> list[str]:
    """Every database ``build`` may create for ``tns`` (what a clean-up drops), existing or not."""
    names = ["ADMIN"] + [
        f"{company.key.upper()}_{year}{suffix}"
        for company in COMPANIES
        for year in company.years
        for suffix in ("", "_COPIA")
    ]
    return [database_path(tns, server, name) for server in tns.servers for name in names]


def open_writer(tns: TnsTarget, server: str, name: str) -> _Writer:
    """A writer on a new (replaced) sandbox database ``name`` of ``server``: ``create(tables)``,
    ``insert(table, rows)``, ``close()`` (commits)."""
    path = database_path(tns, server, name)
    return _sqlite_writer(Path(path)) if tns.driver == "sqlite" else _firebird_writer(tns, path)


# ---------------------------------------------------------------------------------------------
# Data


def _month_factor(article: Article, year: int, month: int) -> float:
    t = (year - YEARS_ALL[0]) * 12 + (month - 1)
    seasonal = 1 + article.amplitude * math.sin(2 * math.pi * (month - article.phase) / 12)
    return (1 + article.trend) ** (t / 12) * seasonal


def write_company_year(
    writer: _Writer, company: Company, year: int, *, scale: int, seed: int, stale: bool = False
) -> dict[str, int]:
    """Create the company-year tables and fill them, month by month (memory stays small at any scale)."""
    catalog_rng = random.Random(f"{seed}:{company.key}")  # same articles and parties every year
    articles = _articles(catalog_rng, company.articles)
    customers = [
        (i + 1, _with_dv(str(catalog_rng.randint(10_000_000, 99_999_999))), name)
        for i, name in enumerate(PERSON_NAMES)
    ]
    suppliers = [
        (len(customers) + i + 1, _with_dv(str(catalog_rng.randint(800_000_000, 900_999_999))), name)
        for i, name in enumerate(SUPPLIER_NAMES)
    ]
    rng = random.Random(f"{seed}:{company.key}:{year}:{'stale' if stale else 'live'}")
    writer.create(COMPANY_TABLES)
    counts = {
        "MATERIAL": writer.insert(MATERIAL, [(a.matid, a.code, a.name) for a in articles]),
        "BODEGA": writer.insert(
            BODEGA, [(1, "PPAL", "Bodega principal"), (2, "SUR", "Bodega Sur — Usaquén")]
        ),
        "TERCEROS": writer.insert(TERCEROS, [*customers, *suppliers]),
        "KARDEX": 0,
        "DEKARDEX": 0,
    }
    kardex_id = 0
    line_id = 0
    numbers: dict[str, int] = {}
    months = range(1, 13) if not stale else range(1, 4)

    def new_doc(
        code: str,
        date: dt.date,
        party: int | None,
        lines: list[tuple[Article, Decimal]],
        kardex: list[tuple[Any, ...]],
        dekardex: list[tuple[Any, ...]],
    ) -> None:
        nonlocal kardex_id, line_id
        kardex_id += 1
        numbers[code] = numbers.get(code, 0) + 1
        roll = rng.random()
        posted: dt.date | None = date
        voided: dt.date | None = None
        if roll < 0.03:
            voided = date + dt.timedelta(days=1)
        elif roll < 0.05:
            posted = None
        prefix = {"FV": "FE", "DV": "NCV", "FC": "FC", "DC": "DC", "RE": "RE"}.get(code, "")
        kardex.append((kardex_id, code, prefix, str(numbers[code]), date, party, posted, voided))
        for article, quantity in lines:
            line_id += 1
            base = article.price if code in ("FV", "DV") else (article.price * Decimal("0.68")).quantize(CENT)
            tax = (base * article.tax_rate).quantize(CENT, ROUND_HALF_UP)
            net = base + tax
            discount = (
                (quantity * base * Decimal("0.05")).quantize(FOUR, ROUND_HALF_UP)
                if rng.random() < 0.1
                else Decimal(0)
            )
            total = (quantity * net - discount).quantize(CENT, ROUND_HALF_UP)
            dekardex.append(
                (
                    line_id,
                    kardex_id,
                    article.matid,
                    rng.choice((1, 1, 1, 2)),
                    quantity,
                    base,
                    tax,
                    net,
                    total,
                    discount,
                )
            )

    def amount(article: Article, value: float) -> Decimal:
        value = max(value, 0.5)
        if article.decimals:
            return Decimal(str(round(value, 3)))
        return Decimal(max(1, round(value)))

    def quantity(article: Article, mean: float) -> Decimal:
        value = max(rng.gauss(mean, mean * 0.25), 0.5)
        if article.decimals:
            return Decimal(str(round(value, 3)))
        return Decimal(max(1, round(value)))

    for month in months:
        kardex: list[tuple[Any, ...]] = []
        dekardex: list[tuple[Any, ...]] = []
        days = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.date(year, month, 1)).days

        def day(month: int = month, days: int = days) -> dt.date:
            return dt.date(year, month, rng.randint(1, days))

        sales: list[tuple[Article, Decimal]] = []
        for article in articles:
            # The month's demand carries trend and seasonality with little noise (the forecasting
            # family learns from it); it is spread over a few invoice lines.
            demand = 6 * article.base_lines * scale * _month_factor(article, year, month) * rng.gauss(1, 0.06)
            n_lines = max(1, round(rng.gauss(article.base_lines * scale, 0.5 * math.sqrt(scale))))
            weights = [rng.uniform(0.5, 1.5) for _ in range(n_lines)]
            total_weight = sum(weights)
            sales += [(article, amount(article, demand * w / total_weight)) for w in weights]
        rng.shuffle(sales)
        i = 0
        while i < len(sales):
            size = rng.randint(1, 4)
            doc_lines, i = sales[i : i + size], i + size
            date = day()
            new_doc("FV", date, rng.choice(customers)[0], doc_lines, kardex, dekardex)
            if rng.random() < 0.05:  # a sales return of part of the first line
                article, qty = doc_lines[0]
                back = (qty / 2).quantize(Decimal("1") if not article.decimals else Decimal("0.001"))
                if back > 0:
                    new_doc(
                        "DV",
                        min(date + dt.timedelta(days=3), dt.date(year, month, days)),
                        kardex[-1][5],
                        [(article, back)],
                        kardex,
                        dekardex,
                    )
        purchases = [
            (a, quantity(a, 6 * a.base_lines * scale * _month_factor(a, year, month) * 1.1)) for a in articles
        ]
        for start in range(0, len(purchases), 6):
            new_doc("FC", day(), rng.choice(suppliers)[0], purchases[start : start + 6], kardex, dekardex)
        if rng.random() < 0.3:
            a = rng.choice(articles)
            new_doc(
                "DC", day(), rng.choice(suppliers)[0], [(a, Decimal(rng.randint(1, 5)))], kardex, dekardex
            )
        if month % 4 == 0:
            a = rng.choice(articles)
            new_doc("RE", day(), None, [(a, Decimal(rng.randint(5, 20)))], kardex, dekardex)
        if month % 5 == 0:  # codes the extraction must count and skip
            for code in ("NC", "XX") if month == 10 else ("NC",):
                a = rng.choice(articles)
                new_doc(code, day(), rng.choice(customers)[0], [(a, Decimal(1))], kardex, dekardex)
        counts["KARDEX"] += writer.insert(KARDEX, kardex)
        counts["DEKARDEX"] += writer.insert(DEKARDEX, dekardex)
    return counts


def build(targets: SandboxTargets, *, scale: int = 1, seed: int = 42) -> dict[str, int]:
    tns = targets.tns
    if not tns.directory:
        raise ValueError("targets.tns.directory is empty: where should the TNS databases go?")
    if len(tns.servers) < 2:
        raise ValueError(f"the TNS sandbox needs two server names, got {tns.servers}")
    if tns.driver == "sqlite":
        Path(tns.directory).mkdir(parents=True, exist_ok=True)
    totals: dict[str, int] = {}
    admin_rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in tns.servers}

    def archivo(server: str, name: str) -> str:
        path = database_path(tns, server, name)
        return Path(path).name if tns.driver == "sqlite" else path  # SQLite: relative to the ADMIN file

    def add(server: str, code: str, company: Company, year: int, stale: bool) -> None:
        name = f"{company.key.upper()}_{year}{'_COPIA' if stale else ''}"
        writer = open_writer(tns, server, name)
        try:
            counts = write_company_year(writer, company, year, scale=scale, seed=seed, stale=stale)
        finally:
            writer.close()
        for table, n in counts.items():
            totals[f"tns.{table}"] = totals.get(f"tns.{table}", 0) + n
        admin_rows[server].append((code, company.name, company.nit, year, archivo(server, name)))

    for company in COMPANIES:
        server = tns.servers[company.server]
        for year in company.years:
            add(server, f"{len(admin_rows[server]) + 1:03d}", company, year, stale=False)
    company, year = next(c for c in COMPANIES if c.key == DUPLICATE[0]), DUPLICATE[1]
    second = tns.servers[1]
    add(second, f"{len(admin_rows[second]) + 1:03d}", company, year, stale=True)
    # A company registered without NIT: discovery must ignore it.
    first = tns.servers[0]
    admin_rows[first].append(
        (f"{len(admin_rows[first]) + 1:03d}", "Empresa de prueba (sin NIT)", None, 2025, "PRUEBA.db")
    )

    for server in tns.servers:
        writer = open_writer(tns, server, "ADMIN")
        try:
            writer.create(ADMIN_TABLES)
            totals["tns.EMPRESAS"] = totals.get("tns.EMPRESAS", 0) + writer.insert(
                EMPRESAS, admin_rows[server]
            )
        finally:
            writer.close()
    write_servers_file(targets)
    return totals


def write_servers_file(targets: SandboxTargets, max_concurrent: int = 2) -> Path:
    tns = targets.tns
    servers = []
    for name in tns.servers:
        entry: dict[str, Any] = {
            "name": name,
            "driver": tns.driver,
            "admin_path": database_path(tns, name, "ADMIN"),
        }
        if tns.driver == "firebird":
            entry |= {
                "host": tns.host,
                "port": tns.port,
                "user": tns.user,
                "password_env": tns.password_env,
                "charset": tns.charset,
            }
        entry["max_concurrent"] = max_concurrent
        servers.append(entry)
    path = Path(targets.tns_servers_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# TNS servers of the sandbox (written by `cartera sandbox build`)\n"
        + yaml.safe_dump({"servers": servers}, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return path


def build_large_company_year(
    tns: TnsTarget, server: str, name: str, *, lines: int, seed: int = 42, base_scale: int = 8
) -> tuple[str, int]:
    """One company-year database with at least ``lines`` DEKARDEX lines (benchmarks).

    A realistic year is generated at ``base_scale`` and then copied inside the database engine with
    shifted ids (``INSERT … SELECT``), which is what makes a million lines take seconds to build
    rather than many minutes of Python-side inserts. Returns (path, line count).
    """
    company = Company("bench", "Almacenes Bogotá Ñ S.A.S.", _with_dv("900999001"), (2025,), 0, 40)
    writer = open_writer(tns, server, name)
    try:
        write_company_year(writer, company, 2025, scale=base_scale, seed=seed)
        writer.conn.commit()
        cursor = writer.conn.cursor()
        cursor.execute("SELECT MAX(KARDEXID), MAX(DEKARDEXID), COUNT(*) FROM DEKARDEX")
        max_k, max_d, base = cursor.fetchone()
        cursor.execute("SELECT MAX(KARDEXID) FROM KARDEX")
        max_k = max(max_k, cursor.fetchone()[0])
        copies = math.ceil(lines / base)
        k_cols = [c.name for c in KARDEX.columns]
        d_cols = [c.name for c in DEKARDEX.columns]
        for i in range(1, copies):
            k_sel = ", ".join(f"KARDEXID + {i * max_k}" if c == "KARDEXID" else c for c in k_cols)
            d_sel = ", ".join(
                f"DEKARDEXID + {i * max_d}"
                if c == "DEKARDEXID"
                else f"KARDEXID + {i * max_k}"
                if c == "KARDEXID"
                else c
                for c in d_cols
            )
            # Offsets are integers computed here, not data: the copies only shift ids.
            cursor.execute(
                f"INSERT INTO KARDEX ({', '.join(k_cols)}) SELECT {k_sel} FROM KARDEX WHERE KARDEXID <= {max_k}"
            )
            cursor.execute(
                f"INSERT INTO DEKARDEX ({', '.join(d_cols)}) SELECT {d_sel} FROM DEKARDEX WHERE DEKARDEXID <= {max_d}"
            )
            writer.conn.commit()
        cursor.execute("SELECT COUNT(*) FROM DEKARDEX")
        total = int(cursor.fetchone()[0])
        cursor.close()
    finally:
        writer.close()
    return database_path(tns, server, name), total
