"""MLflow for the forecasting family: one run per NIT and training; registration only on promotion.

The training logs params, metrics (per horizon as steps), the staged files and the self-contained
pyfunc (``pyfunc.DemandForecaster``) with its signature and an input example — logged, not
registered. The blocking check, when it passes, registers that logged model as ``demand_<nit>`` and
moves the ``champion`` alias to the new version; a blocked training never becomes a model version.
"""

from __future__ import annotations

import datetime as dt
import math
import platform
from pathlib import Path
from typing import Any

from cartera_pipelines.defs.forecasting.pyfunc import as_pyfunc, forecaster_of, input_example
from cartera_pipelines.defs.forecasting.training import TrainingResult
from cartera_pipelines.resources.mlflow import MlflowTracking

EXPERIMENT = "cartera_demand"
CHAMPION = "champion"
MODEL_NAME = "demand_forecaster"


def registered_name(nit: str) -> str:
    return f"demand_{nit}"


def _metrics(result: TrainingResult) -> dict[str, float]:
    values = {**result.aggregate, **result.counts, **result.timings}
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float) and math.isfinite(v)}


def log_training(
    tracking: MlflowTracking,
    result: TrainingResult,
    params: dict[str, Any],
    staged: Path,
    trained_at: dt.datetime,
    dagster_run_id: str,
) -> tuple[str, str, str]:
    """Log one training; returns (MLflow run id, a link to it, the logged model's URI)."""
    import mlflow
    import xgboost
    from mlflow.models import infer_signature

    panel = result.panel
    tags = {"nit": panel.nit, "dagster_run_id": dagster_run_id, "trained_at": trained_at.isoformat()}
    with tracking.start_run(EXPERIMENT, f"{panel.nit} {trained_at:%Y-%m-%d %H:%M}", tags) as run:
        mlflow.log_params(
            {
                **params,
                "nit": panel.nit,
                "articles": panel.n_articles,
                "months": panel.n_months,
                "first_month": panel.months[0].isoformat(),
                "last_month": panel.months[-1].isoformat(),
            }
        )
        mlflow.log_metrics(_metrics(result))
        for name, values in result.per_horizon.items():
            for h, value in enumerate(values, start=1):
                if value is not None and math.isfinite(value):
                    mlflow.log_metric(f"{name}_by_horizon", value, step=h)
        mlflow.log_artifacts(str(staged), artifact_path="model_files")
        model = forecaster_of(result)
        example = input_example(result)
        info = mlflow.pyfunc.log_model(
            name=MODEL_NAME,
            python_model=as_pyfunc(model),
            input_example=example,
            signature=infer_signature(example, model.predict(example)),
            # Inferring requirements imports the world in a subprocess (seconds); we know them.
            pip_requirements=[f"xgboost=={xgboost.__version__}", "statsforecast", "pandas", "numpy"],
        )
        mlflow.set_tag("python", platform.python_version())
        experiment_id, run_id = run.info.experiment_id, run.info.run_id
    return run_id, tracking.run_link(experiment_id, run_id), info.model_uri


def promote(tracking: MlflowTracking, nit: str, model_uri: str) -> str:
    """Register the logged model of a vetted training and give it the ``champion`` alias; its version."""
    import mlflow

    tracking.configure()
    version = mlflow.register_model(model_uri, registered_name(nit)).version
    mlflow.MlflowClient().set_registered_model_alias(registered_name(nit), CHAMPION, version)
    return str(version)
