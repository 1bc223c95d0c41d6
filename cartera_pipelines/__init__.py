"""cartera_pipelines: Dagster code location."""
