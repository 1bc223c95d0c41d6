"""Shared infrastructure: one resource per external system, built from ``settings.py``.

Resource keys (what assets ask for):

=================  ==========================================================
``lending_db``     lending store, read-only (MySQL in production)
``operations_db``  operations store (PostgreSQL in production)
``warehouse_db``   warehouse (PostgreSQL in production)
``tns``            TNS servers (Firebird in production, SQLite in the sandbox)
``contifico``      Contifico REST API client
``mlflow``         MLflow tracking
``paths``          report and model directories under CARTERA_HOME
``webhooks``       signed webhooks for the factoring outbox (CARTERA_WEBHOOK_URLS/_SECRET)
=================  ==========================================================

In production mode a resource whose variables are unset is still built (the code location loads) and
fails its setup naming them (``resources/base.py``).
"""

from __future__ import annotations

from typing import Any

from cartera_pipelines.resources.contifico import ContificoApi
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.mlflow import MlflowTracking
from cartera_pipelines.resources.paths import CarteraPaths
from cartera_pipelines.resources.tns import TnsSource
from cartera_pipelines.resources.webhooks import WebhookSender
from cartera_pipelines.settings import Settings, load_settings


def _store(s: Settings, variable: str, store: str, *, read_only: bool = False) -> SqlDatabase:
    return SqlDatabase(
        url=s.value_or_env(variable), read_only=read_only, store=store, unset_variables=s.unset(variable)
    )


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """Every resource, configured from the environment (values of set variables stay ``EnvVar``s)."""
    s = settings or load_settings()
    contifico = ("CONTIFICO_API_BASE_URL", "CONTIFICO_API_KEY")
    webhooks = ("CARTERA_WEBHOOK_URLS", "CARTERA_WEBHOOK_SECRET")
    return {
        "lending_db": _store(s, "CARTERA_LENDING_URL", "lending", read_only=True),
        "operations_db": _store(s, "CARTERA_OPERATIONS_URL", "operations"),
        "warehouse_db": _store(s, "CARTERA_WAREHOUSE_URL", "warehouse"),
        "tns": TnsSource(
            servers_file=s.value_or_env("CARTERA_TNS_SERVERS"), unset_variables=s.unset("CARTERA_TNS_SERVERS")
        ),
        "contifico": ContificoApi(
            base_url=s.value_or_env("CONTIFICO_API_BASE_URL"),
            api_key=s.value_or_env("CONTIFICO_API_KEY"),
            api_token=s.value_or_env("CONTIFICO_API_TOKEN"),
            page_size=s.contifico_page_size,
            unset_variables=s.unset(*contifico),
        ),
        "mlflow": MlflowTracking(
            tracking_uri=s.value_or_env("MLFLOW_TRACKING_URI"),
            artifacts_dir=str(s.mlflow_artifacts_dir),
            embedded=s.mlflow_embedded,
            unset_variables=s.unset("MLFLOW_TRACKING_URI"),
        ),
        "paths": CarteraPaths(home=str(s.home)),
        "webhooks": WebhookSender(
            urls=[] if s.unset("CARTERA_WEBHOOK_URLS") else list(s.webhook_urls),
            secret=s.value_or_env("CARTERA_WEBHOOK_SECRET"),
            unset_variables=s.unset(*webhooks),
        ),
    }


__all__ = [
    "CarteraPaths",
    "ContificoApi",
    "MlflowTracking",
    "SqlDatabase",
    "TnsSource",
    "WebhookSender",
    "build_resources",
]
