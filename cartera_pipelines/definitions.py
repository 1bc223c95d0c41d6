"""The code location: every family under ``defs/`` plus the shared resources."""

import warnings
from pathlib import Path

import dagster as dg

from cartera_pipelines.resources import build_resources


@dg.definitions
def defs() -> dg.Definitions:
    families = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    # each asset links to the file and line that defines it (the UI's "code references")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        assets = dg.with_source_code_references(list(families.assets or []))
    return dg.Definitions.merge(
        dg.Definitions(
            assets=assets,
            asset_checks=families.asset_checks,
            jobs=families.jobs,
            schedules=families.schedules,
            sensors=families.sensors,
        ),
        dg.Definitions(resources=build_resources()),
    )
