"""The registered model: an MLflow pyfunc that forecasts from demand history, everything it needs inside.

Input: a DataFrame of monthly demand (``article_code``, ``month``, ``demand_qty``; months without
demand as zeros). Output: one row per article and horizon with ``forecast``, ``lower`` and ``upper``.
Inside: each article's chosen model and segment, the harmonic regression's prior, the global XGBoost booster with its per-article
scalers (the series' mean level and price reference of the training), and the calibrated residual
quantiles of the bounds. Statistical models are refit on the given history (they take milliseconds).
"""

import datetime as dt
from typing import Any

import numpy as np

from cartera_pipelines.defs.forecasting.conformal import Calibration, noise_scale
from cartera_pipelines.defs.forecasting.segments import segments as segments_of


def history_frame_to_panel(frame: Any) -> tuple[list[str], list[dt.date], np.ndarray]:
    from cartera_pipelines.defs.forecasting.demand import month_range

    months = [dt.date.fromisoformat(str(m)[:10]) for m in frame["month"]]
    articles = sorted(set(frame["article_code"].astype(str)))
    calendar = month_range(min(months), max(months))
    a_index = {a: i for i, a in enumerate(articles)}
    m_index = {m: j for j, m in enumerate(calendar)}
    demand = np.full((len(articles), len(calendar)), np.nan)
    for code, month, qty in zip(frame["article_code"].astype(str), months, frame["demand_qty"], strict=True):
        demand[a_index[code], m_index[month]] = float(qty)
    return articles, calendar, demand


class DemandForecaster:
    """The forecasting logic the MLflow model wraps (plain Python: the code location loads without mlflow)."""

    def __init__(
        self,
        chosen: dict[str, str],
        segments: dict[str, str],
        calibration: dict[str, tuple[list[float], list[float]]],
        horizon: int,
        xgboost_json: bytes | None,
        scalers: dict[str, tuple[float, float]],
        harmonic_prior: list[list[float]] | None = None,
        harmonic_pairs: int = 1,
        harmonic_discount: float = 1.0,
    ) -> None:
        self.chosen = chosen
        self.segments = segments
        self.calibration = calibration
        self.horizon = horizon
        self.xgboost_json = xgboost_json
        self.scalers = scalers
        """article -> (mean level, price reference) of the training window."""
        self.harmonic_prior = harmonic_prior
        """The harmonic regression's prior learnt on the training's articles (None: learnt on the input)."""
        self.harmonic_pairs = harmonic_pairs
        """The harmonic regression's yearly harmonics chosen by the training (1 in models saved before)."""
        self.harmonic_discount = harmonic_discount
        """Its weight of a month relative to the next (1 in models saved before)."""

    def _xgboost(self, articles: list[str], calendar: list[dt.date], demand: np.ndarray) -> np.ndarray:
        from xgboost import XGBRegressor

        from cartera_pipelines.defs.forecasting.features import series_scale
        from cartera_pipelines.defs.forecasting.xgboost_model import XgbFit, forecast_xgboost

        model = XGBRegressor()
        model.load_model(bytearray(self.xgboost_json or b""))
        fallback = series_scale(demand, demand.shape[1])
        scale = np.array([self.scalers.get(a, (fallback[i], np.nan))[0] for i, a in enumerate(articles)])
        ref = np.array([self.scalers.get(a, (np.nan, np.nan))[1] for a in articles], dtype=float)
        fit = XgbFit(model, demand.shape[1], self.horizon, scale, ref, 0)
        return forecast_xgboost(fit, demand, np.full_like(demand, np.nan), calendar)

    def predict(self, model_input: Any) -> Any:
        """Forecasts of every article in ``model_input`` (see the module docstring)."""
        import pandas as pd

        from cartera_pipelines.defs.forecasting import statistical as stat
        from cartera_pipelines.defs.forecasting.demand import add_months
        from cartera_pipelines.defs.forecasting.harmonic import harmonic_forecast

        articles, calendar, demand = history_frame_to_panel(model_input)
        predictions = stat._forecast(demand, self.horizon)
        prior = getattr(self, "harmonic_prior", None)
        predictions[stat.HARMONIC] = harmonic_forecast(
            demand,
            demand.shape[1],
            self.horizon,
            stat.MIN_TRAIN,
            prior=None if prior is None else np.array(prior),
            pairs=getattr(self, "harmonic_pairs", 1),
            discount=getattr(self, "harmonic_discount", 1.0),
        )
        mean = stat.recent_mean(demand, demand.shape[1])
        predictions[stat.MEAN_12] = np.where(
            np.isnan(predictions[stat.MEAN_12]), mean[:, None], predictions[stat.MEAN_12]
        )
        if self.xgboost_json:
            predictions["xgboost"] = self._xgboost(articles, calendar, demand)
        segments = segments_of(demand)
        forecast = np.empty((len(articles), self.horizon))
        for i, article in enumerate(articles):
            model = self.chosen.get(article, stat.MEAN_12)
            values = predictions.get(model, predictions[stat.MEAN_12])[i]
            forecast[i] = values if np.isfinite(values).all() else predictions[stat.MEAN_12][i]
            segments[i] = self.segments.get(article, segments[i])
        forecast = np.clip(np.nan_to_num(forecast), 0, None)
        lower, upper = Calibration(0.8, self.calibration).bounds(
            forecast, noise_scale(demand, demand.shape[1]), segments
        )
        return pd.DataFrame(
            {
                "article_code": np.repeat(articles, self.horizon),
                "month": [
                    add_months(calendar[-1], h + 1).isoformat() for _ in articles for h in range(self.horizon)
                ],
                "horizon": np.tile(np.arange(1, self.horizon + 1), len(articles)),
                "forecast": forecast.ravel(),
                "lower": lower.ravel(),
                "upper": upper.ravel(),
            }
        )


def as_pyfunc(forecaster: DemandForecaster) -> Any:
    """An ``mlflow.pyfunc.PythonModel`` around ``forecaster`` (built here: mlflow is imported in the run)."""
    import pandas as pd
    from mlflow.pyfunc import PythonModel

    class DemandPyfunc(PythonModel):
        def __init__(self, core: DemandForecaster) -> None:
            self.core = core

        def predict(
            self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
        ) -> pd.DataFrame:
            return self.core.predict(model_input)

    return DemandPyfunc(forecaster)


def forecaster_of(result: Any) -> DemandForecaster:
    """The pyfunc of a training (``training.TrainingResult``)."""
    panel = result.panel
    fit = result.xgboost_final
    booster = bytes(fit.model.get_booster().save_raw("json")) if fit is not None else None
    scalers = (
        {a: (float(fit.scale[i]), float(fit.price_ref[i])) for i, a in enumerate(panel.articles)}
        if fit
        else {}
    )
    return DemandForecaster(
        chosen={a: str(m) for a, m in zip(panel.articles, result.chosen, strict=True)},
        segments={a: str(s) for a, s in zip(panel.articles, result.segments, strict=True)},
        calibration={k: (list(v[0]), list(v[1])) for k, v in result.calibration.quantiles.items()},
        horizon=result.settings.horizon_months,
        xgboost_json=booster,
        scalers=scalers,
        harmonic_prior=None if result.harmonic_prior is None else [list(r) for r in result.harmonic_prior],
        harmonic_pairs=result.harmonic_pairs,
        harmonic_discount=result.harmonic_discount,
    )


def input_example(result: Any, articles: int = 2) -> Any:
    import pandas as pd

    panel = result.panel
    rows = []
    for i in range(min(articles, panel.n_articles)):
        for j, month in enumerate(panel.months):
            if np.isfinite(panel.demand[i, j]):
                rows.append(
                    {
                        "article_code": panel.articles[i],
                        "month": month.isoformat(),
                        "demand_qty": float(panel.demand[i, j]),
                    }
                )
    return pd.DataFrame(rows)
