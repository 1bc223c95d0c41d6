"""The 17 Contifico resources we sync: endpoint, list shape, incremental or not, typed columns.

Pure data, no Dagster and no I/O. ``tables.py`` builds one warehouse table per entry and
``assets.py`` one asset per entry, so adding a resource is one line here.

Shapes (DESIGN §3): ``v1`` endpoints answer a bare JSON array paged with ``result_page`` /
``result_size``; ``v2`` endpoints answer ``{count, next, previous, results}`` paged with ``page`` /
``page_size``. Resources whose records carry ``fecha_modificacion`` accept the filter
``fecha_modificacion__gte=<ISO datetime>`` and are synced incrementally; the others are small
catalogs read in full every time.

The API's quirks, as the original service's client met them against the real API: ``documento/``,
``persona/`` and ``registro/transaccion/`` page only with ``result_page``/``result_size`` (with
``page``/``page_size`` ``documento/`` ignores paging and answers everything); ``contabilidad/centro-costo/``
answers 500 for pages over 100; documents filter changes by ``fecha_emision__gte`` (a document changed
long after its emission is seen by the weekly full scan).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["text", "decimal", "date", "bool", "int"]
ApiVersion = Literal["v1", "v2"]
Paging = Literal["page", "result_page"]
"""``page``/``page_size`` or ``result_page``/``result_size``."""
LineKind = Literal["document", "movement", "journal", "variant_value"]
"""How the items of a nested array become typed rows (``parsing.line_row``, ``tables.child_table``)."""


@dataclass(frozen=True)
class TypedField:
    """A typed warehouse column filled from a (possibly nested, dotted) field of the payload."""

    column: str
    path: str
    kind: FieldKind = "text"
    comment: str = ""


@dataclass(frozen=True)
class ChildTable:
    """A nested array of the payload stored as its own table, keyed by (parent id, line number)."""

    name: str
    """Table suffix: ``contifico_<name>``."""
    array: str
    """The field holding the array (``detalles``, ``valores``)."""
    kind: LineKind

    @property
    def table_name(self) -> str:
        return f"contifico_{self.name}"


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    """Table suffix and asset name: ``warehouse/contifico_<name>``."""
    endpoint: str
    """Path under ``<base_url><version>/``, without query."""
    version: ApiVersion
    description: str
    fields: tuple[TypedField, ...]
    params: tuple[tuple[str, str], ...] = ()
    """Fixed query parameters (e.g. ``tipo_registro=PRO`` for purchases)."""
    incremental: bool = False
    """True when the endpoint filters by ``fecha_modificacion`` (then the record carries it)."""
    updated_field: str | None = None
    children: tuple[ChildTable, ...] = ()
    """Nested arrays stored as child tables, replaced in the same transaction as their parent."""
    raw_only: tuple[str, ...] = ()
    """Fields the API sends that we keep only in ``raw`` (known: not schema drift)."""
    paging: Paging | None = None
    """The page parameters the endpoint understands (default: v1 ``result_page``, v2 ``page``)."""
    page_cap: int | None = None
    """Largest page the endpoint answers (larger pages fail on the server)."""
    change_filter: str = "fecha_modificacion__gte"
    """The query parameter filtering changed records (an ISO datetime, inclusive)."""

    @property
    def table_name(self) -> str:
        return f"contifico_{self.name}"

    @property
    def path(self) -> str:
        return f"{self.version}/{self.endpoint}"

    @property
    def page_style(self) -> Paging:
        return self.paging or ("result_page" if self.version == "v1" else "page")

    def page_size(self, wanted: int) -> int:
        return min(wanted, self.page_cap) if self.page_cap else wanted

    @property
    def known_fields(self) -> frozenset[str]:
        """Every top-level field the catalog knows: anything else is schema drift."""
        return frozenset(
            {
                "id",
                *([self.updated_field] if self.updated_field else []),
                *(f.path.split(".")[0] for f in self.fields),
                *(child.array for child in self.children),
                *self.raw_only,
            }
        )

    @property
    def display_endpoint(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.params)
        return self.endpoint + (f"?{query}" if query else "")


def _incremental(**kwargs: object) -> CatalogEntry:
    return CatalogEntry(incremental=True, updated_field="fecha_modificacion", **kwargs)  # type: ignore[arg-type]


_DOCUMENT_FIELDS = (
    TypedField("document_type", "tipo_documento", comment="FAC, NCT, NDB, LQC, …"),
    TypedField("document_number", "documento", comment="establecimiento-punto-secuencial"),
    TypedField("document_date", "fecha_emision", "date"),
    TypedField("person_id", "persona.id"),
    TypedField("person_type", "persona.tipo", comment="N natural, J jurídica"),
    TypedField("person_ruc", "persona.ruc"),
    TypedField("subtotal", "subtotal", "decimal"),
    TypedField("tax", "iva", "decimal"),
    TypedField("total", "total", "decimal"),
    TypedField("status", "estado"),
)

CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        "categories",
        "categoria/",
        "v1",
        "Product categories.",
        (
            TypedField("name", "nombre"),
            TypedField("parent_id", "padre_id"),
            TypedField("product_type", "tipo_producto"),
        ),
    ),
    CatalogEntry("brands", "marca/", "v1", "Product brands.", (TypedField("name", "nombre"),)),
    CatalogEntry(
        "variants",
        "variante/",
        "v1",
        "Product variants (size, colour…).",
        (TypedField("name", "nombre"),),
        children=(ChildTable("variant_values", "valores", "variant_value"),),
    ),
    _incremental(
        name="products",
        endpoint="producto/",
        version="v1",
        description="Products and services with prices and stock.",
        fields=(
            TypedField("code", "codigo"),
            TypedField("name", "nombre"),
            TypedField("category_id", "categoria_id"),
            TypedField("brand_id", "marca_id"),
            TypedField("product_type", "tipo"),
            TypedField("status", "estado"),
            TypedField("price_1", "pvp1", "decimal", "PVP 1"),
            TypedField("price_2", "pvp2", "decimal", "PVP 2"),
            TypedField("cost", "costo_maximo", "decimal"),
            TypedField("stock", "cantidad_stock", "decimal"),
            TypedField("minimum_stock", "minimo", "decimal"),
            TypedField("tax_rate", "porcentaje_iva", "decimal"),
            TypedField("created_date", "fecha_creacion", "date"),
        ),
        raw_only=("descripcion",),
    ),
    CatalogEntry(
        "warehouses",
        "bodega/",
        "v1",
        "Warehouses (bodegas).",
        (TypedField("code", "codigo"), TypedField("name", "nombre"), TypedField("sells", "venta", "bool")),
        raw_only=("compra", "produccion"),
    ),
    _incremental(
        name="inventory_movements",
        endpoint="movimiento-inventario/",
        version="v2",
        description="Inventory movements (ING entries, EGR exits) with their lines in the raw JSON.",
        fields=(
            TypedField("document_type", "tipo", comment="ING or EGR"),
            TypedField("document_number", "codigo"),
            TypedField("document_date", "fecha", "date"),
            TypedField("warehouse_id", "bodega_id"),
            TypedField("total", "total", "decimal"),
        ),
        children=(ChildTable("inventory_movement_lines", "detalles", "movement"),),
        raw_only=("descripcion",),
    ),
    _incremental(
        name="remission_guides",
        endpoint="inventario/guia/",
        version="v2",
        description="Remission guides (guías de remisión).",
        fields=(
            TypedField("document_number", "numero_documento"),
            TypedField("document_date", "fecha_emision", "date"),
            TypedField("person_id", "destinatario.id"),
            TypedField("warehouse_id", "bodega_id"),
            TypedField("status", "estado"),
        ),
        raw_only=("placa",),
    ),
    _incremental(
        name="purchases",
        endpoint="registro/documento/",
        version="v2",
        params=(("tipo_registro", "PRO"),),
        description="Purchase documents registered from suppliers (tipo_registro=PRO).",
        fields=(*_DOCUMENT_FIELDS, TypedField("balance", "saldo", "decimal")),
        children=(ChildTable("purchases_lines", "detalles", "document"),),
        raw_only=("tipo_registro",),
    ),
    _incremental(
        name="sales",
        endpoint="registro/documento/",
        version="v2",
        params=(("tipo_registro", "CLI"),),
        description="Sales documents registered for clients (tipo_registro=CLI).",
        fields=(*_DOCUMENT_FIELDS, TypedField("balance", "saldo", "decimal")),
        children=(ChildTable("sales_lines", "detalles", "document"),),
        raw_only=("tipo_registro",),
    ),
    _incremental(
        name="documents",
        endpoint="documento/",
        version="v2",
        description="Electronic documents (invoices, credit notes, quotes) with their lines in the raw JSON.",
        fields=_DOCUMENT_FIELDS,
        children=(ChildTable("documents_lines", "detalles", "document"),),
        paging="result_page",
        change_filter="fecha_emision__gte",
    ),
    _incremental(
        name="registry_transactions",
        endpoint="registro/transaccion/",
        version="v2",
        description="Payments and collections applied to registered documents.",
        fields=(
            TypedField("document_id", "registro_id"),
            TypedField("transaction_type", "tipo"),
            TypedField("document_date", "fecha", "date"),
            TypedField("amount", "monto", "decimal"),
            TypedField("bank_account_id", "cuenta_bancaria_id"),
        ),
        raw_only=("comentario",),
        paging="result_page",
    ),
    _incremental(
        name="persons",
        endpoint="persona/",
        version="v1",
        description="Clients, suppliers and employees (personas).",
        fields=(
            TypedField("person_type", "tipo", comment="N natural, J jurídica"),
            TypedField("ruc", "ruc"),
            TypedField("cedula", "cedula"),
            TypedField("name", "razon_social"),
            TypedField("trade_name", "nombre_comercial"),
            TypedField("is_client", "es_cliente", "bool"),
            TypedField("is_supplier", "es_proveedor", "bool"),
        ),
        raw_only=("direccion", "email", "es_empleado", "telefonos"),
        paging="result_page",
    ),
    CatalogEntry(
        "cost_centers",
        "contabilidad/centro-costo/",
        "v1",
        "Cost centers.",
        (TypedField("code", "codigo"), TypedField("name", "nombre")),
        raw_only=("estado",),
        page_cap=100,
    ),
    CatalogEntry(
        "chart_of_accounts",
        "contabilidad/cuenta-contable/",
        "v1",
        "Chart of accounts (plan de cuentas).",
        (
            TypedField("code", "codigo"),
            TypedField("name", "nombre"),
            TypedField("account_type", "tipo"),
            TypedField("level", "nivel", "int"),
        ),
    ),
    _incremental(
        name="journal_entries",
        endpoint="contabilidad/asiento/",
        version="v2",
        description="Journal entries (asientos) with their lines in the raw JSON.",
        fields=(
            TypedField("document_number", "numero"),
            TypedField("document_date", "fecha", "date"),
            TypedField("description", "glosa"),
            TypedField("total_debit", "total_debe", "decimal"),
            TypedField("total_credit", "total_haber", "decimal"),
        ),
        children=(ChildTable("journal_entry_lines", "detalles", "journal"),),
    ),
    CatalogEntry(
        "bank_accounts",
        "banco/cuenta/",
        "v1",
        "Bank accounts.",
        (
            TypedField("name", "nombre"),
            TypedField("account_number", "numero"),
            TypedField("bank", "banco"),
            TypedField("account_type", "tipo_cuenta"),
        ),
        raw_only=("saldo_inicial",),
    ),
    _incremental(
        name="bank_movements",
        endpoint="banco/movimiento/",
        version="v2",
        description="Bank movements.",
        fields=(
            TypedField("bank_account_id", "cuenta_bancaria_id"),
            TypedField("document_type", "tipo", comment="I income, E expense"),
            TypedField("document_number", "numero_comprobante"),
            TypedField("document_date", "fecha", "date"),
            TypedField("amount", "monto", "decimal"),
        ),
        raw_only=("descripcion",),
    ),
)

RESOURCES: dict[str, CatalogEntry] = {r.name: r for r in CATALOG}
CHILDREN: dict[str, ChildTable] = {child.name: child for r in CATALOG for child in r.children}
