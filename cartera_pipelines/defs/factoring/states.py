"""The states of invoices and cession operations, and which of them each rule of the family selects.

The rules themselves run as SQL (``sql.py``): these names are what the SQL and the pure logic share.
"""

from __future__ import annotations

ESTADOS_FACTURA = ("disponible", "en_proceso", "cedida", "pagada", "vencida", "anulada")
# Ceded, paid and voided invoices are someone else's concern (or closed); vencida is already done.
NOT_MARKED_OVERDUE = ("cedida", "pagada", "anulada", "vencida")
# An invoice in one of these states owes nothing any more: it is not outstanding, nor overdue.
SETTLED = ("pagada", "anulada")

ESTADOS_OPERACION = ("pendiente", "aprobada", "rechazada", "desembolsada", "finalizada")
# Operations that hold part of the client's credit line: approved and not yet collected.
OPEN_OPERATIONS = ("aprobada", "desembolsada")
