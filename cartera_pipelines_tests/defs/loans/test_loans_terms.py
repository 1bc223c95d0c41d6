"""The one validation of loan terms (batch and simulation), and the values of the lender's tables as they are."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from cartera_pipelines.defs.loans import simulation
from cartera_pipelines.defs.loans.config import SimulationConfig
from cartera_pipelines.defs.loans.normalise import to_count, to_date, to_money, to_word
from cartera_pipelines.defs.loans.planning import LoanRow, terms_of
from cartera_pipelines.defs.loans.terms import InvalidTerms, LoanTerms, Method, Modality, parse_terms

D = Decimal
BOGOTA = ZoneInfo("America/Bogota")


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"principal": D("0")}, "principal must be > 0"),
        ({"principal": D("-5.00")}, "principal must be > 0"),
        ({"principal": float("nan")}, "is not a decimal amount"),
        ({"principal": "mil"}, "is not a decimal amount"),
        ({"principal": D("10.005")}, "more than 2 decimals"),
        ({"rate": D("-0.01")}, "interest rate must be >= 0"),
        ({"rate": None}, "is not a decimal number"),
        ({"n": 0}, "must be > 0"),
        ({"n": -3}, "must be > 0"),
        ({"n": None}, "not an integer"),
        ({"modality": "MENSUALIDAD"}, "unknown payment modality 'MENSUALIDAD'"),
        ({"modality": None}, "unknown payment modality None"),
        ({"method": "ALEMAN"}, "unknown amortization method 'ALEMAN'"),
        ({"base": None}, "missing base date"),
        ({"base": "31/01/2024"}, "is not a date"),
        ({"base": 20240101}, "is not a date"),
        ({"n": D("12.5")}, "not an integer"),
        ({"base": dt.date(9999, 1, 1), "n": 24}, "past year 9999"),
    ],
)
def test_invalid_terms_are_values_not_exceptions(override: dict[str, object], fragment: str) -> None:
    raw = {
        "principal": D("1000.00"),
        "rate": D("12"),
        "n": 12,
        "modality": "MENSUAL",
        "method": "FRANCESA",
        "base": dt.date(2024, 1, 1),
    } | override
    parsed = parse_terms(raw["principal"], raw["rate"], raw["n"], raw["modality"], raw["method"], raw["base"])
    assert isinstance(parsed, InvalidTerms)
    assert any(fragment in p for p in parsed.problems), parsed.problems


def test_every_problem_is_reported_at_once() -> None:
    parsed = parse_terms(D("0"), D("-1"), 0, "X", "Y", None)
    assert isinstance(parsed, InvalidTerms)
    assert len(parsed.problems) == 6


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.date(2024, 1, 31), dt.date(2024, 1, 31)),  # DATE
        (dt.datetime(2024, 1, 31, 23, 59), dt.date(2024, 1, 31)),  # TIMESTAMP: its own wall-clock date
        (dt.datetime(2024, 2, 1, 4, 30, tzinfo=dt.UTC), dt.date(2024, 1, 31)),  # TIMESTAMPTZ: Bogotá's date
        (dt.datetime(2024, 1, 31, 23, 30, tzinfo=BOGOTA), dt.date(2024, 1, 31)),
        ("2024-01-31", dt.date(2024, 1, 31)),  # SQLite text
        ("2024-01-31 10:15:00", dt.date(2024, 1, 31)),
        ("2024-01-31 10:15:00.000000", dt.date(2024, 1, 31)),
        ("2024-02-01T03:00:00+00:00", dt.date(2024, 1, 31)),
        ("31/01/2024", None),
        (20240131, None),
        (None, None),
    ],
)
def test_dates_as_they_are_stored(value: object, expected: dt.date | None) -> None:
    assert to_date(value) == expected


@pytest.mark.parametrize(
    ("value", "money"),
    [
        (D("1912.75"), D("1912.75")),  # NUMERIC/DECIMAL
        (1912.75, D("1912.75")),  # DOUBLE
        (0.1 + 0.2, D("0.30")),  # DOUBLE noise: rounded to cents as NUMERIC(15,2) would store it
        (1000, D("1000")),
        ("945595.97", D("945595.97")),
        (9999999999999.99, D("9999999999999.99")),
        (float("inf"), None),
        (True, None),
        ("", None),
    ],
)
def test_amounts_as_they_are_stored(value: object, money: Decimal | None) -> None:
    assert to_money(value) == money


@pytest.mark.parametrize(
    ("value", "expected"), [(36, 36), (D("36"), 36), (36.0, 36), ("36", 36), (D("36.5"), None), (True, None)]
)
def test_counts_as_they_are_stored(value: object, expected: int | None) -> None:
    assert to_count(value) == expected


@pytest.mark.parametrize("value", ["mensual", "MENSUAL ", " Mensual\t", "MENSUAL"])
def test_words_in_any_case_and_padding(value: str) -> None:
    assert to_word(value) == "MENSUAL"


def _lender_row(**values: object) -> LoanRow:
    row = {
        "id": 7,
        "total_financiamiento": 1912.75,  # DOUBLE PRECISION
        "numero_cuotas": D("3"),  # NUMERIC(4,0)
        "tasa_interes": 24.0,
        "modalidad_pago": "mensual ",
        "metodo_amortizacion": "Francesa",
        "fecha_base_calculo": dt.datetime(2024, 1, 31, 15, 0, tzinfo=dt.UTC),  # TIMESTAMPTZ
    } | values
    return LoanRow(**row)  # type: ignore[arg-type]


def test_a_row_of_the_lenders_table_is_valid_terms() -> None:
    assert terms_of(_lender_row()) == LoanTerms(
        D("1912.75"), D("24.0"), 3, Modality.MENSUAL, Method.FRANCESA, dt.date(2024, 1, 31)
    )


@pytest.mark.parametrize(
    ("modality", "method", "base_date"),
    [
        ("mensual", "francesa", "2024-01-31"),
        ("MENSUAL ", " FRANCESA", "2024-01-31"),
        ("Mensual", "FRANCESA", "2024-01-31 09:00:00"),
    ],
)
def test_the_simulation_and_the_batch_accept_the_same_terms(
    modality: str, method: str, base_date: str
) -> None:
    """One validation: what the batch schedules from a row, the simulation shows from run config."""
    batch = terms_of(
        _lender_row(modalidad_pago=modality, metodo_amortizacion=method, fecha_base_calculo=base_date)
    )
    assert isinstance(batch, LoanTerms)
    config = {
        "principal": "1912.75",
        "annual_rate": "24",
        "installments": 3,
        "modality": modality,
        "method": method,
        "base_date": base_date,
    }
    result = simulation.loans_simulate_job.execute_in_process(
        run_config=dg.RunConfig(ops={simulation.simulate_schedule.name: SimulationConfig(**config)})
    )
    assert result.success
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    assert output.event_specific_data.metadata["first_payment"].value == "663.26"
    assert output.event_specific_data.metadata["first_due"].value == "2024-02-29"
