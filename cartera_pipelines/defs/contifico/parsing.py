"""Pure parsing of Contifico payloads: pages, dates, amounts, content hashes, typed rows.

No Dagster, no I/O. Everything that rejects input raises :class:`PayloadError` (a whole page) or
:class:`RecordError` (one field of one record) with enough context to find the culprit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from cartera_pipelines.defs.contifico.catalog import ApiVersion, ChildTable, ContificoResource, TypedField

ID_LENGTH = 16
SNIPPET = 200


class PayloadError(ValueError):
    """A page that cannot be used: not JSON, the wrong shape, or a record that fails validation."""


class RecordError(ValueError):
    """One record field that cannot be parsed."""


def snippet(text: str | bytes, limit: int = SNIPPET) -> str:
    """The start of a body, on one line, for error messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


_DATE = re.compile(r"^\s*(\d{2})/(\d{2})/(\d{4})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?\s*$")


def _match_date(value: Any) -> re.Match[str]:
    # A regex and int() rather than strptime: this runs for every record (strptime was a tenth of a sync).
    match = _DATE.match(value) if isinstance(value, str) else None
    if match is None:
        raise RecordError(f"expected a dd/mm/yyyy date, got {value!r}")
    return match


def parse_date(value: Any) -> dt.date | None:
    """``dd/mm/yyyy`` (optionally followed by a time) → date; empty → None."""
    if value is None or value == "":
        return None
    day, month, year = _match_date(value).group(1, 2, 3)
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        raise RecordError(f"expected a dd/mm/yyyy date, got {value!r}") from None


def parse_datetime(value: Any) -> dt.datetime | None:
    """``dd/mm/yyyy`` or ``dd/mm/yyyy HH:MM[:SS]`` → naive datetime (Contifico's local time)."""
    if value is None or value == "":
        return None
    parts = _match_date(value).groups()
    try:
        return dt.datetime(
            int(parts[2]),
            int(parts[1]),
            int(parts[0]),
            int(parts[3] or 0),
            int(parts[4] or 0),
            int(parts[5] or 0),
        )
    except ValueError:
        raise RecordError(f"expected a dd/mm/yyyy date, got {value!r}") from None


def parse_decimal(value: Any) -> Decimal | None:
    """A decimal string (``"12.50"``, ``"-3"``) or an integer → Decimal, exactly; empty → None.

    Floats are refused: Contifico sends amounts as strings, and a float would already have lost
    precision before we saw it.
    """
    if value is None or value == "":
        return None
    if isinstance(value, (bool, float)):
        raise RecordError(f"expected a decimal string, got {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        raise RecordError(f"expected a decimal string, got {value!r}")
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise RecordError(f"expected a decimal string, got {value!r}") from None
    if not number.is_finite():
        raise RecordError(f"expected a finite decimal, got {value!r}")
    return number


def parse_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "s", "si", "sí", "t"}:
        return True
    if text in {"false", "0", "n", "no", "f"}:
        return False
    raise RecordError(f"expected a boolean, got {value!r}")


def parse_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError(f"expected an integer, got {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise RecordError(f"expected an integer, got {value!r}") from None


def parse_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise RecordError(f"expected a scalar, got {type(value).__name__}")
    return str(value)


_PARSERS = {
    "text": parse_text,
    "decimal": parse_decimal,
    "date": parse_date,
    "bool": parse_bool,
    "int": parse_int,
}


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """A dotted path into nested objects (``persona.id``); missing → None."""
    if "." not in path:
        return record.get(path)
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def canonical_json(record: Mapping[str, Any]) -> str:
    """The record as JSON with sorted keys and no spaces: equal records give equal text."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON: the change detector of the upsert."""
    return hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()


def canonical_and_hash(record: Mapping[str, Any]) -> tuple[str, str]:
    text = canonical_json(record)
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def validate_id(record: Any) -> str:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    record_id = record.get("id")
    if not isinstance(record_id, str) or not record_id.strip():
        raise RecordError(f"record without an id: {snippet(json.dumps(record, ensure_ascii=False), 120)}")
    if len(record_id) > ID_LENGTH * 2:
        raise RecordError(f"id {record_id!r} is longer than {ID_LENGTH * 2} characters")
    return record_id


def _short_id(value: Any, field: str) -> str | None:
    text = parse_text(value)
    if text is not None and len(text) > ID_LENGTH * 2:
        raise RecordError(f"{field} {text!r} is longer than {ID_LENGTH * 2} characters")
    return text


def _required(value: Any, field: str) -> Decimal:
    number = parse_decimal(value)
    if number is None:
        raise RecordError(f"{field} is missing")
    return number


def line_row(child: ChildTable, parent_id: str, number: int, item: Any) -> dict[str, Any]:
    """One item of a nested array → the typed row of its child table (``tables.child_table``)."""
    row: dict[str, Any] = {"parent_id": parent_id, "line_number": number, "raw": item}
    if child.kind == "variant_value":
        value = item.get("valor", item.get("nombre")) if isinstance(item, dict) else item
        row["value"] = None if value is None else str(value)
        return row
    if not isinstance(item, dict):
        raise RecordError(f"expected a JSON object, got {type(item).__name__}")
    if child.kind == "journal":
        amount = _required(item.get("valor"), "valor")
        side = str(item.get("tipo") or "").strip().upper()
        if side not in ("D", "H"):
            raise RecordError(f"tipo must be D (debe) or H (haber), got {item.get('tipo')!r}")
        row["account_id"] = _short_id(item.get("cuenta_id"), "cuenta_id")
        row["cost_center_id"] = _short_id(item.get("centro_costo_id"), "centro_costo_id")
        row["debit"] = amount if side == "D" else Decimal(0)
        row["credit"] = amount if side == "H" else Decimal(0)
        return row
    row["product_id"] = _short_id(item.get("producto_id"), "producto_id")
    row["quantity"] = _required(item.get("cantidad"), "cantidad")
    row["price"] = _required(item.get("precio"), "precio")
    if child.kind == "document":
        discount = item.get("porcentaje_descuento")
        row["discount"] = parse_decimal(item.get("descuento") if discount is None else discount)
        row["tax"] = parse_decimal(item.get("porcentaje_iva"))
    return row


def line_rows(child: ChildTable, parent_id: str, record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every item of the record's nested array (absent or null: none), numbered from 1."""
    items = record.get(child.array)
    if items is None:
        return []
    if not isinstance(items, list):
        raise RecordError(f"field {child.array!r}: expected an array, got {type(items).__name__}")
    rows = []
    for number, item in enumerate(items, start=1):
        try:
            rows.append(line_row(child, parent_id, number, item))
        except RecordError as error:
            raise RecordError(f"field {child.array!r}, line {number}: {error}") from None
    return rows


class ParsedRecord(NamedTuple):
    """A record ready to write: its typed row, the record itself, and its child tables' rows."""

    row: dict[str, Any]
    raw: Mapping[str, Any]
    children: dict[str, list[dict[str, Any]]]
    """child table name → rows (every child of the resource, empty lists included)."""


def typed_row(resource: ContificoResource, record: Mapping[str, Any]) -> dict[str, Any]:
    """The natural key, typed analyst columns, ``source_updated_at``, hash and canonical JSON
    (``raw_json``, the text the hash covers) of one record."""
    row: dict[str, Any] = {"id": validate_id(record)}
    field: TypedField
    for field in resource.fields:
        try:
            row[field.column] = _PARSERS[field.kind](lookup(record, field.path))
        except RecordError as error:
            raise RecordError(f"record {row['id']}: field {field.path!r}: {error}") from None
    updated = None
    if resource.updated_field:
        try:
            updated = parse_datetime(record.get(resource.updated_field))
        except RecordError as error:
            raise RecordError(f"record {row['id']}: field {resource.updated_field!r}: {error}") from None
    row["source_updated_at"] = updated
    row["raw_json"], row["content_hash"] = canonical_and_hash(record)
    return row


def page_records(version: ApiVersion, payload: Any) -> tuple[list[Any], int | None, str | None]:
    """The records of a decoded page and, for v2, the total ``count`` and the ``next`` link."""
    if version == "v1":
        if not isinstance(payload, list):
            raise PayloadError(f"expected a JSON array (v1 list), got {type(payload).__name__}")
        return payload, None, None
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        raise PayloadError("expected an object with a 'results' array (v2 list)")
    count = payload.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise PayloadError(f"'count' is not an integer: {count!r}")
    next_link = payload.get("next")
    return payload["results"], count, next_link if isinstance(next_link, str) and next_link else None


def parse_record(resource: ContificoResource, record: Mapping[str, Any]) -> ParsedRecord:
    """The typed row and the child rows of one record; raises :class:`RecordError`."""
    row = typed_row(resource, record)
    children = {}
    for child in resource.children:
        try:
            children[child.name] = line_rows(child, row["id"], record)
        except RecordError as error:
            raise RecordError(f"record {row['id']}: {error}") from None
    return ParsedRecord(row, record, children)


def parse_page(resource: ContificoResource, records: Sequence[Any]) -> list[ParsedRecord]:
    """Every record of a page, typed; one bad record rejects the whole page."""
    parsed = []
    seen: set[str] = set()
    for position, record in enumerate(records, start=1):
        try:
            item = parse_record(resource, record)
        except RecordError as error:
            raise PayloadError(f"record {position} of the page: {error}") from None
        if item.row["id"] in seen:
            raise PayloadError(f"record {position} of the page repeats id {item.row['id']!r}")
        seen.add(item.row["id"])
        parsed.append(item)
    return parsed


def error_message(body: bytes | str) -> str:
    """Contifico's error text (``mensaje``, ``error`` or ``detail``), else a snippet of the body."""
    try:
        payload = json.loads(body)
    except (ValueError, TypeError):
        return snippet(body)
    if isinstance(payload, dict):
        for key in ("mensaje", "error", "detail"):
            if payload.get(key):
                return str(payload[key])
    return snippet(body)


def is_page_out_of_range(status: int, body: bytes | str) -> bool:
    """Contifico's "Pagina fuera del rango" 400: past the last page, i.e. the end of the data."""
    if status not in (400, 404):
        return False
    message = error_message(body).lower()
    return "fuera del rango" in message or "invalid page" in message or "página inválida" in message
