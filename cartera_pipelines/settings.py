"""The one place that knows every environment variable, its default and whether it is secret.

Everything else asks this module: resources are built from :func:`load_settings`, the README's table
and ``cartera doctor`` are generated from :data:`VARIABLES`. Unset variables fall back to embedded
stores under ``CARTERA_HOME`` (default ``.cartera/``) and to the sandbox Contifico simulator.
Reading the environment is not I/O: nothing here touches a file, a database or the network.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

SANDBOX_CONTIFICO_PORT = 8765
SANDBOX_WEBHOOK_PORT = 8766
# The simulator's key: not a secret, it guards nothing but the local sandbox.
SANDBOX_CONTIFICO_API_KEY = "sandbox-contifico-key"


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    description: str
    secret: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable("CARTERA_HOME", ".cartera", "Root of every embedded default: SQLite stores, reports, models."),
    Variable(
        "CARTERA_LENDING_URL",
        "sqlite:///$CARTERA_HOME/lending.db",
        "Lending store (contracts, arrears), read-only. Production: mysql+pymysql://…",
        secret=True,
    ),
    Variable(
        "CARTERA_OPERATIONS_URL",
        "sqlite:///$CARTERA_HOME/operations.db",
        "Operations store (assignments, loans, factoring). Production: postgresql+psycopg2://…",
        secret=True,
    ),
    Variable(
        "CARTERA_WAREHOUSE_URL",
        "sqlite:///$CARTERA_HOME/warehouse.db",
        "Warehouse (Contifico, TNS, forecasts), created and migrated by us. Production: postgresql+psycopg2://…",
        secret=True,
    ),
    Variable(
        "CARTERA_TNS_SERVERS",
        "$CARTERA_HOME/tns_servers.yaml",
        "YAML file listing the TNS Firebird servers (passwords come from the variables it names).",
    ),
    Variable(
        "CONTIFICO_API_BASE_URL",
        f"http://127.0.0.1:{SANDBOX_CONTIFICO_PORT}/sistema/api/",
        "Contifico REST API. Production: https://api.contifico.com/sistema/api/",
    ),
    Variable(
        "CONTIFICO_API_KEY", SANDBOX_CONTIFICO_API_KEY, "Contifico API key (raw Authorization header).", True
    ),
    Variable(
        "CONTIFICO_API_TOKEN", "", "Contifico API token (for write endpoints; unused by the sync).", True
    ),
    Variable("CONTIFICO_PAGE_SIZE", "200", "Records per page requested from Contifico."),
    Variable(
        "MLFLOW_TRACKING_URI",
        "sqlite:///$CARTERA_HOME/mlflow.db",
        "MLflow tracking server; unset means the embedded store with artifacts under $CARTERA_HOME/mlruns.",
    ),
    Variable(
        "DAGSTER_HOME",
        "$CARTERA_HOME/dagster_home",
        "Dagster instance directory (dagster.yaml, run storage).",
    ),
    Variable(
        "DAGSTER_PG_URL",
        "",
        "PostgreSQL URL of the Dagster instance in production (deploy/dagster.yaml).",
        True,
    ),
    Variable(
        "CARTERA_WEBHOOK_URLS",
        f"http://127.0.0.1:{SANDBOX_WEBHOOK_PORT}/webhooks/cartera",
        "Comma-separated endpoints that receive factoring outbox events (default: the sandbox receiver).",
    ),
    Variable(
        "CARTERA_WEBHOOK_SECRET",
        "sandbox-webhook-secret",
        "HMAC-SHA256 secret that signs outbox webhooks (the default only fits the sandbox receiver).",
        True,
    ),
    Variable(
        "CARTERA_GIT_URL",
        "",
        "Web URL of this project's git repository; when set, code references in the UI link to its files.",
    ),
    Variable(
        "CARTERA_GIT_REF", "main", "Branch or commit the code references link to (with CARTERA_GIT_URL)."
    ),
)

VARIABLE_NAMES = frozenset(v.name for v in VARIABLES)


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. URLs may hold passwords: never log or put them in metadata."""

    home: Path
    lending_url: str
    operations_url: str
    warehouse_url: str
    tns_servers_file: Path
    contifico_base_url: str
    contifico_api_key: str
    contifico_api_token: str
    contifico_page_size: int
    mlflow_tracking_uri: str
    dagster_home: Path
    webhook_urls: tuple[str, ...]
    webhook_secret: str
    git_url: str
    git_ref: str
    explicit: frozenset[str]
    """Names of the variables that were set in the environment (the rest are defaults)."""

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def mlflow_artifacts_dir(self) -> Path:
        return self.home / "mlruns"

    def is_default(self, name: str) -> bool:
        return name not in self.explicit

    def value_or_env(self, name: str) -> str | dg.EnvVar:
        """The value for a resource field: ``dg.EnvVar(name)`` when set, so the UI shows the variable's
        name instead of its value; the embedded default otherwise."""
        if name in self.explicit:
            return dg.EnvVar(name)
        return _defaults(self.home)[name]


def _defaults(home: Path) -> dict[str, str]:
    absolute = home.resolve()
    return {v.name: v.default.replace("$CARTERA_HOME", str(absolute)) for v in VARIABLES} | {
        "CARTERA_HOME": str(absolute)
    }


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    explicit = frozenset(n for n in VARIABLE_NAMES if env.get(n, "").strip())
    home = Path(env.get("CARTERA_HOME", "").strip() or ".cartera")
    defaults = _defaults(home)

    def get(name: str) -> str:
        return env[name].strip() if name in explicit else defaults[name]

    page_size = get("CONTIFICO_PAGE_SIZE")
    if not page_size.isdigit() or int(page_size) <= 0:
        raise ValueError(f"CONTIFICO_PAGE_SIZE must be a positive integer, got {page_size!r}")
    return Settings(
        home=home.resolve(),
        lending_url=get("CARTERA_LENDING_URL"),
        operations_url=get("CARTERA_OPERATIONS_URL"),
        warehouse_url=get("CARTERA_WAREHOUSE_URL"),
        tns_servers_file=Path(get("CARTERA_TNS_SERVERS")),
        contifico_base_url=get("CONTIFICO_API_BASE_URL"),
        contifico_api_key=get("CONTIFICO_API_KEY"),
        contifico_api_token=get("CONTIFICO_API_TOKEN"),
        contifico_page_size=int(page_size),
        mlflow_tracking_uri=get("MLFLOW_TRACKING_URI"),
        dagster_home=Path(get("DAGSTER_HOME")),
        webhook_urls=tuple(u.strip() for u in get("CARTERA_WEBHOOK_URLS").split(",") if u.strip()),
        webhook_secret=get("CARTERA_WEBHOOK_SECRET"),
        git_url=get("CARTERA_GIT_URL"),
        git_ref=get("CARTERA_GIT_REF"),
        explicit=explicit,
    )


def mask_url(url: str) -> str:
    """A URL safe to print: the password replaced by ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def secret_from_env(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of a secret named by configuration (e.g. a TNS server's ``password_env``)."""
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value is None:
        raise KeyError(f"environment variable {name} is not set (named as a password variable)")
    return value
