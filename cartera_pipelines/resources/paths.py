"""Where reports and model files go: the directories of ``settings.Layout`` under ``CARTERA_HOME``."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from cartera_pipelines.settings import Layout


class CarteraPaths(dg.ConfigurableResource):
    home: str

    @property
    def layout(self) -> Layout:
        return Layout(Path(self.home))

    @property
    def reports_dir(self) -> Path:
        return self.layout.reports_dir

    @property
    def models_dir(self) -> Path:
        return self.layout.models_dir

    def ensure(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path
