"""The one place that knows every environment variable, its default and whether it is secret.

Everything else asks this module: resources are built from :func:`load_settings`, ``cartera doctor``
lists :data:`VARIABLES`. Two modes (``CARTERA_ENV``):

* ``sandbox`` (the default): an unset variable falls back to the embedded sandbox — SQLite stores under
  ``CARTERA_HOME``, the local Contifico simulator and webhook receiver (``sandbox/defaults.py``).
* ``production``: no fallback. Every variable marked ``required_in_production`` must be set; reading an
  unset one raises :class:`MissingSettingError` naming it, and resources built from these settings fail
  their setup naming it (``resources/setup.py``).

Reading the environment is not I/O: nothing here touches a file, a database or the network.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dagster as dg

SANDBOX = "sandbox"
PRODUCTION = "production"
MODES = (SANDBOX, PRODUCTION)


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    """Default in every mode ("" when there is none); sandbox-only defaults live in ``sandbox/defaults.py``."""
    description: str
    secret: bool = False
    required_in_production: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "CARTERA_ENV",
        SANDBOX,
        "sandbox: unset variables fall back to the embedded sandbox; production: every store, API and "
        "secret must be set (no fallback).",
    ),
    Variable("CARTERA_HOME", ".cartera", "Root of every embedded default: SQLite stores, reports, models."),
    Variable(
        "CARTERA_LENDING_URL",
        "",
        "Lending store (contracts, arrears), read-only. Production: mysql+pymysql://…",
        secret=True,
        required_in_production=True,
    ),
    Variable(
        "CARTERA_OPERATIONS_URL",
        "",
        "Operations store (assignments, loans, factoring). Production: postgresql+psycopg2://…",
        secret=True,
        required_in_production=True,
    ),
    Variable(
        "CARTERA_WAREHOUSE_URL",
        "",
        "Warehouse (Contifico, TNS, forecasts), created and migrated by us. Production: postgresql+psycopg2://…",
        secret=True,
        required_in_production=True,
    ),
    Variable(
        "CARTERA_TNS_SERVERS",
        "",
        "YAML file listing the TNS Firebird servers (passwords come from the variables it names).",
        required_in_production=True,
    ),
    Variable(
        "CONTIFICO_API_BASE_URL",
        "",
        "Contifico REST API. Production: https://api.contifico.com/sistema/api/",
        required_in_production=True,
    ),
    Variable(
        "CONTIFICO_API_KEY",
        "",
        "Contifico API key (raw Authorization header).",
        secret=True,
        required_in_production=True,
    ),
    Variable(
        "CONTIFICO_API_TOKEN", "", "Contifico API token (for write endpoints; unused by the sync).", True
    ),
    Variable("CONTIFICO_PAGE_SIZE", "200", "Records per page requested from Contifico."),
    Variable(
        "MLFLOW_TRACKING_URI",
        "",
        "MLflow tracking store; in sandbox mode unset means the embedded store with artifacts under "
        "$CARTERA_HOME/mlruns.",
        required_in_production=True,
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
        "",
        "Comma-separated endpoints that receive factoring outbox events.",
        required_in_production=True,
    ),
    Variable(
        "CARTERA_WEBHOOK_SECRET",
        "",
        "HMAC-SHA256 secret that signs outbox webhooks.",
        secret=True,
        required_in_production=True,
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
REQUIRED_IN_PRODUCTION = tuple(v.name for v in VARIABLES if v.required_in_production)


class SettingsError(ValueError):
    """A variable whose value cannot be used (an unknown mode, a non-positive page size). One line."""


class MissingSettingError(SettingsError):
    """A variable production mode requires is not set. The message is one line naming it."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)
        super().__init__(missing_message(self.names))


def missing_message(names: Iterable[str]) -> str:
    listed = ", ".join(names)
    verb = "is" if "," not in listed else "are"
    return f"{listed} {verb} not set (CARTERA_ENV=production has no sandbox fallback)"


@dataclass(frozen=True)
class Layout:
    """Where files live under ``CARTERA_HOME``: the one definition of the directory layout."""

    home: Path

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def mlflow_artifacts_dir(self) -> Path:
        """Artifacts of the embedded MLflow store (sandbox mode only)."""
        return self.home / "mlruns"


@dataclass(frozen=True)
class Settings(Layout):
    """Resolved configuration. URLs may hold passwords: never log or put them in metadata."""

    mode: str
    values: Mapping[str, str] = field(repr=False)
    """Every variable's value; a required one that production mode left unset is absent."""
    explicit: frozenset[str]
    """Names of the variables that were set in the environment (the rest are defaults)."""

    # -- values -----------------------------------------------------------------------------------
    def get(self, name: str) -> str:
        """The value of ``name``; :class:`MissingSettingError` when production mode left it unset."""
        if name not in self.values:
            raise MissingSettingError([name])
        return self.values[name]

    @property
    def missing(self) -> tuple[str, ...]:
        """Variables production mode requires and the environment does not set (empty in sandbox mode)."""
        return tuple(n for n in REQUIRED_IN_PRODUCTION if n not in self.values)

    def unset(self, *names: str) -> list[str]:
        """Those of ``names`` that are missing (what a resource built from them reports at setup)."""
        return [n for n in names if n in self.missing]

    @property
    def production(self) -> bool:
        return self.mode == PRODUCTION

    @property
    def lending_url(self) -> str:
        return self.get("CARTERA_LENDING_URL")

    @property
    def operations_url(self) -> str:
        return self.get("CARTERA_OPERATIONS_URL")

    @property
    def warehouse_url(self) -> str:
        return self.get("CARTERA_WAREHOUSE_URL")

    @property
    def tns_servers_file(self) -> Path:
        return Path(self.get("CARTERA_TNS_SERVERS"))

    @property
    def contifico_base_url(self) -> str:
        return self.get("CONTIFICO_API_BASE_URL")

    @property
    def contifico_api_key(self) -> str:
        return self.get("CONTIFICO_API_KEY")

    @property
    def contifico_api_token(self) -> str:
        return self.get("CONTIFICO_API_TOKEN")

    @property
    def contifico_page_size(self) -> int:
        return int(self.get("CONTIFICO_PAGE_SIZE"))

    @property
    def mlflow_tracking_uri(self) -> str:
        return self.get("MLFLOW_TRACKING_URI")

    @property
    def mlflow_embedded(self) -> bool:
        """The embedded MLflow store: only in sandbox mode, when MLFLOW_TRACKING_URI is unset."""
        return not self.production and self.is_default("MLFLOW_TRACKING_URI")

    @property
    def dagster_home(self) -> Path:
        return Path(self.get("DAGSTER_HOME"))

    @property
    def webhook_urls(self) -> tuple[str, ...]:
        return tuple(u.strip() for u in self.get("CARTERA_WEBHOOK_URLS").split(",") if u.strip())

    @property
    def webhook_secret(self) -> str:
        return self.get("CARTERA_WEBHOOK_SECRET")

    @property
    def git_url(self) -> str:
        return self.get("CARTERA_GIT_URL")

    @property
    def git_ref(self) -> str:
        return self.get("CARTERA_GIT_REF")

    # -- for resources ----------------------------------------------------------------------------
    def is_default(self, name: str) -> bool:
        """True when ``name`` was not set in the environment."""
        return name not in self.explicit

    def value_or_env(self, name: str) -> str | dg.EnvVar:
        """The value for a resource field: ``dg.EnvVar(name)`` when set, so the UI shows the variable's
        name instead of its value; the default otherwise; "" when production mode left it unset (the
        resource gets the name in ``unset_variables`` and fails its setup)."""
        if name in self.explicit:
            return dg.EnvVar(name)
        return self.values.get(name, "")


def _defaults(home: Path, mode: str) -> dict[str, str]:
    defaults = {v.name: v.default for v in VARIABLES if v.default or not v.required_in_production}
    if mode == SANDBOX:
        # the sandbox mode switch: the only place production code reaches the sandbox's values
        from cartera_pipelines.sandbox.defaults import DEFAULTS

        defaults |= DEFAULTS
    absolute = str(home.resolve())
    return {k: v.replace("$CARTERA_HOME", absolute) for k, v in defaults.items()} | {"CARTERA_HOME": absolute}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``environ`` (default ``os.environ``). Raises ``SettingsError`` naming the variable for
    a value that cannot be right in any mode (an unknown CARTERA_ENV, a non-positive page size); a
    variable production mode requires but finds unset is not an error here (see ``Settings.missing``)."""
    env = os.environ if environ is None else environ
    explicit = frozenset(n for n in VARIABLE_NAMES if env.get(n, "").strip())
    mode = env.get("CARTERA_ENV", "").strip().lower() or SANDBOX
    if mode not in MODES:
        raise SettingsError(f"CARTERA_ENV must be one of {', '.join(MODES)}, got {env['CARTERA_ENV']!r}")
    home = Path(env.get("CARTERA_HOME", "").strip() or ".cartera").resolve()
    values = _defaults(home, mode) | {n: env[n].strip() for n in explicit} | {"CARTERA_ENV": mode}
    page_size = values["CONTIFICO_PAGE_SIZE"]
    if not page_size.isdigit() or int(page_size) <= 0:
        raise SettingsError(f"CONTIFICO_PAGE_SIZE must be a positive integer, got {page_size!r}")
    return Settings(home=home, mode=mode, values=values, explicit=explicit)


def mask_url(url: str) -> str:
    """``url`` safe to print: its password replaced by ``***`` (SQLAlchemy URLs, http(s) URIs, DSNs).
    Anything without a ``scheme://`` part is returned as it is (a path has no password)."""
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


def secret_from_env(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of a secret named by configuration (e.g. a TNS server's ``password_env``)."""
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value is None:
        raise KeyError(f"environment variable {name} is not set (named as a password variable)")
    return value
