"""Run config of the loans family: ``operations/cuotas`` and the simulation job."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pydantic

from cartera_pipelines.defs.loans.generation import DEFAULT_BATCH_SIZE
from cartera_pipelines.lib.dates import BOGOTA, parse_as_of


class CuotasConfig(dg.Config):
    """How ``operations/cuotas`` runs (build it with ``dg.RunConfig(ops={operations_cuotas.op.name: …})``)."""

    as_of: str = pydantic.Field(
        default="",
        description="Date (YYYY-MM-DD) installment status is computed against; empty means today in Bogotá.",
    )
    batch_size: int = pydantic.Field(
        default=DEFAULT_BATCH_SIZE,
        gt=0,
        description="Loans per batch; each batch commits in one transaction.",
    )
    prestamo_id: int | None = pydantic.Field(
        default=None,
        description="Only this loan: its schedule is rebuilt from its current terms (even when it already "
        "matches), unless payments are recorded; the loan must be APROBADO. Empty means every approved loan.",
    )

    def as_of_date(self) -> dt.date:
        """``as_of`` as a date (today in Bogotá when empty); a bad value raises ``DateInputError``."""
        return parse_as_of(self.as_of, BOGOTA)


class SimulationConfig(dg.Config):
    """Loan terms to simulate (defaults: a 12-month French loan of 10 million at 24 % a year)."""

    principal: str = pydantic.Field(
        default="10000000.00", description="Principal financed (decimal, up to 2 places)."
    )
    annual_rate: str = pydantic.Field(
        default="24.00", description="Annual interest rate in percent, e.g. 24.00."
    )
    installments: int = pydantic.Field(default=12, description="Number of installments (numero_cuotas).")
    modality: str = pydantic.Field(default="MENSUAL", description="MENSUAL, QUINCENAL or SEMANAL.")
    method: str = pydantic.Field(default="FRANCESA", description="FRANCESA, ALEMANA or AMERICANA.")
    base_date: str = pydantic.Field(
        default="", description="Base date YYYY-MM-DD (due dates count from it); empty means today in Bogotá."
    )
