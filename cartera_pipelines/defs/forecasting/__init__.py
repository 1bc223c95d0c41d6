"""forecasting: per-NIT demand models (Prophet, XGBoost, seasonal naive) and purchase recommendations."""
