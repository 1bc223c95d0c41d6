"""Where reports and model files go (under ``CARTERA_HOME``)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg


class CarteraPaths(dg.ConfigurableResource):
    home: str

    @property
    def reports_dir(self) -> Path:
        return Path(self.home) / "reports"

    @property
    def models_dir(self) -> Path:
        return Path(self.home) / "models"

    def ensure(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path
