"""Partitions discovered in the TNS servers (registered by ``warehouse/tns_companies``).

- ``tns_company_years``: one key per company-year, ``<NIT>_<ANOFIS>`` (NIT digits only, no check digit),
  e.g. ``900123456_2024``; partitions ``warehouse/tns_inventory_movements``.
- ``tns_nits``: one key per company NIT, e.g. ``900123456``; partitions the forecasting family.
"""

from __future__ import annotations

import dagster as dg

company_year_partitions = dg.DynamicPartitionsDefinition(name="tns_company_years")
nit_partitions = dg.DynamicPartitionsDefinition(name="tns_nits")


def company_year_key(nit: str, fiscal_year: int) -> str:
    return f"{nit}_{fiscal_year}"


def split_company_year_key(key: str) -> tuple[str, int]:
    nit, _, year = key.rpartition("_")
    if not nit or not year.isdigit():
        raise ValueError(f"not a company-year partition key (<NIT>_<ANOFIS>): {key!r}")
    return nit, int(year)
