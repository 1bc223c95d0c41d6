"""Warehouse tables of the forecasting family (created by its assets with ``lib.bulk.create_tables``).

Every table carries ``nit`` (the partition key): an asset replaces its NIT's slice in one transaction.
Quantities are ``NUMERIC`` (Decimal): they come from TNS ``CANMAT`` with four decimals. Model scores
(MAE, RMSE, MASE) are floats on purpose: they are statistics, not amounts.
"""

from __future__ import annotations

import sqlalchemy as sa

warehouse = sa.MetaData()

QTY = sa.Numeric(18, 4, asdecimal=True)
MONEY = sa.Numeric(18, 2, asdecimal=True)

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
        comment="prophet, xgboost, ensemble (their mean), seasonal_naive",
    ),
    sa.Column("holdout_start", sa.Date, nullable=False, comment="First month of the holdout"),
    sa.Column("holdout_months", sa.Integer, nullable=False),
    sa.Column("mae", sa.Float, nullable=False),
    sa.Column("rmse", sa.Float, nullable=False),
    sa.Column("mase", sa.Float, comment="MAE / in-sample seasonal-naive MAE; NULL when that scale is 0"),
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
    sa.PrimaryKeyConstraint("nit", "article_code", "month"),
)

purchase_recommendations = sa.Table(
    "purchase_recommendations",
    warehouse,
    sa.Column("nit", sa.String(20), nullable=False),
    sa.Column("article_code", sa.String(40), nullable=False),
    sa.Column("article_name", sa.String(200)),
    sa.Column("abc_class", sa.String(1), nullable=False, comment="A/B/C by cumulative share of sales value"),
    sa.Column(
        "xyz_class", sa.String(1), nullable=False, comment="X/Y/Z by coefficient of variation of demand"
    ),
    sa.Column("sales_value_12m", MONEY, nullable=False, comment="Net sales value of the last 12 months"),
    sa.Column("cv", sa.Float, comment="Std / mean of monthly demand (last 12 months); NULL when mean is 0"),
    sa.Column("mean_monthly_demand", QTY, nullable=False, comment="Mean forecast over the next months"),
    sa.Column(
        "demand_std", QTY, nullable=False, comment="Monthly forecast error (holdout RMSE of the chosen model)"
    ),
    sa.Column("service_level", sa.Numeric(5, 4), nullable=False),
    sa.Column("lead_time_months", sa.Numeric(6, 2), nullable=False),
    sa.Column("lead_time_demand", QTY, nullable=False, comment="Forecast demand over the lead time"),
    sa.Column("safety_stock", QTY, nullable=False, comment="z * demand_std * sqrt(lead time)"),
    sa.Column("reorder_point", QTY, nullable=False, comment="lead_time_demand + safety_stock"),
    sa.Column("model", sa.String(20), nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("nit", "article_code"),
)

WAREHOUSE_TABLES = (demand_monthly, demand_backtest, demand_forecasts, purchase_recommendations)
