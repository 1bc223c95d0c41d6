"""forecasting: the warehouse tables as they were before migrations (demand, backtests, forecasts, purchase recommendations).

Creates only the tables that are missing, so a warehouse created by earlier code upgrades in place.

Revision ID: forecasting_0001
Revises:
"""

import sqlalchemy as sa

from cartera_pipelines.lib.schema import create_table_if_missing

revision = "forecasting_0001"
down_revision = None
branch_labels = ("forecasting",)
depends_on = None


def upgrade() -> None:
    create_table_if_missing(
        "demand_backtest",
        sa.Column("nit", sa.String(length=20), nullable=False),
        sa.Column("article_code", sa.String(length=40), nullable=False),
        sa.Column(
            "model",
            sa.String(length=20),
            nullable=False,
            comment="prophet, xgboost, ensemble (their mean), seasonal_naive",
        ),
        sa.Column("holdout_start", sa.Date(), nullable=False, comment="First month of the holdout"),
        sa.Column("holdout_months", sa.Integer(), nullable=False),
        sa.Column("mae", sa.Float(), nullable=False),
        sa.Column("rmse", sa.Float(), nullable=False),
        sa.Column(
            "mase",
            sa.Float(),
            nullable=True,
            comment="MAE / in-sample seasonal-naive MAE; NULL when that scale is 0",
        ),
        sa.Column(
            "chosen", sa.Boolean(), nullable=False, comment="The model this article's forecast comes from"
        ),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mlflow_run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("nit", "article_code", "model"),
    )
    create_table_if_missing(
        "demand_forecasts",
        sa.Column("nit", sa.String(length=20), nullable=False),
        sa.Column("article_code", sa.String(length=40), nullable=False),
        sa.Column("month", sa.Date(), nullable=False, comment="Forecast month (first day)"),
        sa.Column(
            "horizon", sa.Integer(), nullable=False, comment="1 = the month after the last observed one"
        ),
        sa.Column("model", sa.String(length=20), nullable=False, comment="Model chosen for the article"),
        sa.Column("forecast_qty", sa.Numeric(precision=18, scale=4), nullable=False, comment=">= 0"),
        sa.Column(
            "lower_qty", sa.Numeric(precision=18, scale=4), nullable=False, comment="0 <= lower <= forecast"
        ),
        sa.Column(
            "upper_qty", sa.Numeric(precision=18, scale=4), nullable=False, comment="upper >= forecast"
        ),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mlflow_run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("nit", "article_code", "month"),
    )
    create_table_if_missing(
        "demand_monthly",
        sa.Column(
            "nit",
            sa.String(length=20),
            nullable=False,
            comment="Company NIT (partition key), all its company-years pooled",
        ),
        sa.Column("article_code", sa.String(length=40), nullable=False, comment="MATERIAL.CODIGO"),
        sa.Column("month", sa.Date(), nullable=False, comment="First day of the month"),
        sa.Column("article_name", sa.String(length=200), nullable=True),
        sa.Column(
            "sales_qty", sa.Numeric(precision=18, scale=4), nullable=False, comment="FACTURA_VENTA quantity"
        ),
        sa.Column(
            "returns_qty",
            sa.Numeric(precision=18, scale=4),
            nullable=False,
            comment="DEVOLUCION_VENTA quantity",
        ),
        sa.Column(
            "demand_qty",
            sa.Numeric(precision=18, scale=4),
            nullable=False,
            comment="sales_qty - returns_qty; 0 for months without movements",
        ),
        sa.Column(
            "sales_value",
            sa.Numeric(precision=18, scale=2),
            nullable=False,
            comment="Sum of line_total of sales",
        ),
        sa.Column(
            "returns_value",
            sa.Numeric(precision=18, scale=2),
            nullable=False,
            comment="Sum of line_total of returns",
        ),
        sa.Column(
            "avg_unit_price",
            sa.Numeric(precision=18, scale=4),
            nullable=True,
            comment="sales_value / sales_qty; carried forward over months without sales",
        ),
        sa.Column(
            "warehouse_count", sa.Integer(), nullable=False, comment="Distinct warehouses (BODEGA) with sales"
        ),
        sa.Column(
            "main_warehouse_code",
            sa.String(length=20),
            nullable=True,
            comment="Warehouse with most sold quantity (last known)",
        ),
        sa.Column(
            "zero_filled", sa.Boolean(), nullable=False, comment="True when the month had no sales or returns"
        ),
        sa.PrimaryKeyConstraint("nit", "article_code", "month"),
    )
    create_table_if_missing(
        "purchase_recommendations",
        sa.Column("nit", sa.String(length=20), nullable=False),
        sa.Column("article_code", sa.String(length=40), nullable=False),
        sa.Column("article_name", sa.String(length=200), nullable=True),
        sa.Column(
            "abc_class",
            sa.String(length=1),
            nullable=False,
            comment="A/B/C by cumulative share of sales value",
        ),
        sa.Column(
            "xyz_class",
            sa.String(length=1),
            nullable=False,
            comment="X/Y/Z by coefficient of variation of demand",
        ),
        sa.Column(
            "sales_value_12m",
            sa.Numeric(precision=18, scale=2),
            nullable=False,
            comment="Net sales value of the last 12 months",
        ),
        sa.Column(
            "cv",
            sa.Float(),
            nullable=True,
            comment="Std / mean of monthly demand (last 12 months); NULL when mean is 0",
        ),
        sa.Column(
            "mean_monthly_demand",
            sa.Numeric(precision=18, scale=4),
            nullable=False,
            comment="Mean forecast over the next months",
        ),
        sa.Column(
            "demand_std",
            sa.Numeric(precision=18, scale=4),
            nullable=False,
            comment="Monthly forecast error (holdout RMSE of the chosen model)",
        ),
        sa.Column("service_level", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("lead_time_months", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column(
            "lead_time_demand",
            sa.Numeric(precision=18, scale=4),
            nullable=False,
            comment="Forecast demand over the lead time",
        ),
        sa.Column(
            "safety_stock",
            sa.Numeric(precision=18, scale=4),
            nullable=False,
            comment="z * demand_std * sqrt(lead time)",
        ),
        sa.Column(
            "reorder_point",
            sa.Numeric(precision=18, scale=4),
            nullable=False,
            comment="lead_time_demand + safety_stock",
        ),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nit", "article_code"),
    )


def downgrade() -> None:
    raise NotImplementedError("the baseline is not downgraded")
