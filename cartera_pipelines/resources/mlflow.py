"""MLflow tracking: a server in production, an embedded SQLite store with local artifacts in the sandbox.

In sandbox mode ``MLFLOW_TRACKING_URI`` unset means ``embedded=True``: a SQLite store under
``CARTERA_HOME`` that needs no server (production mode has no embedded store: the variable is required). A configured URI must answer: :meth:`MlflowTracking.ensure_reachable` checks it in seconds,
before any training, and fails with a message naming the variable (MLflow's own client would retry
for minutes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from cartera_pipelines.resources.base import FromSettings
from cartera_pipelines.settings import mask_url

REACHABILITY_TIMEOUT_SECONDS = 5.0


class MlflowTracking(FromSettings):
    tracking_uri: str
    artifacts_dir: str
    """Artifact root used when the tracking store is the embedded SQLite one."""
    embedded: bool = True
    """True in sandbox mode with MLFLOW_TRACKING_URI unset (the embedded store); a configured store must answer."""

    @property
    def scheme(self) -> str:
        return urlsplit(self.tracking_uri).scheme.split("+")[0].lower()

    def configure(self) -> None:
        """Point the mlflow client at this store (call inside a run, never at import)."""
        import mlflow
        from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_TIMEOUT

        if self.embedded:
            Path(self.artifacts_dir).mkdir(parents=True, exist_ok=True)
        else:
            # Fail in seconds, not after MLflow's default minutes of retries, when the server goes away.
            if not MLFLOW_HTTP_REQUEST_MAX_RETRIES.defined:
                MLFLOW_HTTP_REQUEST_MAX_RETRIES.set(2)
            if not MLFLOW_HTTP_REQUEST_TIMEOUT.defined:
                MLFLOW_HTTP_REQUEST_TIMEOUT.set(30)
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)

    def ensure_reachable(self, timeout: float = REACHABILITY_TIMEOUT_SECONDS) -> None:
        """Raise ``dg.Failure`` quickly when a configured tracking store does not answer."""
        if self.embedded:
            return
        try:
            self._probe(timeout)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            raise dg.Failure(
                description=(
                    f"MLflow tracking store configured by MLFLOW_TRACKING_URI ({mask_url(self.tracking_uri)}) "
                    f"is not reachable ({reason}). Start the server or fix the variable (in sandbox mode, unset "
                    "MLFLOW_TRACKING_URI to use the embedded store under CARTERA_HOME instead)."
                ),
            ) from exc

    def _probe(self, timeout: float) -> None:
        scheme = self.scheme
        if scheme in ("http", "https"):
            import httpx

            response = httpx.get(self.tracking_uri.rstrip("/") + "/health", timeout=timeout)
            if response.status_code >= 500:
                raise RuntimeError(f"/health answered HTTP {response.status_code}")
        elif scheme in ("sqlite", "postgresql", "mysql", "mssql"):
            import sqlalchemy as sa

            connect_args: dict[str, Any] = (
                {} if scheme in ("sqlite", "mssql") else {"connect_timeout": int(timeout)}
            )
            engine = sa.create_engine(self.tracking_uri, connect_args=connect_args)
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
            finally:
                engine.dispose()
        elif scheme in ("", "file"):
            path = Path(urlsplit(self.tracking_uri).path if scheme else self.tracking_uri)
            path.mkdir(parents=True, exist_ok=True)

    def experiment_id(self, name: str) -> str:
        import mlflow

        self.configure()
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        location = Path(self.artifacts_dir).resolve().as_uri() if self.embedded else None
        return mlflow.create_experiment(name, artifact_location=location)

    @contextmanager
    def start_run(self, experiment: str, run_name: str, tags: dict[str, str] | None = None) -> Iterator[Any]:
        """An active MLflow run in ``experiment`` (created when missing); ended as FAILED on error."""
        import mlflow

        experiment_id = self.experiment_id(experiment)
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags or {}) as run:
            yield run

    def run_link(self, experiment_id: str, run_id: str) -> str:
        """Where a person can open the run: the server's UI page, or how to browse the embedded store."""
        if self.scheme in ("http", "https"):
            return f"{self.tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
        return f"mlflow ui --backend-store-uri {mask_url(self.tracking_uri)}  →  #/experiments/{experiment_id}/runs/{run_id}"
