"""forecasting: forecast history and accuracy tables, segments, RMSSE and the purchase policy's new columns (#18).

- ``demand_forecast_history`` keeps every published forecast per training; ``forecast_accuracy`` scores
  them against the demand that happened.
- ``segment`` (Syntetos-Boylan or new) on the backtest, forecasts and recommendations; ``rmsse`` on the
  backtest; ``review_period_months``, ``order_qty`` and ``as_of`` (Bogota date) on the recommendations.
- Comments of the columns whose meaning changed (models, MASE scale, sigma from the bounds, lead time
  plus review period).

Idempotent, like the baseline: tables and columns that already exist are left as they are. New columns
are nullable: rows written before this revision have no value for them.

Revision ID: forecasting_0002
Revises: forecasting_0001
"""

import sqlalchemy as sa
from alembic import op

from cartera_pipelines.lib.schema import create_table_if_missing

revision = "forecasting_0002"
down_revision = "forecasting_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table_if_missing(
        "demand_forecast_history",
        sa.Column("nit", sa.String(length=20), nullable=False),
        sa.Column(
            "trained_at", sa.DateTime(timezone=True), nullable=False, comment="The training that made it"
        ),
        sa.Column("article_code", sa.String(length=40), nullable=False),
        sa.Column("month", sa.Date(), nullable=False, comment="Forecast month (first day)"),
        sa.Column(
            "horizon", sa.Integer(), nullable=False, comment="1 = the month after the last observed one"
        ),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column(
            "segment",
            sa.String(length=12),
            nullable=False,
            comment="smooth, erratic, intermittent, lumpy (Syntetos-Boylan) or new (under 12 months)",
        ),
        sa.Column("forecast_qty", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("lower_qty", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("upper_qty", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("mlflow_run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("nit", "trained_at", "article_code", "month"),
        comment="Every published forecast, kept per training: what the buyer was told, to score later",
    )
    create_table_if_missing(
        "forecast_accuracy",
        sa.Column("nit", sa.String(length=20), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(length=12), nullable=False, comment="A segment, or all"),
        sa.Column("articles", sa.Integer(), nullable=False, comment="Articles with an actual for that month"),
        sa.Column(
            "mae", sa.Float(), nullable=False, comment="Mean absolute error of the published forecasts"
        ),
        sa.Column(
            "mae_seasonal_naive",
            sa.Float(),
            nullable=True,
            comment="Same months, same year-ago value as forecast",
        ),
        sa.Column(
            "value_added",
            sa.Float(),
            nullable=True,
            comment="1 - mae / mae_seasonal_naive (positive: better than naive)",
        ),
        sa.Column("bias", sa.Float(), nullable=True, comment="Sum of (forecast - actual) / sum of actual"),
        sa.Column(
            "coverage", sa.Float(), nullable=True, comment="Share of actuals inside the published bounds"
        ),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nit", "trained_at", "horizon", "segment"),
    )
    added = {
        "demand_backtest": [
            sa.Column(
                "segment",
                sa.String(length=12),
                nullable=True,
                comment="smooth, erratic, intermittent, lumpy (Syntetos-Boylan) or new (under 12 months)",
            ),
            sa.Column(
                "rmsse",
                sa.Float(),
                nullable=True,
                comment="RMSE / in-sample naive RMSE (same lag as MASE); NULL when that is 0",
            ),
        ],
        "demand_forecasts": [
            sa.Column(
                "segment",
                sa.String(length=12),
                nullable=True,
                comment="smooth, erratic, intermittent, lumpy (Syntetos-Boylan) or new (under 12 months)",
            ),
        ],
        "purchase_recommendations": [
            sa.Column(
                "segment",
                sa.String(length=12),
                nullable=True,
                comment="smooth, erratic, intermittent, lumpy (Syntetos-Boylan) or new (under 12 months)",
            ),
            sa.Column(
                "review_period_months",
                sa.Numeric(precision=6, scale=2),
                nullable=True,
                comment="Months between two purchase reviews",
            ),
            sa.Column(
                "order_qty",
                sa.Numeric(precision=18, scale=4),
                nullable=True,
                comment="Forecast demand over one review period: the usual order",
            ),
            sa.Column("as_of", sa.Date(), nullable=True, comment="Bogota date of the recommendation"),
        ],
    }
    comments = {
        ("demand_backtest", "model"): (
            sa.String(length=20),
            False,
            "seasonal_naive, seasonal_mean, theta, seasonal_es, mean_12, croston_sba, tsb, adida or xgboost",
        ),
        ("demand_backtest", "mase"): (
            sa.Float(),
            True,
            "MAE / in-sample naive MAE (lag 12 with 24 months or more, else lag 1); NULL when that is 0",
        ),
        ("purchase_recommendations", "xyz_class"): (
            sa.String(length=1),
            False,
            "X/Y/Z by coefficient of variation of the last 12 months; N when under 12 months (new)",
        ),
        ("purchase_recommendations", "demand_std"): (
            sa.Numeric(precision=18, scale=4),
            False,
            "Monthly forecast error implied by the bounds: (upper - forecast) / z of the band",
        ),
        ("purchase_recommendations", "lead_time_demand"): (
            sa.Numeric(precision=18, scale=4),
            False,
            "Forecast demand over the lead time plus the review period",
        ),
        ("purchase_recommendations", "safety_stock"): (
            sa.Numeric(precision=18, scale=4),
            False,
            "z(service level) * sqrt(sum of the monthly error variances over lead time + review)",
        ),
    }
    inspector = sa.inspect(op.get_bind())
    for table, columns in added.items():
        existing = {c["name"] for c in inspector.get_columns(table)}
        with op.batch_alter_table(table) as batch:
            for column in columns:
                if column.name not in existing:
                    batch.add_column(column)
    for (table, column), (type_, nullable, comment) in comments.items():
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=type_, existing_nullable=nullable, comment=comment)


def downgrade() -> None:
    for table, columns in (
        ("purchase_recommendations", ("as_of", "order_qty", "review_period_months", "segment")),
        ("demand_forecasts", ("segment",)),
        ("demand_backtest", ("rmsse", "segment")),
    ):
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_column(column)
    op.drop_table("forecast_accuracy")
    op.drop_table("demand_forecast_history")
