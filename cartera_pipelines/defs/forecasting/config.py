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
        description="Drop the month in progress (Bogotá's date): its partial sales would look like a drop.",
    )


class TrainingConfig(dg.Config):
    horizon_months: int = Field(default=6, ge=1, le=12, description="Months forecast after the last one.")
    cv_origins: int = Field(default=3, ge=3, le=6, description="Rolling origins of the cross-validation.")
    cv_step_months: int = Field(default=3, ge=1, le=6, description="Months between two CV origins.")
    interval_width: float = Field(default=0.8, gt=0, lt=1, description="Coverage of the forecast bounds.")
    n_jobs: int = Field(default=0, ge=0, description="Processes for the statistical models; 0 = every core.")
    xgboost: bool = Field(default=True, description="Fit the global XGBoost model (a candidate everywhere).")
    xgboost_threads: int = Field(default=1, ge=1)
    xgboost_max_rows: int = Field(default=150_000, ge=1_000, description="Training rows sampled per fit.")
    xgboost_n_estimators: int = Field(default=60, ge=10)
    xgboost_max_depth: int = Field(default=3, ge=1)
    xgboost_min_child_weight: float = Field(default=20, ge=0)
    xgboost_learning_rate: float = Field(default=0.05, gt=0)
    plot_articles: int = Field(
        default=4, ge=0, le=8, description="Top articles (by sales value) in the forecast plot."
    )

    def settings(self) -> TrainingSettings:
        return TrainingSettings(
            horizon_months=self.horizon_months,
            cv_origins=self.cv_origins,
            cv_step_months=self.cv_step_months,
            interval_width=self.interval_width,
            n_jobs=self.n_jobs or os.cpu_count() or 1,
            xgboost=self.xgboost,
            xgboost_threads=self.xgboost_threads,
            xgboost_max_rows=self.xgboost_max_rows,
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
    review_period_months: float = Field(default=1.0, ge=0, description="Months between purchase reviews.")
    a_share: float = Field(default=0.80, gt=0, lt=1)
    b_share: float = Field(default=0.95, gt=0, le=1)
    x_cv: float = Field(default=0.5, ge=0)
    y_cv: float = Field(default=1.0, gt=0)

    def settings(self, interval_width: float = 0.8) -> PolicySettings:
        return PolicySettings(
            service_level=self.service_level,
            lead_time_months=self.lead_time_months,
            review_period_months=self.review_period_months,
            interval_width=interval_width,
            a_share=self.a_share,
            b_share=self.b_share,
            x_cv=self.x_cv,
            y_cv=self.y_cv,
        )
