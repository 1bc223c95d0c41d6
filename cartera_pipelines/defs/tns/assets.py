"""tns assets: company discovery, inventory movements per company-year, API key links.

Thin: discovery is ``companies.py``, the row conversion ``movements.py``, the streamed extraction
``extract.py``, every query and write ``sql.py``. Group and owners come from ``defs.yaml``.
"""

from collections import Counter
from decimal import Decimal

import dagster as dg

from cartera_pipelines.defs.tns import sql, tables
from cartera_pipelines.defs.tns.companies import CompanyYear, confirm_location, discover
from cartera_pipelines.defs.tns.concurrency import server_slot
from cartera_pipelines.defs.tns.config import ExtractConfig
from cartera_pipelines.defs.tns.extract import ExtractStats, extract_into, source_chunks
from cartera_pipelines.defs.tns.movements import CompanyContext, ExtractPlan
from cartera_pipelines.defs.tns.partitions import (
    company_year_partitions,
    nit_partitions,
    split_company_year_key,
)
from cartera_pipelines.lib.dates import utcnow
from cartera_pipelines.lib.metadata import markdown_table, table_metadata
from cartera_pipelines.lib.progress import Progress
from cartera_pipelines.lib.schema import ensure_schema
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.tns import TnsSource

MOVEMENTS = dg.AssetKey(["warehouse", "tns_inventory_movements"])

tns_empresas = dg.AssetSpec(
    key=["tns", "empresas"],
    description="EMPRESAS of each TNS server's ADMIN database: one row per company-year (read-only).",
    kinds={"firebird"},
)
tns_kardex = dg.AssetSpec(
    key=["tns", "kardex"],
    description="KARDEX/DEKARDEX (+ MATERIAL, BODEGA, TERCEROS) of each TNS company-year database (read-only).",
    kinds={"firebird"},
)


def _register(
    instance: dg.DagsterInstance, partitions: dg.DynamicPartitionsDefinition, keys: list[str]
) -> list[str]:
    """Add the keys the instance does not know yet to a dynamic partitions definition; returns them."""
    new = sorted(set(keys) - set(instance.get_dynamic_partitions(partitions.name)))
    if new:
        instance.add_dynamic_partitions(partitions.name, new)
    return new


@dg.asset(
    key=["warehouse", "tns_companies"],
    deps=[tns_empresas],
    kinds={"firebird", "postgres"},
    metadata=table_metadata(tables.tns_companies),
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
    found = discover(sql.read_every_server(tns, servers))
    ensure_schema(warehouse_db)
    with warehouse_db.begin() as conn:
        sql.replace_companies(conn, found, utcnow())
        preview = sql.companies_preview(conn)
    new_keys = _register(context.instance, company_year_partitions, sorted(found.by_key()))
    _register(context.instance, nit_partitions, found.nits())
    for line in found.warnings():
        context.log.warning(line)
    statuses = Counter(c.nit.status for c in found.companies)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(found.companies),
            "servers": len(servers),
            "nits": len(found.nits()),
            "nit_status": dg.MetadataValue.json(dict(sorted(statuses.items()))),
            "duplicates": len(found.duplicates),
            "duplicates_detail": dg.MetadataValue.md(markdown_table(found.duplicate_rows(), limit=50)),
            "possible_duplicate_nits": dg.MetadataValue.md(
                markdown_table(found.possible_duplicates(), limit=50)
            ),
            "rejected_rows": len(found.rejected),
            "rejected_detail": dg.MetadataValue.md(markdown_table(found.rejected_rows(), limit=50)),
            "new_partitions": dg.MetadataValue.json(new_keys),
            "preview": preview,
        }
    )


def _where_now(
    context: dg.AssetExecutionContext, tns: TnsSource, expected: CompanyYear | None, key: str
) -> CompanyYear | None:
    """Where the servers' EMPRESAS place the company-year at this moment. Servers that do not answer are
    left out with a warning, unless it is the one the company-year is expected on."""
    rows, unreachable = sql.read_reachable_servers(tns, tns.servers())
    if expected is not None and expected.server in unreachable:
        raise sql.ServerUnreachable(f"TNS server {expected.server} (holding {key}) is not reachable")
    if unreachable:
        context.log.warning(f"EMPRESAS not read on {', '.join(unreachable)} (not reachable)")
    return discover(rows).by_key().get(key)


def locate_company_year(
    context: dg.AssetExecutionContext, key: str, warehouse_db: SqlDatabase, tns: TnsSource, *, force: bool
) -> CompanyYear:
    """Where a partition is read: where the last discovery (``tns_companies``) placed it, confirmed against
    the servers' EMPRESAS now (a move fails in one line). Before any discovery, or when ``force``d,
    where EMPRESAS places it now."""
    with warehouse_db.connect() as conn:
        stored = sql.find_company_year(conn, key)
    now = _where_now(context, tns, None if force else stored, key)
    if stored is not None and not force:
        confirm_location(stored, now)
        return stored
    if now is None:
        nit, year = split_company_year_key(key)
        raise dg.Failure(f"company-year {key} (NIT {nit}, ANOFIS {year}) is in no TNS server's EMPRESAS")
    return now


def _movement_checks(stats: ExtractStats, loaded: int) -> list[dg.AssetCheckResult]:
    skipped = sum(stats.unknown_codes.values())
    return [
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
    ]


def _movements_result(
    company: CompanyYear,
    plan: ExtractPlan,
    stats: ExtractStats,
    totals: list[tuple],
    in_range: int,
    preview: dg.MarkdownMetadataValue,
) -> dg.MaterializeResult:
    rows = [
        {"document_type": kind, "lines": n, "quantity": Decimal(qty or 0), "line_total": Decimal(total or 0)}
        for kind, n, qty, total in totals
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(n for _, n, _, _ in totals),
            "company": f"{company.company_name} (NIT {company.nit.formatted}, {company.fiscal_year})",
            "server": company.server,
            "archivo": company.archivo,
            "date_range": plan.describe(),
            "lines_read": stats.lines_read,
            "lines_replaced": stats.lines_replaced,
            "lines_skipped_unknown_type": sum(stats.unknown_codes.values()),
            "unknown_document_codes": dg.MetadataValue.json(dict(sorted(stats.unknown_codes.items()))),
            "totals_by_document_type": dg.MetadataValue.md(markdown_table(rows)),
            "seconds": round(stats.seconds, 2),
            "lines_per_second": round(stats.lines_per_second),
            "preview": preview,
        },
        check_results=_movement_checks(stats, in_range),
    )


@dg.asset(
    key=MOVEMENTS,
    deps=[tns_companies, tns_kardex],
    partitions_def=company_year_partitions,
    kinds={"firebird", "postgres"},
    metadata=table_metadata(tables.tns_inventory_movements),
    # No static pool: the step claims pool tns_<server> once it knows the partition's server
    # (concurrency.py). A static warehouse_db slot held while waiting for it would starve other writers.
    check_specs=[
        dg.AssetCheckSpec(
            "loaded_lines_match_read",
            asset=MOVEMENTS,
            description="The partition's slice holds exactly the lines read of known document types.",
        ),
        dg.AssetCheckSpec(
            "no_unknown_document_types",
            asset=MOVEMENTS,
            description="Every posted line had a known CODCOMP (others are skipped, never guessed).",
        ),
    ],
)
def tns_inventory_movements(
    context: dg.AssetExecutionContext, config: ExtractConfig, tns: TnsSource, warehouse_db: SqlDatabase
) -> dg.MaterializeResult:
    """Posted, non-voided inventory lines of one TNS company-year (KARDEX × DEKARDEX with article,
    stock location (BODEGA) and third party), document types mapped FV/DV/FC/DC/RE.

    One ordered, streamed read in a read-only snapshot transaction (``ORDER BY DEKARDEXID``, fetchmany)
    overlapped with the write; the partition's slice (or, with ``date_from``/``date_to``, its part in
    that range) is replaced in one transaction (PostgreSQL ``COPY``), so a re-run never duplicates and a
    failure leaves the previous slice as it was. The location (server, ARCHIVO) is the last discovery's,
    confirmed against EMPRESAS before and after the read; an empty answer for a slice that holds lines is
    refused unless ``allow_empty``. Lines with other document codes are counted and skipped. At most
    ``max_concurrent`` extractions run per server (pool ``tns_<server>``).
    """
    key, plan = context.partition_key, config.plan()
    company = locate_company_year(context, key, warehouse_db, tns, force=config.force)
    server = tns.server(company.server)
    ensure_schema(warehouse_db)
    path = tns.company_path(server, company.archivo)
    ctx = CompanyContext(key, company.nit.number, company.fiscal_year, company.company_code, utcnow())
    progress = Progress(context.log.info, key, unit="lines", every=10.0)
    with server_slot(context, server, timeout=config.slot_timeout_seconds):
        context.log.info(f"extracting {key} ({plan.describe()}) from {server.name}: {path}")
        with (
            source_chunks(
                tns,
                server,
                path,
                plan,
                ctx,
                fetch_size=config.fetch_size,
                depth=config.queue_chunks,
                timeout=config.read_timeout_seconds,
            ) as chunks,
            warehouse_db.begin() as conn,
        ):
            stats = extract_into(conn, chunks, ctx, plan, progress=progress)
            confirm_location(company, _where_now(context, tns, company, key))  # moved while read: roll back
            totals, in_range = sql.movement_totals(conn, key), sql.count_movements(conn, key, plan)
            preview = sql.movements_preview(conn, key)
    progress.finish(loaded=stats.lines_loaded, skipped=dict(stats.unknown_codes))
    return _movements_result(company, plan, stats, totals, in_range, preview)


@dg.asset(
    key=["warehouse", "api_key_companies"],
    deps=[tns_companies],
    kinds={"postgres"},
    metadata=table_metadata(tables.api_key_companies),
    pool="warehouse_db",
    # follows discovery (evaluated by tns_automation_sensor)
    automation_condition=dg.AutomationCondition.eager(),
)
def api_key_companies(context: dg.AssetExecutionContext, warehouse_db: SqlDatabase) -> dg.MaterializeResult:
    """Which company-years each active tenant API key may read: every company-year of the key's NIT.

    Keys are issued with ``cartera api-keys issue``; here expired keys are deactivated first, then the
    links are rebuilt from ``api_keys`` × ``tns_companies`` in one transaction.
    """
    ensure_schema(warehouse_db)
    with warehouse_db.begin() as conn:
        links = sql.refresh_key_links(conn, utcnow())
    if links.expired_now:
        context.log.info(f"deactivated {links.expired_now} expired API keys")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": links.links,
            "active_keys": links.active_keys,
            "expired_now": links.expired_now,
            "keys_without_companies": dg.MetadataValue.md(markdown_table(links.keys_without_companies)),
            "preview": links.preview,
        }
    )
