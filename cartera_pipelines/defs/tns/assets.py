"""tns assets: company discovery, inventory movements per company-year, API key links."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import dagster as dg
import sqlalchemy as sa

from cartera_pipelines.defs.tns import tables as t
from cartera_pipelines.defs.tns.companies import CompanyYear, Discovery, EmpresaRow, discover
from cartera_pipelines.defs.tns.concurrency import server_slot
from cartera_pipelines.defs.tns.extract import ExtractStats, extract_into, source_chunks
from cartera_pipelines.defs.tns.movements import CompanyContext
from cartera_pipelines.defs.tns.nit import Nit
from cartera_pipelines.defs.tns.partitions import (
    company_year_partitions,
    nit_partitions,
    split_company_year_key,
)
from cartera_pipelines.lib.bulk import insert_rows
from cartera_pipelines.lib.metadata import markdown_table, preview_query, table_metadata
from cartera_pipelines.lib.schema import ensure_schema
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.tns import TnsServer, TnsSource

OWNERS = ["team:tns"]

tns_empresas = dg.AssetSpec(
    key=["tns", "empresas"],
    description="EMPRESAS of each TNS server's ADMIN database: one row per company-year (read-only).",
    group_name="tns",
    kinds={"firebird"},
    owners=OWNERS,
)
tns_kardex = dg.AssetSpec(
    key=["tns", "kardex"],
    description="KARDEX/DEKARDEX (+ MATERIAL, BODEGA, TERCEROS) of each TNS company-year database (read-only).",
    group_name="tns",
    kinds={"firebird"},
    owners=OWNERS,
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def discover_servers(tns: TnsSource, servers: list[TnsServer] | None = None) -> Discovery:
    """Discovery over every configured server; an unreachable server is an error naming it (a partial
    discovery would silently drop its companies)."""
    per_server = []
    for server in servers if servers is not None else tns.servers():
        if not tns.reachable(server):
            raise dg.Failure(f"TNS server {server.describe()} is not reachable; discovery needs every server")
        rows = [EmpresaRow(server.name, *row) for row in tns.empresas(server)]
        per_server.append((server.name, rows))
    return discover(per_server)


def _company_row(company: CompanyYear, at: dt.datetime) -> dict[str, object]:
    return {
        "company_year": company.key,
        "nit": company.nit.number,
        "check_digit": company.nit.check_digit,
        "source_check_digit": company.nit.source_check_digit,
        "nit_status": company.nit.status,
        "nit_raw": company.nit_raw,
        "fiscal_year": company.fiscal_year,
        "company_code": company.company_code,
        "company_name": company.company_name,
        "server": company.server,
        "archivo": company.archivo,
        "discovered_at": at,
    }


@dg.asset(
    key=["warehouse", "tns_companies"],
    deps=[tns_empresas],
    group_name="tns",
    owners=OWNERS,
    kinds={"firebird", "postgres"},
    metadata=table_metadata(t.tns_companies),
    pool="warehouse_db",  # TNS reads here are a few EMPRESAS rows per server; the write is the warehouse's
)
def tns_companies(
    context: dg.AssetExecutionContext, tns: TnsSource, warehouse_db: SqlDatabase
) -> dg.MaterializeResult:
    """Company-years found in every TNS server's EMPRESAS, one row per (NIT, ANOFIS).

    NITs are normalised (digits only) and their DIAN check digit validated; a company-year found on
    a second server is reported in ``tns_company_duplicates`` and not loaded (the first server in the
    servers file wins). New company-years and NITs are registered as dynamic partitions.
    """
    servers = tns.servers()
    found = discover_servers(tns, servers)
    at = _utcnow()
    with warehouse_db.begin() as conn:
        ensure_schema(warehouse_db)
        conn.execute(t.tns_companies.delete())
        conn.execute(t.tns_company_duplicates.delete())
        insert_rows(conn, t.tns_companies, [_company_row(c, at) for c in found.companies])
        insert_rows(
            conn,
            t.tns_company_duplicates,
            [
                {
                    "company_year": d.ignored.key,
                    "server": d.ignored.server,
                    "archivo": d.ignored.archivo,
                    "company_code": d.ignored.company_code,
                    "company_name": d.ignored.company_name,
                    "kept_server": d.kept.server,
                    "discovered_at": at,
                }
                for d in found.duplicates
            ],
        )
        preview = preview_query(
            conn,
            sa.select(
                t.tns_companies.c.company_year,
                t.tns_companies.c.company_name,
                t.tns_companies.c.nit_status,
                t.tns_companies.c.server,
                t.tns_companies.c.archivo,
            ).order_by(t.tns_companies.c.company_year),
            limit=20,
        )

    instance = context.instance
    keys = sorted(found.by_key())
    nits = sorted({c.nit.number for c in found.companies})
    new_keys = sorted(set(keys) - set(instance.get_dynamic_partitions(company_year_partitions.name)))
    new_nits = sorted(set(nits) - set(instance.get_dynamic_partitions(nit_partitions.name)))
    if new_keys:
        instance.add_dynamic_partitions(company_year_partitions.name, new_keys)
    if new_nits:
        instance.add_dynamic_partitions(nit_partitions.name, new_nits)
    for d in found.duplicates:
        context.log.warning(
            f"company-year {d.ignored.key} is on {d.kept.server} ({d.kept.archivo}) and also on "
            f"{d.ignored.server} ({d.ignored.archivo}): the copy on {d.ignored.server} is not loaded"
        )
    for r in found.rejected:
        context.log.warning(f"EMPRESAS row {r.row.codigo!r} on {r.row.server} skipped: {r.reason}")
    statuses = Counter(c.nit.status for c in found.companies)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(found.companies),
            "servers": len(servers),
            "nits": len(nits),
            "nit_status": dg.MetadataValue.json(dict(sorted(statuses.items()))),
            "duplicates": len(found.duplicates),
            "duplicates_detail": dg.MetadataValue.md(
                markdown_table(
                    [
                        {
                            "company_year": d.ignored.key,
                            "not loaded from": f"{d.ignored.server}: {d.ignored.archivo}",
                            "loaded from": f"{d.kept.server}: {d.kept.archivo}",
                        }
                        for d in found.duplicates
                    ],
                    limit=50,
                )
            ),
            "rejected_rows": len(found.rejected),
            "rejected_detail": dg.MetadataValue.md(
                markdown_table(
                    [
                        {"server": r.row.server, "CODIGO": r.row.codigo, "reason": r.reason}
                        for r in found.rejected
                    ],
                    limit=50,
                )
            ),
            "new_partitions": dg.MetadataValue.json(new_keys),
            "preview": preview,
        }
    )


class ExtractConfig(dg.Config):
    fetch_size: int = 5000
    """Rows per fetch from Firebird (and per COPY into the warehouse)."""
    queue_chunks: int = 4
    """Fetched chunks that may wait for the writer (memory bound: fetch_size × queue_chunks rows)."""
    slot_timeout_seconds: int = 3600
    """How long to wait for a free slot of the server's pool before failing."""


def locate_company_year(key: str, warehouse_db: SqlDatabase, tns: TnsSource) -> CompanyYear:
    """Where a partition lives: from ``tns_companies`` (the last discovery), else by discovering now (a
    sensor may have registered the partition before the table was refreshed)."""
    nit, year = split_company_year_key(key)
    table = t.tns_companies
    with warehouse_db.connect() as conn:
        if sa.inspect(conn).has_table(table.name):
            row = conn.execute(sa.select(table).where(table.c.company_year == key)).mappings().first()
            if row is not None:
                return CompanyYear(
                    server=row["server"],
                    company_code=row["company_code"],
                    company_name=row["company_name"],
                    nit=Nit(row["nit"], row["check_digit"], row["source_check_digit"]),
                    nit_raw=row["nit_raw"],
                    fiscal_year=row["fiscal_year"],
                    archivo=row["archivo"],
                )
    company = discover_servers(tns).by_key().get(key)
    if company is None:
        raise dg.Failure(f"company-year {key} (NIT {nit}, ANOFIS {year}) is in no TNS server's EMPRESAS")
    return company


@dg.asset(
    key=["warehouse", "tns_inventory_movements"],
    deps=[tns_companies, tns_kardex],
    partitions_def=company_year_partitions,
    group_name="tns",
    owners=OWNERS,
    kinds={"firebird", "postgres"},
    metadata=table_metadata(t.tns_inventory_movements),
    # No static pool: the step claims pool tns_<server> once it knows the partition's server
    # (concurrency.py). A static warehouse_db slot held while waiting for it would starve other writers.
    check_specs=[
        dg.AssetCheckSpec(
            "loaded_lines_match_read",
            asset=["warehouse", "tns_inventory_movements"],
            description="The partition's slice holds exactly the lines read of known document types.",
        ),
        dg.AssetCheckSpec(
            "no_unknown_document_types",
            asset=["warehouse", "tns_inventory_movements"],
            description="Every posted line had a known CODCOMP (others are skipped, never guessed).",
        ),
    ],
)
def tns_inventory_movements(
    context: dg.AssetExecutionContext, config: ExtractConfig, tns: TnsSource, warehouse_db: SqlDatabase
) -> dg.MaterializeResult:
    """Posted, non-voided inventory lines of one TNS company-year (KARDEX × DEKARDEX with article,
    warehouse and third party), document types mapped FV/DV/FC/DC/RE.

    One ordered, streamed read (``ORDER BY DEKARDEXID``, fetchmany) overlapped with the write; the
    partition's slice is replaced in one transaction (PostgreSQL ``COPY``), so a re-run never duplicates
    and a failure leaves the previous slice as it was. Lines with other document codes are counted in
    the metadata and skipped. At most ``max_concurrent`` extractions run per server (pool ``tns_<server>``).
    """
    key = context.partition_key
    company = locate_company_year(key, warehouse_db, tns)
    server = tns.server(company.server)
    path = tns.company_path(server, company.archivo)
    ctx = CompanyContext(key, company.nit.number, company.fiscal_year, company.company_code, _utcnow())
    with warehouse_db.begin() as conn:
        ensure_schema(warehouse_db)

    def progress(stats: ExtractStats) -> None:
        context.log.info(
            f"{key}: {stats.lines_read:,} lines read, {stats.lines_loaded:,} loaded, "
            f"{stats.lines_per_second:,.0f} lines/s"
        )

    table = t.tns_inventory_movements
    with server_slot(context, server, timeout=config.slot_timeout_seconds):
        context.log.info(f"extracting {key} from {server.name}: {path}")
        bulk = warehouse_db.dialect == "postgresql"
        with (
            source_chunks(tns, server, path, config.fetch_size, bulk=bulk, depth=config.queue_chunks) as (
                chunks,
                row_format,
            ),
            warehouse_db.begin() as conn,
        ):
            stats = extract_into(
                conn,
                chunks,
                ctx,
                row_format,
                queue_chunks=config.queue_chunks,
                progress=progress,
            )
            in_slice = table.c.company_year == key
            by_type = conn.execute(
                sa.select(
                    table.c.document_type,
                    sa.func.count(),
                    sa.func.sum(table.c.quantity),
                    sa.func.sum(table.c.line_total),
                )
                .where(in_slice)
                .group_by(table.c.document_type)
                .order_by(table.c.document_type)
            ).all()
            loaded = sum(int(n) for _, n, _, _ in by_type)
            preview = preview_query(
                conn,
                sa.select(
                    table.c.dekardex_id,
                    table.c.document_type,
                    table.c.prefix,
                    table.c.number,
                    table.c.movement_date,
                    table.c.article_code,
                    table.c.article_name,
                    table.c.quantity,
                    table.c.line_total,
                )
                .where(in_slice)
                .order_by(table.c.dekardex_id),
            )
    context.log.info(
        f"{key}: {stats.lines_loaded:,} lines in {stats.seconds:.1f}s ({stats.lines_per_second:,.0f} lines/s); "
        f"skipped {sum(stats.unknown_codes.values())} with unknown codes {dict(stats.unknown_codes)}"
    )
    skipped = sum(stats.unknown_codes.values())
    totals = [
        {"document_type": d, "lines": int(n), "quantity": Decimal(q or 0), "line_total": Decimal(v or 0)}
        for d, n, q, v in by_type
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": loaded,
            "company": f"{company.company_name} (NIT {company.nit.formatted}, {company.fiscal_year})",
            "server": server.name,
            "lines_read": stats.lines_read,
            "lines_skipped_unknown_type": skipped,
            "unknown_document_codes": dg.MetadataValue.json(dict(sorted(stats.unknown_codes.items()))),
            "totals_by_document_type": dg.MetadataValue.md(markdown_table(totals)),
            "seconds": round(stats.seconds, 2),
            "lines_per_second": round(stats.lines_per_second),
            "preview": preview,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="loaded_lines_match_read",
                passed=loaded == stats.lines_loaded == stats.lines_read - skipped,
                metadata={
                    "in_slice": loaded,
                    "streamed": stats.lines_loaded,
                    "read": stats.lines_read,
                    "skipped": skipped,
                },
            ),
            dg.AssetCheckResult(
                check_name="no_unknown_document_types",
                passed=skipped == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"skipped": skipped, "codes": dg.MetadataValue.json(dict(stats.unknown_codes))},
            ),
        ],
    )


@dg.asset(
    key=["warehouse", "api_key_companies"],
    deps=[tns_companies],
    group_name="tns",
    owners=OWNERS,
    kinds={"postgres"},
    metadata=table_metadata(t.api_key_companies),
    pool="warehouse_db",
)
def api_key_companies(context: dg.AssetExecutionContext, warehouse_db: SqlDatabase) -> dg.MaterializeResult:
    """Which company-years each active tenant API key may read: every company-year of the key's NIT.

    Keys are issued with ``cartera api-keys issue``; here expired keys are deactivated first, then the
    links are rebuilt from ``api_keys`` × ``tns_companies`` in one transaction.
    """
    now = _utcnow()
    keys, links, companies = t.api_keys, t.api_key_companies, t.tns_companies
    with warehouse_db.begin() as conn:
        ensure_schema(warehouse_db)
        expired = conn.execute(
            keys.update()
            .where(keys.c.active.is_(True), keys.c.expires_at <= now)
            .values(active=False, revoked_at=sa.func.coalesce(keys.c.revoked_at, now))
        ).rowcount
        conn.execute(links.delete())
        conn.execute(
            links.insert().from_select(
                ["api_key_id", "key_prefix", "nit", "company_year", "fiscal_year", "linked_at"],
                sa.select(
                    keys.c.id,
                    keys.c.prefix,
                    keys.c.nit,
                    companies.c.company_year,
                    companies.c.fiscal_year,
                    sa.literal(now, sa.DateTime(timezone=True)),
                )
                .join(companies, companies.c.nit == keys.c.nit)
                .where(keys.c.active.is_(True)),
            )
        )
        n_links = int(conn.execute(sa.select(sa.func.count()).select_from(links)).scalar_one())
        active = int(conn.execute(sa.select(sa.func.count()).where(keys.c.active.is_(True))).scalar_one())
        without = (
            conn.execute(
                sa.select(keys.c.prefix, keys.c.nit, keys.c.client_name).where(
                    keys.c.active.is_(True), ~sa.exists().where(companies.c.nit == keys.c.nit)
                )
            )
            .mappings()
            .all()
        )
        preview = preview_query(
            conn,
            sa.select(links.c.key_prefix, links.c.nit, links.c.company_year).order_by(
                links.c.key_prefix, links.c.company_year
            ),
        )
    if expired:
        context.log.info(f"deactivated {expired} expired API keys")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": n_links,
            "active_keys": active,
            "expired_now": expired,
            "keys_without_companies": dg.MetadataValue.md(markdown_table([dict(r) for r in without])),
            "preview": preview,
        }
    )
