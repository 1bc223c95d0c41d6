"""FRANCESA against an independent implementation: numpy-financial's pmt, ipmt and ppmt.

numpy-financial works on the unrounded balance; we round the payment and every period's interest to
cents (DESIGN), and the last installment takes what remains. So per period our payment is within half a
cent of ``pmt``, and interest and capital are within one cent of ``ipmt``/``ppmt`` plus the interest on
the rounding drift carried in the balance (at most one cent per earlier period: payment and interest each round by half a cent, grown at the periodic
rate: ``r × drift_k``, a fraction of a cent over the product ranges); the last installment's capital is
within one cent plus the whole drift, which it absorbs. The oracle computes in binary floats, so the
domain stops at 100 million and at 1 % a year (below that, float cancellation in ``1 − (1+r)^−n`` costs
numpy-financial itself more than a cent).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartera_pipelines.defs.loans.amortization import schedule
from cartera_pipelines.defs.loans.terms import PERIODS_PER_YEAR, LoanTerms, Method, Modality

MAX_N = {Modality.MENSUAL: 60, Modality.QUINCENAL: 72, Modality.SEMANAL: 104}
CENT = 0.01 + 1e-9


@pytest.mark.parametrize("modality", list(Modality))
@settings(max_examples=80, deadline=None)
@given(
    principal_cents=st.integers(min_value=10_000, max_value=10**10),
    rate_bp=st.integers(min_value=100, max_value=3_600),
    n_fraction=st.floats(min_value=0, max_value=1),
)
def test_french_schedule_matches_numpy_financial(
    modality: Modality, principal_cents: int, rate_bp: int, n_fraction: float
) -> None:
    n = 1 + int(n_fraction * (MAX_N[modality] - 1))
    principal = Decimal(principal_cents).scaleb(-2)
    rate = Decimal(rate_bp).scaleb(-2)
    rows = schedule(LoanTerms(principal, rate, n, modality, Method.FRANCESA, dt.date(2024, 1, 31)))
    r = float(rate) / 100 / PERIODS_PER_YEAR[modality]
    pv = float(principal)
    payment = -float(npf.pmt(r, n, pv))
    for k, row in enumerate(rows, start=1):
        drift = 0.01 * sum((1 + r) ** j for j in range(k - 1))  # rounding carried into this balance
        interest = -float(npf.ipmt(r, k, n, pv))
        capital = -float(npf.ppmt(r, k, n, pv))
        if k < n:
            assert abs(float(row.monto_cuota) - payment) <= 0.005 + 1e-9
            assert abs(float(row.monto_interes) - interest) <= CENT + r * drift, (k, row, interest)
            assert abs(float(row.monto_capital) - capital) <= CENT + r * drift, (k, row, capital)
        else:
            assert abs(float(row.monto_capital) - capital) <= CENT + drift + 0.005, (k, row, capital, drift)
    assert r * 0.01 * sum((1 + r) ** j for j in range(n)) < 0.05  # the drift allowance stays small
