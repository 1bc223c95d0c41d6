"""What every resource built from ``settings.py`` shares: production mode's setup check.

In production mode (``CARTERA_ENV=production``) a variable a resource needs may be unset: the code location
still loads (the UI shows what is wrong), the resource is built with an empty value and the variable's
name in ``unset_variables``, and its setup fails with one line naming the variable before anything is
read, written or sent.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from cartera_pipelines.settings import MissingSettingError


class FromSettings(dg.ConfigurableResource):
    """Base of the resources ``build_resources`` configures from the environment."""

    unset_variables: list[str] = Field(
        default_factory=list,
        description="Variables this resource needs that CARTERA_ENV=production found unset; setup fails naming them.",
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.unset_variables:
            raise MissingSettingError(self.unset_variables)
