"""Warehouse tables of the forecasting family (created by the alembic migrations under
``migrations/warehouse/forecasting/``; the assets call ``lib.schema.ensure_schema``).

Every table carries ``nit`` (the partition key): an asset replaces its NIT's slice in one transaction.
Quantities are ``NUMERIC`` (Decimal): they come from TNS ``CANMAT`` with four decimals. Model scores
(MAE, RMSE, MASE) are floats on purpose: they are statistics, not amounts.
"""

from __future__ import annotations

import sqlalchemy as sa

warehouse = sa.MetaData()

QTY = sa.Numeric(18, 4, asdecimal=True)
MODEL_COMMENT = (
    "seasonal_naive, seasonal_mean, theta, seasonal_es, mean_12, croston_sba, tsb, adida or xgboost"
)
SEGMENT_COMMENT = "smooth, erratic, intermittent, lumpy (Syntetos-Boylan) or new (under 12 months)"
MASE_COMMENT = "MAE / in-sample naive MAE (lag 12 with 24 months or more, else lag 1); NULL when that is 0"
RMSSE_COMMENT = "RMSE / in-sample naive RMSE (same lag as MASE); NULL when that is 0"
MONEY = sa.Numeric(18, 2, asdecimal=True)
XYZ_COMMENT = "X/Y/Z by coefficient of variation of the last 12 months; N when under 12 months (new)"
STD_COMMENT = "Monthly forecast error implied by the bounds: (upper - forecast) / z of the band"
LEAD_COMMENT = "Forecast demand over the lead time plus the review period"
SAFETY_COMMENT = "z(service level) * sqrt(sum of the monthly error variances over lead time + review)"

demand_monthly = sa.Table(
    "demand_monthly",
    warehouse,
    sa.Column(
        "nit",
        sa.String(20),
        nullable=False,
        comment="Company NIT (partition key), all its company-years pooled",
    ),
    sa.Column("article_code", sa.String(40), nullable=False, comment="MATERIAL.CODIGO"),
    sa.Column("month", sa.Date, nullable=False, comment="First day of the month"),
    sa.Column("article_name", sa.String(200)),
    sa.Column("sales_qty", QTY, nullable=False, comment="FACTURA_VENTA quantity"),
    sa.Column("returns_qty", QTY, nullable=False, comment="DEVOLUCION_VENTA quantity"),
    sa.Column(
        "demand_qty", QTY, nullable=False, comment="sales_qty - returns_qty; 0 for months without movements"
    ),
    sa.Column("sales_value", MONEY, nullable=False, comment="Sum of line_total of sales"),
    sa.Column("returns_value", MONEY, nullable=False, comment="Sum of line_total of returns"),
    sa.Column(
        "avg_unit_price", QTY, comment="sales_value / sales_qty; carried forward over months without sales"
    ),
    sa.Column(
        "warehouse_count", sa.Integer, nullable=False, comment="Distinct warehouses (BODEGA) with sales"
    ),
    sa.Column("main_warehouse_code", sa.String(20), comment="Warehouse with most sold quantity (last known)"),
    sa.Column(
        "zero_filled", sa.Boolean, nullable=False, comment="True when the month had no sales or returns"
    ),
    sa.PrimaryKeyConstraint("nit", "article_code", "month"),
)

demand_backtest = sa.Table(
    "demand_backtest",
    warehouse,
    sa.Column("nit", sa.String(20), nullable=False),
    sa.Column("article_code", sa.String(40), nullable=False),
    sa.Column(
        "model",
        sa.String(20),
        nullable=False,
        comment=MODEL_COMMENT,
    ),
    sa.Column("segment", sa.String(12), comment=SEGMENT_COMMENT),
    sa.Column("holdout_start", sa.Date, nullable=False, comment="First month of the holdout"),
    sa.Column("holdout_months", sa.Integer, nullable=False),
    sa.Column("mae", sa.Float, nullable=False),
    sa.Column("rmse", sa.Float, nullable=False),
    sa.Column("mase", sa.Float, comment=MASE_COMMENT),
    sa.Column("rmsse", sa.Float, comment=RMSSE_COMMENT),
    sa.Column("chosen", sa.Boolean, nullable=False, comment="The model this article's forecast comes from"),
    sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("mlflow_run_id", sa.String(64)),
    sa.PrimaryKeyConstraint("nit", "article_code", "model"),
)

demand_forecasts = sa.Table(
    "demand_forecasts",
    warehouse,
    sa.Column("nit", sa.String(20), nullable=False),
    sa.Column("article_code", sa.String(40), nullable=False),
    sa.Column("month", sa.Date, nullable=False, comment="Forecast month (first day)"),
    sa.Column("horizon", sa.Integer, nullable=False, comment="1 = the month after the last observed one"),
    sa.Column("model", sa.String(20), nullable=False, comment="Model chosen for the article"),
    sa.Column("forecast_qty", QTY, nullable=False, comment=">= 0"),
    sa.Column("lower_qty", QTY, nullable=False, comment="0 <= lower <= forecast"),
    sa.Column("upper_qty", QTY, nullable=False, comment="upper >= forecast"),
    sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("mlflow_run_id", sa.String(64)),
    sa.Column("segment", sa.String(12), comment=SEGMENT_COMMENT),
    sa.PrimaryKeyConstraint("nit", "article_code", "month"),
)

demand_forecast_history = sa.Table(
    "demand_forecast_history",
    warehouse,
    sa.Column("nit", sa.String(20), nullable=False),
    sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False, comment="The training that made it"),
    sa.Column("article_code", sa.String(40), nullable=False),
    sa.Column("month", sa.Date, nullable=False, comment="Forecast month (first day)"),
    sa.Column("horizon", sa.Integer, nullable=False, comment="1 = the month after the last observed one"),
    sa.Column("model", sa.String(20), nullable=False),
    sa.Column("segment", sa.String(12), nullable=False, comment=SEGMENT_COMMENT),
    sa.Column("forecast_qty", QTY, nullable=False),
    sa.Column("lower_qty", QTY, nullable=False),
    sa.Column("upper_qty", QTY, nullable=False),
    sa.Column("mlflow_run_id", sa.String(64)),
    sa.PrimaryKeyConstraint("nit", "trained_at", "article_code", "month"),
    comment="Every published forecast, kept per training: what the buyer was told, to score later",
)

forecast_accuracy = sa.Table(
    "forecast_accuracy",
    warehouse,
    sa.Column("nit", sa.String(20), nullable=False),
    sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("horizon", sa.Integer, nullable=False),
    sa.Column("segment", sa.String(12), nullable=False, comment="A segment, or all"),
    sa.Column("articles", sa.Integer, nullable=False, comment="Articles with an actual for that month"),
    sa.Column("mae", sa.Float, nullable=False, comment="Mean absolute error of the published forecasts"),
    sa.Column("mae_seasonal_naive", sa.Float, comment="Same months, same year-ago value as forecast"),
    sa.Column("value_added", sa.Float, comment="1 - mae / mae_seasonal_naive (positive: better than naive)"),
    sa.Column("bias", sa.Float, comment="Sum of (forecast - actual) / sum of actual"),
    sa.Column("coverage", sa.Float, comment="Share of actuals inside the published bounds"),
    sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("nit", "trained_at", "horizon", "segment"),
)

purchase_recommendations = sa.Table(
    "purchase_recommendations",
    warehouse,
    sa.Column("nit", sa.String(20), nullable=False),
    sa.Column("article_code", sa.String(40), nullable=False),
    sa.Column("article_name", sa.String(200)),
    sa.Column("abc_class", sa.String(1), nullable=False, comment="A/B/C by cumulative share of sales value"),
    sa.Column("xyz_class", sa.String(1), nullable=False, comment=XYZ_COMMENT),
    sa.Column("sales_value_12m", MONEY, nullable=False, comment="Net sales value of the last 12 months"),
    sa.Column("cv", sa.Float, comment="Std / mean of monthly demand (last 12 months); NULL when mean is 0"),
    sa.Column("mean_monthly_demand", QTY, nullable=False, comment="Mean forecast over the next months"),
    sa.Column("demand_std", QTY, nullable=False, comment=STD_COMMENT),
    sa.Column("service_level", sa.Numeric(5, 4), nullable=False),
    sa.Column("lead_time_months", sa.Numeric(6, 2), nullable=False),
    sa.Column("lead_time_demand", QTY, nullable=False, comment=LEAD_COMMENT),
    sa.Column("safety_stock", QTY, nullable=False, comment=SAFETY_COMMENT),
    sa.Column("reorder_point", QTY, nullable=False, comment="lead_time_demand + safety_stock"),
    sa.Column("model", sa.String(20), nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("segment", sa.String(12), comment=SEGMENT_COMMENT),
    sa.Column("review_period_months", sa.Numeric(6, 2), comment="Months between two purchase reviews"),
    sa.Column("order_qty", QTY, comment="Forecast demand over one review period: the usual order"),
    sa.Column("as_of", sa.Date, comment="Bogota date of the recommendation"),
    sa.PrimaryKeyConstraint("nit", "article_code"),
)
