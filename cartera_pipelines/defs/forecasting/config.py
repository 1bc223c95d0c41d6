"""Run configuration of the forecasting assets (every field has a default: the demo runs with them)."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from cartera_pipelines.defs.forecasting.policy import PolicySettings
from cartera_pipelines.defs.forecasting.training import TrainingSettings


class DemandConfig(dg.Config):
    exclude_current_month: bool = Field(
        default=True,
        description="Drop the month in progress (its partial sales would look like a drop in demand).",
    )


class TrainingConfig(dg.Config):
    holdout_months: int = Field(default=6, ge=1, description="Months at the end scored as the holdout.")
    horizon_months: int = Field(default=6, ge=1, description="Months forecast after the last observed one.")
    min_history_months: int = Field(
        default=24, ge=2, description="Months of history for an article to get Prophet."
    )
    interval_width: float = Field(default=0.8, gt=0, lt=1, description="Coverage of the forecast bounds.")
    n_jobs: int = Field(default=0, ge=0, description="Processes for the Prophet fits; 0 = every core.")
    xgboost_threads: int = Field(default=1, ge=1)
    prophet_yearly_order: int = Field(
        default=6, ge=1, le=10, description="Fourier order of the yearly seasonality."
    )
    prophet_seasonality_mode: str = Field(default="additive", pattern="^(additive|multiplicative)$")
    prophet_changepoint_prior_scale: float = Field(default=0.05, gt=0)
    xgboost_n_estimators: int = Field(default=60, ge=10)
    xgboost_max_depth: int = Field(default=3, ge=1)
    xgboost_min_child_weight: float = Field(default=20, ge=0)
    xgboost_learning_rate: float = Field(default=0.05, gt=0)
    plot_articles: int = Field(
        default=4, ge=0, le=8, description="Top articles (by sales value) in the forecast plot."
    )

    def settings(self) -> TrainingSettings:
        return TrainingSettings(
            holdout_months=self.holdout_months,
            horizon_months=self.horizon_months,
            min_history_months=self.min_history_months,
            interval_width=self.interval_width,
            n_jobs=self.n_jobs or os.cpu_count() or 1,
            xgboost_threads=self.xgboost_threads,
            prophet_params={
                "yearly_seasonality": self.prophet_yearly_order,
                "seasonality_mode": self.prophet_seasonality_mode,
                "changepoint_prior_scale": self.prophet_changepoint_prior_scale,
            },
            xgboost_params={
                "n_estimators": self.xgboost_n_estimators,
                "max_depth": self.xgboost_max_depth,
                "learning_rate": self.xgboost_learning_rate,
                "min_child_weight": self.xgboost_min_child_weight,
            },
        )


class PolicyConfig(dg.Config):
    service_level: float = Field(
        default=0.95, ge=0.5, lt=1, description="Probability of no stock-out per cycle."
    )
    lead_time_months: float = Field(default=1.0, gt=0, description="Supplier lead time in months.")
    a_share: float = Field(default=0.80, gt=0, lt=1)
    b_share: float = Field(default=0.95, gt=0, le=1)
    x_cv: float = Field(default=0.5, ge=0)
    y_cv: float = Field(default=1.0, gt=0)

    def settings(self) -> PolicySettings:
        return PolicySettings(
            service_level=self.service_level,
            lead_time_months=self.lead_time_months,
            a_share=self.a_share,
            b_share=self.b_share,
            x_cv=self.x_cv,
            y_cv=self.y_cv,
        )
