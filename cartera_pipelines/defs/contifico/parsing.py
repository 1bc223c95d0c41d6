"""Pure parsing of Contifico records: dates, amounts, content hashes, typed rows, child lines, drift.

No Dagster, no I/O. Payloads are hostile (DESIGN §3): every date spelling is accepted, amounts come as
strings or JSON numbers, bookkeeping dates never fail a record. A record that still cannot be typed
raises :class:`RecordError` (field, value, reason) and becomes a :class:`Reject`; a page that is not
the list we expect raises ``PayloadError`` (the page envelope is the client's: ``resources/contifico``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import orjson

from cartera_pipelines.defs.contifico.catalog import CatalogEntry, ChildTable
from cartera_pipelines.defs.contifico.plan import CONTIFICO_TZ
from cartera_pipelines.resources.contifico import PayloadError, snippet

ID_LENGTH = 16
BOOKKEEPING_FIELDS = frozenset({"fecha_modificacion", "fecha_creacion"})
"""Our bookkeeping, not the analyst's data: unreadable values are stored as unknown, never reject a record."""


class RecordError(ValueError):
    """One record field that cannot be parsed: ``field`` and ``value`` say which and what."""

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.reason = message
        self.field = field
        self.value = value

    def at(self, field: str) -> RecordError:
        """The same error, located at ``field`` (the innermost location wins)."""
        return RecordError(self.reason, field=self.field or field, value=self.value)


# Every spelling the API (and its older versions) used: dd/mm/yyyy with an optional time (seconds and
# fractions optional), ISO dates, ISO datetimes with "T" or a space, fractions, "Z" or an offset.
_DMY = re.compile(
    r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*$"
)
_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?\s*$",
    re.IGNORECASE,
)
DATE_FORMATS = "dd/mm/yyyy [HH:MM[:SS[.fff]]] or ISO yyyy-mm-dd[THH:MM[:SS[.fff]][offset]]"


def _date_parts(value: Any) -> tuple[int, ...]:
    """(year, month, day, hour, minute, second, microsecond) and the offset in minutes or None."""
    # Regexes and int() rather than strptime: this runs for every record (strptime was a tenth of a sync).
    if isinstance(value, str):
        match = _DMY.match(value)
        if match is not None:
            day, month, year, hour, minute, second, fraction = match.groups()
            return _checked(value, year, month, day, hour, minute, second, fraction, None)
        match = _ISO.match(value)
        if match is not None:
            year, month, day, hour, minute, second, fraction, offset = match.groups()
            return _checked(value, year, month, day, hour, minute, second, fraction, offset)
    raise RecordError(f"expected a date ({DATE_FORMATS}), got {value!r}", value=value)


def _checked(value: Any, *parts: str | None) -> tuple[int, ...]:
    year, month, day, hour, minute, second, fraction, offset = parts
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    minutes = None
    if offset is not None:
        if offset.upper() == "Z":
            minutes = 0
        else:
            digits = offset[1:].replace(":", "")
            minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
            minutes = -minutes if offset[0] == "-" else minutes
    numbers = (int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro)
    try:
        dt.datetime(*numbers)
    except ValueError:
        raise RecordError(f"not a valid date: {value!r}", value=value) from None
    return (*numbers, minutes)  # type: ignore[return-value]


def parse_datetime(value: Any) -> dt.datetime | None:
    """Any date spelling → naive datetime in Contifico's local time (an offset is converted); empty → None."""
    if type(value) is str and value:
        return _cached_datetime(value)
    if value is None or value == "":
        return None
    return _datetime(value)


def parse_date(value: Any) -> dt.date | None:
    """Any date spelling → the calendar day written (a time, if any, is dropped); empty → None."""
    if type(value) is str and value:
        return _cached_date(value)
    if value is None or value == "":
        return None
    return _date(value)


def _datetime(value: Any) -> dt.datetime:
    *numbers, offset = _date_parts(value)
    moment = dt.datetime(*numbers)
    if offset is not None:
        zone = dt.timezone(dt.timedelta(minutes=offset))
        moment = moment.replace(tzinfo=zone).astimezone(CONTIFICO_TZ).replace(tzinfo=None)
    return moment


def _date(value: Any) -> dt.date:
    year, month, day = _date_parts(value)[:3]
    return dt.date(year, month, day)


# The same spellings come back record after record (emission dates, catalog dates): a bounded cache
# of the immutable results skips the regexes for them. Errors are not cached (they raise again).
_cached_date = functools.lru_cache(maxsize=8192)(_date)
_cached_datetime = functools.lru_cache(maxsize=8192)(_datetime)


def parse_decimal(value: Any) -> Decimal | None:
    """A decimal string (``"12.50"``, ``"-3"``) or a JSON number → Decimal; empty → None.

    A JSON number arrives as a Python float: it becomes the Decimal of its shortest repr (``12.5`` →
    ``Decimal("12.5")``), which is the text the API wrote.
    """
    if type(value) is str and value:  # the common case first: this runs for every amount of every record
        try:
            number = Decimal(value)  # surrounding whitespace is accepted by Decimal itself
        except InvalidOperation:
            raise RecordError(f"expected an amount, got {value!r}", value=value) from None
        if number.is_finite() and "_" not in value:  # "1_000": Python reads it, PostgreSQL would not
            return number
        raise RecordError(f"expected a finite amount without separators, got {value!r}", value=value)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError(f"expected an amount, got {value!r}", value=value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, str):
        raise RecordError(f"expected an amount, got {value!r}", value=value)
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise RecordError(f"expected an amount, got {value!r}", value=value) from None
    if not number.is_finite():
        raise RecordError(f"expected a finite amount, got {value!r}", value=value)
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
    raise RecordError(f"expected a boolean, got {value!r}", value=value)


def parse_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError(f"expected an integer, got {value!r}", value=value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise RecordError(f"expected an integer, got {value!r}", value=value) from None


def parse_text(value: Any) -> str | None:
    if type(value) is str or value is None:
        return value
    if isinstance(value, (dict, list)):
        raise RecordError(f"expected a scalar, got {type(value).__name__}", value=value)
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


# One encoder for every record: json.dumps with options builds a new encoder per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
# orjson writes the same text as ``_CANONICAL`` (sorted keys, no spaces, UTF-8, the same escapes and
# float digits) several times faster, except for floats below 1e-4: Python writes ``1e-05``/``1e-07``,
# orjson ``0.00001``/``1e-7``. Output holding ``e-`` or ``0.0000`` (such a float, or a string that
# merely looks like one) goes through ``_CANONICAL``, as does anything orjson refuses (ints beyond
# 64 bits, lone surrogates, non-JSON types): the text, and so the stored hashes, stay what they were.
# NaN and ±Infinity (JSON has none; only ``json.loads`` reads them) become null: the stdlib's NaN was
# refused by PostgreSQL's jsonb, so no such record was ever stored.
# (Two literal searches: a regex over every record cost more than orjson's encoding itself.)
_SORT_KEYS = orjson.OPT_SORT_KEYS


def _fast_canonical(record: Mapping[str, Any]) -> bytes | None:
    """orjson's text when it is the stdlib's, else None."""
    try:
        data = orjson.dumps(record, option=_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        return None
    return data if b"e-" not in data and b"0.0000" not in data else None


def canonical_json(record: Mapping[str, Any]) -> str:
    """The record as JSON with sorted keys and no spaces: equal records give equal text."""
    data = _fast_canonical(record)
    return _CANONICAL(record) if data is None else data.decode("utf-8")


def content_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON: the change detector of the upsert."""
    return canonical_and_hash(record)[1]


def canonical_and_hash(record: Mapping[str, Any]) -> tuple[str, str]:
    data = _fast_canonical(record)
    if data is None:
        text = _CANONICAL(record)
        return text, hashlib.sha256(text.encode("utf-8")).hexdigest()
    return data.decode("utf-8"), hashlib.sha256(data).hexdigest()


def validate_id(record: Any) -> str:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    record_id = record.get("id")
    if not isinstance(record_id, str) or not record_id.strip():
        raise RecordError(f"record without an id: {snippet(json.dumps(record, ensure_ascii=False), 120)}")
    if len(record_id) > ID_LENGTH * 2:
        raise RecordError(f"id {record_id!r} is longer than {ID_LENGTH * 2} characters")
    return record_id


def _short_id(value: Any) -> str | None:
    text = parse_text(value)
    if text is not None and len(text) > ID_LENGTH * 2:
        raise RecordError(f"an id longer than {ID_LENGTH * 2} characters: {text!r}", value=value)
    return text


def _required(value: Any) -> Decimal:
    number = parse_decimal(value)
    if number is None:
        raise RecordError("an amount is required here", value=value)
    return number


def _line_value(item: Mapping[str, Any], key: str, parse: Any) -> Any:
    try:
        return parse(item.get(key))
    except RecordError as error:
        raise error.at(key) from None


def line_row(child: ChildTable, parent_id: str, number: int, item: Any) -> dict[str, Any]:
    """One item of a nested array → the typed row of its child table (``tables.child_table``)."""
    if child.kind == "document" and type(item) is dict:
        try:  # the common case in one go (hundreds of thousands of lines); errors are located below
            discount = item.get("porcentaje_descuento")
            return {
                "parent_id": parent_id,
                "line_number": number,
                "raw": item,
                "product_id": _short_id(item.get("producto_id")),
                "quantity": _required(item.get("cantidad")),
                "price": _required(item.get("precio")),
                "discount": parse_decimal(item.get("descuento") if discount is None else discount),
                "tax": parse_decimal(item.get("porcentaje_iva")),
            }
        except RecordError:
            pass
    return _located_line_row(child, parent_id, number, item)


def _located_line_row(child: ChildTable, parent_id: str, number: int, item: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"parent_id": parent_id, "line_number": number, "raw": item}
    if child.kind == "variant_value":
        value = item.get("valor", item.get("nombre")) if isinstance(item, dict) else item
        row["value"] = None if value is None else str(value)
        return row
    if not isinstance(item, dict):
        raise RecordError(f"expected a JSON object, got {type(item).__name__}", value=item)
    if child.kind == "journal":
        amount = _line_value(item, "valor", _required)
        side = str(item.get("tipo") or "").strip().upper()
        if side not in ("D", "H"):
            raise RecordError("tipo must be D (debe) or H (haber)", field="tipo", value=item.get("tipo"))
        row["account_id"] = _line_value(item, "cuenta_id", _short_id)
        row["cost_center_id"] = _line_value(item, "centro_costo_id", _short_id)
        row["debit"] = amount if side == "D" else Decimal(0)
        row["credit"] = amount if side == "H" else Decimal(0)
        return row
    row["product_id"] = _line_value(item, "producto_id", _short_id)
    row["quantity"] = _line_value(item, "cantidad", _required)
    row["price"] = _line_value(item, "precio", _required)
    if child.kind == "document":
        discount = "porcentaje_descuento" if item.get("porcentaje_descuento") is not None else "descuento"
        row["discount"] = _line_value(item, discount, parse_decimal)
        row["tax"] = _line_value(item, "porcentaje_iva", parse_decimal)
    return row


def line_rows(child: ChildTable, parent_id: str, record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every item of the record's nested array (absent or null: none), numbered from 1."""
    items = record.get(child.array)
    if items is None:
        return []
    if not isinstance(items, list):
        raise RecordError(f"expected an array, got {type(items).__name__}", field=child.array, value=items)
    rows = []
    for number, item in enumerate(items, start=1):
        try:
            rows.append(line_row(child, parent_id, number, item))
        except RecordError as error:
            raise RecordError(
                f"line {number}: {error.reason}",
                field=f"{child.array}[{number}].{error.field}" if error.field else f"{child.array}[{number}]",
                value=error.value,
            ) from None
    return rows


class ParsedRecord(NamedTuple):
    """A record ready to write: its typed row, the record itself, and its child tables' rows."""

    row: dict[str, Any]
    raw: Mapping[str, Any]
    children: dict[str, list[dict[str, Any]]]
    """child table name → rows (every child of the resource, empty lists included)."""


class Reject(NamedTuple):
    """A record that cannot be typed: it goes to ``contifico_rejects``, the rest of its page is written."""

    id: str
    field: str
    value: Any
    reason: str
    raw: Mapping[str, Any]


@dataclass
class ParsedPage:
    records: list[ParsedRecord] = dataclass_field(default_factory=list)
    rejects: list[Reject] = dataclass_field(default_factory=list)
    without_modified: int = 0
    """Records of an incremental resource without a readable modification date (invisible to
    incremental syncs: only full scans see their changes)."""
    unknown_fields: dict[str, Any] = dataclass_field(default_factory=dict)
    """Fields the catalog does not know → an example value (schema drift)."""

    @property
    def ids(self) -> list[str]:
        return [item.row["id"] for item in self.records] + [reject.id for reject in self.rejects]


_PLANS: dict[str, tuple[tuple[str, str, bool, Any, str], ...]] = {}


def _field_plan(resource: CatalogEntry) -> tuple[tuple[str, str, bool, Any, str], ...]:
    """Per typed field, once per entry: column, path, nested?, parser, and the kind when bookkeeping.
    (Kept by name: hashing the frozen entry for every record cost more than the lookup saved.)"""
    plan = _PLANS.get(resource.name)
    if plan is None:
        plan = _PLANS[resource.name] = _build_plan(resource)
    return plan


def _build_plan(resource: CatalogEntry) -> tuple[tuple[str, str, bool, Any, str], ...]:
    return tuple(
        (
            field.column,
            field.path,
            "." in field.path,
            _PARSERS[field.kind],
            field.kind if field.path in BOOKKEEPING_FIELDS else "",
        )
        for field in resource.fields
    )


def _bookkeeping(value: Any) -> Any:
    """A bookkeeping date never fails a record: unreadable is unknown."""
    try:
        return parse_datetime(value)
    except RecordError:
        return None


def typed_row(resource: CatalogEntry, record: Mapping[str, Any]) -> dict[str, Any]:
    """The natural key, typed analyst columns, ``source_updated_at``, hash and canonical JSON
    (``raw_json``, the text the hash covers) of one record. Raises :class:`RecordError` with the field."""
    row: dict[str, Any] = {"id": validate_id(record)}
    for column, path, nested, parse, bookkeeping_kind in _field_plan(resource):
        value = lookup(record, path) if nested else record.get(path)
        if bookkeeping_kind:
            parsed = _bookkeeping(value)
            row[column] = parsed.date() if parsed is not None and bookkeeping_kind == "date" else parsed
            continue
        try:
            row[column] = parse(value)
        except RecordError as error:
            raise error.at(path) from None
    updated = record.get(resource.updated_field) if resource.updated_field else None
    row["source_updated_at"] = _bookkeeping(updated) if updated not in (None, "") else None
    row["raw_json"], row["content_hash"] = canonical_and_hash(record)
    return row


def parse_record(resource: CatalogEntry, record: Mapping[str, Any]) -> ParsedRecord:
    """The typed row and the child rows of one record; raises :class:`RecordError`."""
    row = typed_row(resource, record)
    children = {child.name: line_rows(child, row["id"], record) for child in resource.children}
    return ParsedRecord(row, record, children)


def parse_page(resource: CatalogEntry, records: Sequence[Any]) -> ParsedPage:
    """Every record of a page, typed; a record that cannot be typed becomes a :class:`Reject`.

    A page with a record that is not an object, has no id or repeats an id is not the list we
    expect: :class:`PayloadError` (the resource fails, with URL, page and snippet).
    """
    page = ParsedPage()
    seen: set[str] = set()
    known = resource.known_fields
    for position, record in enumerate(records, start=1):
        try:
            record_id = validate_id(record)
        except RecordError as error:
            raise PayloadError(f"record {position} of the page: {error}") from None
        if record_id in seen:
            raise PayloadError(f"record {position} of the page repeats id {record_id!r}")
        seen.add(record_id)
        if not known.issuperset(record):
            for name in record.keys() - known:
                page.unknown_fields.setdefault(name, record[name])
        try:
            item = parse_record(resource, record)
        except RecordError as error:
            page.rejects.append(Reject(record_id, error.field or "", error.value, error.reason, record))
            continue
        if resource.updated_field and item.row["source_updated_at"] is None:
            page.without_modified += 1
        page.records.append(item)
    return page
