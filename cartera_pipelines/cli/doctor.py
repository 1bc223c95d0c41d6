"""``cartera doctor``: one line per configured store or API, saying OK or what to fix.

It says which mode it checked (``CARTERA_ENV``). In production mode every required variable that is not
set gets its own FAIL line first (all of them at once), and the stores behind them are not probed; the
rest are checked as in sandbox mode. No check ever ends in a traceback: an unexpected error is one line.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click
import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from cartera_pipelines.resources.database import create_store_engine
from cartera_pipelines.resources.tns import TnsConfigError, TnsSource
from cartera_pipelines.settings import (
    MissingSettingError,
    Settings,
    load_settings,
    mask_url,
    missing_message,
)


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'}  {self.name:<12} {self.detail}"


def _sql_problem(exc: BaseException, url: str, variable: str) -> str:
    """One line for a failed SQL connection: what is wrong and which variable to fix."""
    text = str(getattr(exc, "orig", exc) or exc).lower()
    parsed = make_url(url)
    where = f"{parsed.host}:{parsed.port or ''}".rstrip(":") if parsed.host else parsed.database
    if any(s in text for s in ("password authentication failed", "access denied", "authentication failed")):
        problem = f"wrong user or password for {where}"
    elif any(s in text for s in ("does not exist", "unknown database")):
        problem = f"database {parsed.database!r} does not exist on {where}"
    elif any(
        s in text
        for s in (
            "connection refused",
            "can't connect",
            "could not connect",
            "timed out",
            "name or service not known",
            "could not translate host",
            "no route",
        )
    ):
        problem = f"cannot reach {where}"
    elif "unable to open database" in text:
        problem = f"cannot open {parsed.database}"
    else:
        problem = str(getattr(exc, "orig", exc)).splitlines()[0][:160]
    return f"{problem} — fix {variable}"


def check_sql(name: str, url: str, variable: str, *, read_only: bool, default: bool) -> Finding:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if not path.exists():
            hint = "run `cartera sandbox build`" if default else f"fix {variable}"
            return Finding(name, False, f"{path} does not exist — {hint}")
    try:
        engine = create_store_engine(url, read_only=read_only, pool_size=1)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return Finding(name, False, _sql_problem(exc, url, variable))
    mode = "read-only" if read_only else "read-write"
    return Finding(name, True, f"{mask_url(url)} ({mode})")


def check_tns(settings: Settings) -> Iterator[Finding]:
    source = TnsSource(servers_file=str(settings.tns_servers_file))
    try:
        servers = source.servers()
    except TnsConfigError as exc:
        hint = " — run `cartera sandbox build`" if settings.is_default("CARTERA_TNS_SERVERS") else ""
        yield Finding("tns", False, f"{exc}{hint}")
        return
    for server in servers:
        name = f"tns:{server.name}"
        try:
            with source.connect(server) as conn:
                cursor = conn.cursor()
                cursor.execute("SELECT COUNT(*) FROM EMPRESAS")
                companies = cursor.fetchone()[0]
        except KeyError as exc:
            yield Finding(name, False, f"{exc.args[0]} — set it or fix password_env in CARTERA_TNS_SERVERS")
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            yield Finding(name, False, f"{server.describe()}: {first[:160]} — fix CARTERA_TNS_SERVERS")
        else:
            yield Finding(name, True, f"{server.describe()}: {companies} company-years in EMPRESAS")


def check_contifico(settings: Settings) -> Finding:
    # the cheapest list endpoint, one record (paths are <version>/<endpoint>, as the sync uses them)
    url = settings.contifico_base_url.rstrip("/") + "/v1/categoria/"
    try:
        response = httpx.get(
            url,
            headers={"Authorization": settings.contifico_api_key},
            params={"result_page": 1, "result_size": 1},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        hint = (
            "start `cartera sandbox serve`"
            if settings.is_default("CONTIFICO_API_BASE_URL")
            else "fix CONTIFICO_API_BASE_URL"
        )
        return Finding(
            "contifico", False, f"cannot reach {settings.contifico_base_url} ({type(exc).__name__}) — {hint}"
        )
    if response.status_code in (401, 403):
        return Finding(
            "contifico", False, f"API key rejected (HTTP {response.status_code}) — fix CONTIFICO_API_KEY"
        )
    if response.status_code >= 400:
        return Finding(
            "contifico", False, f"HTTP {response.status_code} from {url} — fix CONTIFICO_API_BASE_URL"
        )
    return Finding("contifico", True, f"{settings.contifico_base_url} answers with the configured key")


def check_mlflow(settings: Settings) -> Finding:
    uri = settings.mlflow_tracking_uri
    if settings.mlflow_embedded:
        return Finding(
            "mlflow", True, f"embedded store {mask_url(uri)}, artifacts in {settings.mlflow_artifacts_dir}"
        )
    if uri.startswith(("http://", "https://")):
        try:
            response = httpx.get(uri.rstrip("/") + "/health", timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            return Finding(
                "mlflow",
                False,
                f"tracking server {mask_url(uri)} does not answer ({type(exc).__name__}) — fix MLFLOW_TRACKING_URI",
            )
        return Finding("mlflow", True, f"tracking server {mask_url(uri)}")
    if "://" in uri and not uri.startswith("file:"):
        return check_sql("mlflow", uri, "MLFLOW_TRACKING_URI", read_only=False, default=False)
    return Finding("mlflow", True, f"file store {uri}")


def check_webhooks(settings: Settings) -> Finding:
    urls = settings.webhook_urls
    if not urls:
        return Finding("webhooks", False, "no endpoint in CARTERA_WEBHOOK_URLS — set it")
    if settings.is_default("CARTERA_WEBHOOK_URLS"):
        return Finding("webhooks", True, f"sandbox receiver {urls[0]} (runs with `cartera sandbox serve`)")
    unreachable = []
    for url in urls:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname or "", port), timeout=5).close()
        except OSError:
            unreachable.append(mask_url(url))
    if unreachable:
        return Finding("webhooks", False, f"cannot reach {', '.join(unreachable)} — fix CARTERA_WEBHOOK_URLS")
    return Finding("webhooks", True, f"{len(urls)} endpoint(s) reachable, signed with CARTERA_WEBHOOK_SECRET")


CHECKS: tuple[tuple[str, tuple[str, ...], Callable[[Settings], Finding | Iterator[Finding]]], ...] = (
    (
        "lending",
        ("CARTERA_LENDING_URL",),
        lambda s: check_sql(
            "lending",
            s.lending_url,
            "CARTERA_LENDING_URL",
            read_only=True,
            default=s.is_default("CARTERA_LENDING_URL"),
        ),
    ),
    (
        "operations",
        ("CARTERA_OPERATIONS_URL",),
        lambda s: check_sql(
            "operations",
            s.operations_url,
            "CARTERA_OPERATIONS_URL",
            read_only=False,
            default=s.is_default("CARTERA_OPERATIONS_URL"),
        ),
    ),
    (
        "warehouse",
        ("CARTERA_WAREHOUSE_URL",),
        lambda s: check_sql(
            "warehouse",
            s.warehouse_url,
            "CARTERA_WAREHOUSE_URL",
            read_only=False,
            default=s.is_default("CARTERA_WAREHOUSE_URL"),
        ),
    ),
    ("tns", ("CARTERA_TNS_SERVERS",), check_tns),
    ("contifico", ("CONTIFICO_API_BASE_URL", "CONTIFICO_API_KEY"), check_contifico),
    ("mlflow", ("MLFLOW_TRACKING_URI",), check_mlflow),
    ("webhooks", ("CARTERA_WEBHOOK_URLS", "CARTERA_WEBHOOK_SECRET"), check_webhooks),
)
"""(name, the variables it needs, the check)."""


def run_checks(settings: Settings) -> list[Finding]:
    """Every check; in production mode, first one FAIL line per required variable that is not set."""
    findings: list[Finding] = []
    for name, variables, check in CHECKS:
        unset = settings.unset(*variables)
        findings.extend(Finding(name, False, missing_message([v])) for v in unset)
        if unset:
            continue
        try:
            result = check(settings)
            findings.extend([result] if isinstance(result, Finding) else result)
        except MissingSettingError as exc:
            findings.append(Finding(name, False, str(exc)))
        except Exception as exc:  # one line, never a traceback
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
            findings.append(
                Finding(name, False, f"{type(exc).__name__}: {first} — check {', '.join(variables)}")
            )
    return findings


def mode_line(settings: Settings) -> str:
    if settings.production:
        return "checking production mode (CARTERA_ENV=production): no sandbox fallback"
    how = "CARTERA_ENV=sandbox" if not settings.is_default("CARTERA_ENV") else "CARTERA_ENV unset"
    return f"checking sandbox mode ({how}): unset variables use the embedded sandbox"


@click.command()
def doctor() -> None:
    """Check every configured store and API; one line each. Exit status 1 when something is wrong."""
    try:
        settings = load_settings()
    except ValueError as exc:
        click.echo(f"FAIL  settings     {exc}")
        sys.exit(1)
    click.echo(mode_line(settings))
    findings = run_checks(settings)
    for finding in findings:
        click.echo(finding.line())
    failed = sum(not f.ok for f in findings)
    click.echo(f"{len(findings) - failed} OK, {failed} failing ({settings.mode} mode)")
    sys.exit(1 if failed else 0)
