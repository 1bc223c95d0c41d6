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


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """Every resource, configured from the environment (values of set variables stay ``EnvVar``s)."""
    s = settings or load_settings()
    return {
        "lending_db": SqlDatabase(url=s.value_or_env("CARTERA_LENDING_URL"), read_only=True, store="lending"),
        "operations_db": SqlDatabase(url=s.value_or_env("CARTERA_OPERATIONS_URL"), store="operations"),
        "warehouse_db": SqlDatabase(url=s.value_or_env("CARTERA_WAREHOUSE_URL"), store="warehouse"),
        "tns": TnsSource(servers_file=s.value_or_env("CARTERA_TNS_SERVERS")),
        "contifico": ContificoApi(
            base_url=s.value_or_env("CONTIFICO_API_BASE_URL"),
            api_key=s.value_or_env("CONTIFICO_API_KEY"),
            api_token=s.value_or_env("CONTIFICO_API_TOKEN"),
            page_size=s.contifico_page_size,
        ),
        "mlflow": MlflowTracking(
            tracking_uri=s.value_or_env("MLFLOW_TRACKING_URI"),
            artifacts_dir=str(s.mlflow_artifacts_dir),
            embedded=s.is_default("MLFLOW_TRACKING_URI"),
        ),
        "paths": CarteraPaths(home=str(s.home)),
        "webhooks": WebhookSender(urls=list(s.webhook_urls), secret=s.value_or_env("CARTERA_WEBHOOK_SECRET")),
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
