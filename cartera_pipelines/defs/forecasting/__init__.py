"""forecasting: per-NIT demand models (statsforecast, harmonic regression, a global XGBoost) chosen on
rolling-origin CV, published only when vetted, purchase recommendations and forecast accuracy."""
