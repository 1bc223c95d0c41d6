"""MLflow tracking: a server in production, an embedded SQLite store with local artifacts by default."""

from __future__ import annotations

from pathlib import Path

import dagster as dg


class MlflowTracking(dg.ConfigurableResource):
    tracking_uri: str
    artifacts_dir: str
    """Artifact root used when the tracking store is the embedded SQLite one."""
    embedded: bool = True
    """True when MLFLOW_TRACKING_URI is unset (the embedded store); a configured server must answer."""

    def configure(self) -> None:
        """Point the mlflow client at this store (call inside a run, never at import)."""
        import mlflow

        if self.embedded:
            Path(self.artifacts_dir).mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(self.tracking_uri)

    def experiment_id(self, name: str) -> str:
        import mlflow

        self.configure()
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        location = Path(self.artifacts_dir).resolve().as_uri() if self.embedded else None
        return mlflow.create_experiment(name, artifact_location=location)
