"""Exposure per client: outstanding and concentration over what is still unpaid (DESIGN §3 factoring)."""

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from cartera_pipelines.defs.factoring.exposure import CededInvoice, ClientLine, compute_exposure

AS_OF = dt.date(2026, 3, 9)
PAST, FUTURE = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
DEBTOR_A, DEBTOR_B = "76.086.428-5", "12.345.678-5"


def _client(line: str = "5000") -> ClientLine:
    return ClientLine(1, "77.777.777-7", "Comercial Ñuble SpA", "activo", Decimal(line), Decimal("4000"))


def test_an_operation_of_1000_with_600_paid_shows_400_outstanding() -> None:
    invoices = [
        CededInvoice(1, DEBTOR_A, Decimal("600"), PAST, "pagada"),
        CededInvoice(1, DEBTOR_B, Decimal("400"), PAST, "cedida"),
    ]
    [row] = compute_exposure([_client()], [(1, Decimal("1000"))], invoices, AS_OF)
    assert row["monto_cedido_vigente"] == Decimal("400.00")
    assert row["monto_operaciones_abiertas"] == Decimal("1000.00")
    # The API reserves the operation's face value on the line until the operation is closed.
    assert row["linea_disponible_esperada"] == Decimal("4000.00")
    assert row["utilizacion"] == Decimal("0.0800")
    # The paid debtor is not a concentration any more: the one who still owes is all of it.
    assert row["deudor_principal_rut"] == DEBTOR_B and row["deudor_principal_monto"] == Decimal("400.00")
    assert row["concentracion_deudor_principal"] == Decimal("1.0000")
    assert (row["facturas_cedidas_vencidas"], row["monto_cedido_vencido"]) == (1, Decimal("400.00"))


def test_voided_invoices_owe_nothing_and_all_paid_means_no_concentration() -> None:
    invoices = [
        CededInvoice(1, DEBTOR_A, Decimal("700"), FUTURE, "anulada"),
        CededInvoice(1, DEBTOR_B, Decimal("300"), PAST, "pagada"),
    ]
    [row] = compute_exposure([_client()], [(1, Decimal("1000"))], invoices, AS_OF)
    assert row["monto_cedido_vigente"] == Decimal("0.00") and row["operaciones_abiertas"] == 1
    assert row["deudor_principal_rut"] is None and row["concentracion_deudor_principal"] is None
    assert row["facturas_cedidas_vencidas"] == 0


STATES = st.sampled_from(["cedida", "pagada", "anulada", "vencida"])
AMOUNTS = st.decimals(min_value=1, max_value=10**9, places=2, allow_nan=False)
INVOICES = st.lists(
    st.tuples(
        st.sampled_from([DEBTOR_A, DEBTOR_B, "9.999.999-3"]), AMOUNTS, st.sampled_from([PAST, FUTURE]), STATES
    ),
    max_size=30,
)


@given(INVOICES)
def test_outstanding_and_concentration_are_over_the_unpaid(drawn: list) -> None:
    invoices = [CededInvoice(1, debtor, amount, due, state) for debtor, amount, due, state in drawn]
    [row] = compute_exposure([_client("1000000000000")], [(1, Decimal("1"))], invoices, AS_OF)
    unpaid = [i for i in invoices if i.estado not in ("pagada", "anulada")]
    owed = sum((i.monto_total for i in unpaid), Decimal(0))
    assert row["monto_cedido_vigente"] == owed.quantize(Decimal("0.01"))
    assert row["deudor_principal_monto"] <= row["monto_cedido_vigente"]
    if unpaid:
        by_debtor: dict[str, Decimal] = {}
        for i in unpaid:
            by_debtor[i.rut_deudor] = by_debtor.get(i.rut_deudor, Decimal(0)) + i.monto_total
        assert row["deudor_principal_monto"] == max(by_debtor.values())
        assert Decimal(0) < row["concentracion_deudor_principal"] <= 1
    else:
        assert row["concentracion_deudor_principal"] is None
    overdue = [i for i in unpaid if i.fecha_vencimiento < AS_OF]
    assert row["facturas_cedidas_vencidas"] == len(overdue)
