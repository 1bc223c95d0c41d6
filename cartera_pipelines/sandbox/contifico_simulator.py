"""A local Contifico API simulator over real HTTP (``cartera sandbox serve``; tests start it on port 0).

Serves the 16 list endpoints behind the 17 resources from the SQLite file the sandbox builder
writes (``sandbox/contifico.py``), with Contifico's semantics (DESIGN §3):

* ``Authorization: <key>`` checked on every request: 401 ``{"detail": ...}`` otherwise.
* ``/sistema/api/v1/...``: bare JSON arrays, ``result_page`` (from 1) / ``result_size``; past the
  end an empty array (or the 400 below with ``FaultConfig.v1_out_of_range``).
* ``/sistema/api/v2/...``: ``{count, next, previous, results}``, ``page`` / ``page_size``; past the
  end 400 ``{"code": "400", "error": "Pagina fuera del rango"}``.
* Page sizes are capped at ``MAX_PAGE_SIZE`` (as real APIs do; clients must not assume otherwise).
* The real API's quirks (DESIGN §3, the original client's facts): ``documento/``, ``persona/`` and
  ``registro/transaccion/`` page only with ``result_page``/``result_size`` (given ``page``/``page_size``
  they ignore paging and answer everything); ``contabilidad/centro-costo/`` answers 500
  (``'NoneType' object has no attribute 'id_integracion'``) for pages over 100; with ``api_token`` set,
  ``X-Api-Token`` is checked too.
* Filters: ``fecha_modificacion__gte`` / ``fecha_emision__gte`` (ISO date or datetime, inclusive; the
  day is compared), ``fecha_modificacion=dd/mm/yyyy`` (modified on or after), ``fecha_inicial`` /
  ``fecha_final`` (issue date, inclusive), ``tipo`` (``tipo_documento`` or ``tipo``),
  ``tipo_registro`` (CLI/PRO). A malformed date answers 400 with ``mensaje``.
* Hostile payloads by configuration (:class:`Quirks`): ISO or mixed date spellings, 450-character
  texts, amounts as JSON numbers, records without ``fecha_modificacion``, fields the catalog does not
  know, an endpoint that ignores ``result_page`` (the same page again and again).
* Mutations between runs: :meth:`Simulator.mutate` (or ``POST /_sim/mutate``) changes, deletes and
  adds records, stamping today's ``fecha_modificacion``.
* Faults by configuration: a random ``rate`` of list requests answered with 429 (+ ``Retry-After``)
  or 500, and scripted faults per path/page (``malformed`` JSON, ``wrong_shape``, ``missing_id``,
  ``out_of_range``, ``429``, ``500``, ``latency``, ``concurrent_delete``) — :meth:`Simulator.add_fault` or
  ``POST /_sim/faults``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

from cartera_pipelines.sandbox.contifico import (
    BY_PATH,
    data_file_matches,
    fmt_date,
    index_columns,
    write_data_file,
)
from cartera_pipelines.sandbox.defaults import CONTIFICO_API_KEY

PREFIX = "/sistema/api/"
MAX_PAGE_SIZE = 1000
OUT_OF_RANGE = {"code": "400", "error": "Pagina fuera del rango"}
FAULT_KINDS = (
    "429",
    "500",
    "malformed",
    "wrong_shape",
    "missing_id",
    "out_of_range",
    "latency",
    "concurrent_delete",
)
TZ = ZoneInfo("America/Guayaquil")


@dataclass
class ScriptedFault:
    kind: str
    path: str = ""
    """Substring of the endpoint path (``producto``); empty matches every list."""
    page: int | None = None
    times: int | None = 1
    """How many requests it hits; None = every matching request."""


@dataclass
class FaultConfig:
    rate: float = 0.0
    """Share of list requests that fail at random with one of ``kinds``."""
    kinds: tuple[str, ...] = ("429", "500")
    seed: int = 0
    retry_after: str = "1"
    latency_seconds: float = 0.0
    """Added to every list request (and the duration of a scripted ``latency`` fault)."""
    v1_out_of_range: bool = False
    scripted: list[ScriptedFault] = field(default_factory=list)


RESULT_PAGE_ONLY = ("v2/documento/", "v2/registro/transaccion/", "v1/persona/")
"""Endpoints that understand only ``result_page``/``result_size``."""
SMALL_PAGES_ONLY = {"v1/contabilidad/centro-costo/": 100}
"""Endpoints that fail with 500 for larger pages."""
DATE_FIELDS = ("fecha_modificacion", "fecha_emision", "fecha", "fecha_creacion")
AMOUNT_FIELDS = frozenset(
    {"subtotal", "iva", "total", "saldo", "monto", "pvp1", "pvp2", "costo_maximo", "cantidad_stock", "minimo"}
    | {"porcentaje_iva", "total_debe", "total_haber", "cantidad", "precio", "valor", "saldo_inicial"}
)
TEXT_FIELDS = ("glosa", "descripcion", "nombre", "razon_social", "comentario")


@dataclass
class Quirks:
    """Hostile payloads, as the real API sends them now and then."""

    dates: str = "dmy"
    """``dmy`` (dd/mm/yyyy), ``iso`` (ISO dates, ISO datetimes for fecha_modificacion) or ``mixed``."""
    long_texts: bool = False
    """Texts of 450 characters (a ``glosa`` longer than VARCHAR(300))."""
    number_amounts: bool = False
    """Amounts as JSON numbers instead of decimal strings."""
    missing_modified: float = 0.0
    """Share of records without ``fecha_modificacion``."""
    extra_fields: dict[str, Any] = field(default_factory=dict)
    """Fields added to every record (schema drift)."""
    repeat_page: str = ""
    """Substring of an endpoint path that ignores ``result_page``/``page`` (always the first page)."""

    @property
    def active(self) -> bool:
        return self != Quirks()


def _spell(value: str, name: str, style: str, record_id: str) -> str:
    day = dt.datetime.strptime(value, "%d/%m/%Y")
    if style == "mixed":
        style = ("dmy", "dmy_time", "iso", "iso_time", "iso_offset", "iso_z")[
            sum(map(ord, record_id + name)) % 6
        ]
    elif style == "iso":
        style = "iso_time" if name == "fecha_modificacion" else "iso"
    noon = day.replace(hour=12, minute=0, second=0)  # noon: a UTC spelling stays on the same day
    return {
        "dmy": value,
        "dmy_time": noon.strftime("%d/%m/%Y %H:%M:%S.123"),
        "iso": day.date().isoformat(),
        "iso_time": noon.isoformat(),
        "iso_offset": noon.strftime("%Y-%m-%dT%H:%M:%S.250-05:00"),
        "iso_z": (noon + dt.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S.500Z"),
    }.get(style, value)


def apply_quirks(record: dict[str, Any], quirks: Quirks) -> dict[str, Any]:
    """The record as the hostile API would send it (deterministic per record id)."""
    record_id = str(record.get("id", ""))
    if quirks.missing_modified and (sum(map(ord, record_id)) % 1000) < quirks.missing_modified * 1000:
        record.pop("fecha_modificacion", None)
    for name in DATE_FIELDS:
        if quirks.dates != "dmy" and isinstance(record.get(name), str) and "/" in record[name]:
            record[name] = _spell(record[name], name, quirks.dates, record_id)
    if quirks.long_texts:
        for name in TEXT_FIELDS:
            if isinstance(record.get(name), str):
                record[name] = (record[name] + " — " + "texto largo " * 40)[:450]
    if quirks.number_amounts:
        _numbers(record)
    record.update(quirks.extra_fields)
    return record


def _numbers(value: Any) -> None:
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in list(items):
        if key in AMOUNT_FIELDS and isinstance(item, str):
            try:
                value[key] = float(item)
            except ValueError:
                pass
        elif isinstance(item, (dict, list)):
            _numbers(item)


def _day(value: str) -> str:
    """``dd/mm/yyyy`` or an ISO date/datetime → ``yyyy-mm-dd`` (the day the filter compares)."""
    if "/" in value:
        return dt.datetime.strptime(value, "%d/%m/%Y").date().isoformat()
    return dt.date.fromisoformat(value[:10]).isoformat()


class Simulator:
    """The data and behaviour behind the HTTP handler (usable directly from tests)."""

    def __init__(
        self, data_file: Path, api_key: str, faults: FaultConfig | None = None, api_token: str = ""
    ) -> None:
        self.data_file = data_file
        self.api_key = api_key
        self.api_token = api_token
        self.faults = faults or FaultConfig()
        self.quirks = Quirks()
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._local = threading.local()
        self.stats: Counter[str] = Counter()

    # -- storage ----------------------------------------------------------------------------
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.data_file, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # documento/ filters by emission date, as the real API does with an index; data files
            # written before this index existed get it here (a no-op afterwards).
            conn.execute("CREATE INDEX IF NOT EXISTS records_emitted ON records (coll, emitted)")
            self._local.conn = conn
        return conn

    def configure(self, faults: FaultConfig) -> None:
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)

    def add_fault(self, kind: str, path: str = "", page: int | None = None, times: int | None = 1) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        with self._lock:
            self.faults.scripted.append(ScriptedFault(kind, path, page, times))

    def clear_faults(self) -> None:
        self.configure(FaultConfig())

    def _fault_for(self, path: str, page: int) -> str | None:
        with self._lock:
            for fault in self.faults.scripted:
                if fault.path in path and (fault.page is None or fault.page == page) and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault.kind
            if self.faults.rate > 0 and self._rng.random() < self.faults.rate:
                return self._rng.choice(self.faults.kinds)
        return None

    # -- list semantics ---------------------------------------------------------------------
    def list_page(self, path: str, query: dict[str, str], base_url: str) -> tuple[int, Any, dict[str, str]]:
        """(status, body, extra headers) of one list request; body is JSON-able or raw ``bytes``."""
        collection = BY_PATH.get(path)
        if collection is None:
            return 404, {"detail": "No encontrado."}, {}
        v1 = path.startswith("v1/")
        result_paging = v1 or path in RESULT_PAGE_ONLY
        page_key, size_key = ("result_page", "result_size") if result_paging else ("page", "page_size")
        unpaged = path in RESULT_PAGE_ONLY and page_key not in query and "page" in query
        try:
            page = 1 if unpaged else int(query.get(page_key, "1"))
            size = 10**9 if unpaged else min(MAX_PAGE_SIZE, int(query.get(size_key, "100")))
            if page < 1 or size < 1:
                raise ValueError
        except ValueError:
            return 400, {"mensaje": f"Parámetros de paginación inválidos: {page_key}, {size_key}"}, {}
        self.stats["list_requests"] += 1
        if size > SMALL_PAGES_ONLY.get(path, size):
            return 500, {"error": "'NoneType' object has no attribute 'id_integracion'"}, {}
        if self.quirks.repeat_page and self.quirks.repeat_page in path:
            page = 1
        fault = self._fault_for(path, page)
        if self.faults.latency_seconds or fault == "latency":
            time.sleep(self.faults.latency_seconds or 0.5)
        if fault:
            self.stats[f"fault_{fault}"] += 1
        if fault == "429":
            return (
                429,
                {"detail": "Solicitud limitada. Intente más tarde."},
                {"Retry-After": self.faults.retry_after},
            )
        if fault == "500":
            return 500, {"error": "Error interno del servidor"}, {}
        if fault == "out_of_range":
            return 400, OUT_OF_RANGE, {}
        if fault == "concurrent_delete":
            # someone deletes the collection's first record while we page: later pages shift by one
            with self._lock:
                self.db().execute(
                    "DELETE FROM records WHERE coll = ? AND seq = (SELECT min(seq) FROM records WHERE coll = ?)",
                    (path, path),
                )
                self.db().commit()
        where, params = ["coll = ?"], [path]
        try:
            for key in ("fecha_modificacion", "fecha_modificacion__gte"):
                if key in query and collection.modified:
                    where.append("modified >= ?")
                    params.append(_day(query[key]))
            for key, operator in (
                ("fecha_emision__gte", ">="),
                ("fecha_inicial", ">="),
                ("fecha_final", "<="),
            ):
                if key in query:
                    where.append(f"emitted {operator} ?")
                    params.append(_day(query[key]))
        except ValueError:
            return 400, {"mensaje": "Formato de fecha inválido, use dd/mm/yyyy"}, {}
        for key in ("tipo", "tipo_registro"):
            if key in query:
                where.append(f"{key} = ?")
                params.append(query[key])
        condition = " AND ".join(where)
        conn = self.db()
        bodies = [
            row[0]
            for row in conn.execute(
                f"SELECT body FROM records WHERE {condition} ORDER BY seq LIMIT ? OFFSET ?",
                (*params, size, (page - 1) * size),
            )
        ]
        if self.quirks.active:
            quirks = self.quirks
            bodies = [json.dumps(apply_quirks(json.loads(b), quirks), ensure_ascii=False) for b in bodies]
        if fault == "missing_id" and bodies:
            record = json.loads(bodies[0])
            record.pop("id", None)
            bodies[0] = json.dumps(record, ensure_ascii=False)
        results = "[" + ",".join(bodies) + "]"
        if v1:
            if not bodies and page > 1 and self.faults.v1_out_of_range:
                return 400, OUT_OF_RANGE, {}
            body = results
        else:
            count = conn.execute(f"SELECT count(*) FROM records WHERE {condition}", params).fetchone()[0]
            if not bodies and page > 1:
                return 400, OUT_OF_RANGE, {}

            def link(number: int) -> str | None:
                return f"{base_url}{PREFIX}{path}?{urlencode({**query, page_key: number})}"

            next_link = link(page + 1) if page * size < count else None
            previous = link(page - 1) if page > 1 else None
            body = (
                f'{{"count":{count},"next":{json.dumps(next_link)},"previous":{json.dumps(previous)},'
                f'"results":{results}}}'
            )
            if fault == "wrong_shape":
                body = f'{{"data":{results}}}'
        if fault == "wrong_shape" and v1:
            body = '{"results":' + results + "}"
        if fault == "malformed":
            body = body[: max(1, len(body) // 2)]  # a truncated body, as a dropped proxy connection leaves it
        self.stats["pages_served"] += 1
        return 200, body.encode("utf-8"), {}

    # -- mutations --------------------------------------------------------------------------
    def mutate(
        self,
        *,
        changed: float = 0.0,
        deleted: float = 0.0,
        added: float = 0.0,
        seed: int = 1,
        paths: list[str] | None = None,
        today: dt.date | None = None,
    ) -> dict[str, dict[str, list[str]]]:
        """Change, delete and add a share of each collection's records; returns the ids touched."""
        rng = random.Random(seed)
        today = today or dt.datetime.now(TZ).date()
        conn = sqlite3.connect(self.data_file, timeout=30)
        touched: dict[str, dict[str, list[str]]] = {}
        try:
            with self._lock, conn:
                for path in paths or list(BY_PATH):
                    seqs = [
                        row[0]
                        for row in conn.execute(
                            "SELECT seq FROM records WHERE coll = ? ORDER BY seq", (path,)
                        )
                    ]
                    if not seqs:
                        continue
                    report = touched.setdefault(path, {"changed": [], "deleted": [], "added": []})
                    picks = rng.sample(seqs, min(len(seqs), round(len(seqs) * (changed + deleted))))
                    n_deleted = min(len(picks), round(len(seqs) * deleted))
                    for seq in picks[n_deleted:]:
                        body = json.loads(
                            conn.execute(
                                "SELECT body FROM records WHERE coll=? AND seq=?", (path, seq)
                            ).fetchone()[0]
                        )
                        _touch(body, today, seed)
                        self._store(conn, path, seq, body, update=True)
                        report["changed"].append(body["id"])
                    for seq in picks[:n_deleted]:
                        (rid,) = conn.execute(
                            "SELECT id FROM records WHERE coll=? AND seq=?", (path, seq)
                        ).fetchone()
                        conn.execute("DELETE FROM records WHERE coll=? AND seq=?", (path, seq))
                        report["deleted"].append(rid)
                    top = (
                        conn.execute("SELECT max(seq) FROM records WHERE coll=?", (path,)).fetchone()[0] or 0
                    )
                    for k in range(round(len(seqs) * added)):
                        template = conn.execute(
                            "SELECT body FROM records WHERE coll=? ORDER BY seq LIMIT 1 OFFSET ?",
                            (path, rng.randrange(len(seqs) - n_deleted)),
                        ).fetchone()[0]
                        body = json.loads(template)
                        body["id"] = "".join(
                            rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789", k=16)
                        )
                        _touch(body, today, seed)
                        self._store(conn, path, top + 1 + k, body, update=False)
                        report["added"].append(body["id"])
        finally:
            conn.close()
        return touched

    @staticmethod
    def _store(conn: sqlite3.Connection, path: str, seq: int, body: dict[str, Any], *, update: bool) -> None:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        if update:
            conn.execute(
                "UPDATE records SET body=?, modified=?, emitted=?, tipo=?, tipo_registro=? WHERE coll=? AND seq=?",
                (text, *index_columns(body), path, seq),
            )
        else:
            conn.execute(
                "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (path, seq, body["id"], text, *index_columns(body)),
            )

    def ids(self, path: str, **where: str) -> list[str]:
        """Ids of a collection (optionally filtered by ``tipo_registro``…), for tests."""
        clause = "".join(f" AND {k} = ?" for k in where if k in {"tipo", "tipo_registro"})
        rows = self.db().execute(
            f"SELECT id FROM records WHERE coll = ?{clause} ORDER BY seq", (path, *where.values())
        )
        return [r[0] for r in rows]

    def count(self) -> int:
        return int(self.db().execute("SELECT count(*) FROM records").fetchone()[0])


def _touch(body: dict[str, Any], today: dt.date, seed: int) -> None:
    """A visible change: a revised name or description, and today's modification date."""
    for key in ("nombre", "razon_social", "glosa", "descripcion", "comentario", "numero_documento"):
        if isinstance(body.get(key), str):
            body[key] = f"{body[key].split(' (rev ')[0]} (rev {seed})"
            break
    else:
        body["revision"] = seed
    if "fecha_modificacion" in body:
        body["fecha_modificacion"] = fmt_date(today)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    sim: Simulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer (killed, timed out) is normal here, not a traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{PREFIX}"


def _handler(sim: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real API behind its proxy
        # Headers and body leave in separate writes: without this, Nagle + delayed ACK add ~40 ms a request.
        disable_nagle_algorithm = True

        def _authorized(self) -> bool:
            token_ok = not sim.api_token or self.headers.get("X-Api-Token") == sim.api_token
            if self.headers.get("Authorization") == sim.api_key and token_ok:
                return True
            sim.stats["unauthorized"] += 1
            self._send(401, {"detail": "Las credenciales de autenticación no se proveyeron o son inválidas."})
            return False

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if not self._authorized():
                return
            if not parts.path.startswith(PREFIX):
                self._send(404, {"detail": "No encontrado."})
                return
            path = parts.path[len(PREFIX) :]
            if path == "_sim/stats":
                self._send(200, dict(sim.stats))
                return
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
            status, body, headers = sim.list_page(path, query, f"http://{host}")
            self._send(status, body, headers)

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            if not self._authorized():
                return
            try:
                payload = json.loads(raw or b"{}")
                if parts.path == PREFIX + "_sim/mutate":
                    self._send(200, sim.mutate(**payload))
                elif parts.path == PREFIX + "_sim/faults":
                    scripted = [ScriptedFault(**f) for f in payload.pop("scripted", [])]
                    payload["kinds"] = tuple(payload.get("kinds", ("429", "500")))
                    sim.configure(FaultConfig(**payload, scripted=scripted))
                    self._send(200, asdict(sim.faults))
                else:
                    self._send(404, {"detail": "No encontrado."})
            except (TypeError, ValueError) as error:
                self._send(400, {"mensaje": str(error)})

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    return Handler


def make_server(
    host: str,
    port: int,
    *,
    api_key: str = CONTIFICO_API_KEY,
    data_file: Path | None = None,
    scale: float = 1,
    seed: int = 42,
    total: int | None = None,
    faults: FaultConfig | None = None,
    reuse_existing: bool = False,
) -> SimulatorServer:
    """A simulator bound to host:port (0 = a free port), serving ``data_file``: generated when
    missing (``total`` records, or volumes for ``scale``), regenerated when built for another
    scale/seed unless ``reuse_existing`` or ``total`` is given; a temporary file when None."""
    if data_file is None:
        data_file = Path(tempfile.mkdtemp(prefix="contifico-sim-")) / "records.sqlite"
    if reuse_existing and data_file_matches(data_file, scale=None, seed=None):
        pass
    elif total is not None:
        if not data_file.exists():
            write_data_file(data_file, seed=seed, total=total)
    elif not data_file_matches(data_file, scale=scale, seed=seed):
        write_data_file(data_file, scale=scale, seed=seed)
    sim = Simulator(data_file, api_key, faults)
    server = SimulatorServer((host, port), _handler(sim))
    server.sim = sim
    return server


def serve_forever(
    *, host: str, port: int, home: Path, scale: int, seed: int, log: Callable[[str], None]
) -> None:
    data_file = home / "contifico" / "records.sqlite"
    if data_file.exists() and (scale, seed) == (1, 42):
        # The defaults serve whatever ``cartera sandbox build`` wrote (at any --scale).
        server = make_server(host, port, data_file=data_file, reuse_existing=True)
    else:
        server = make_server(host, port, data_file=data_file, scale=scale, seed=seed)
    log(
        f"Contifico simulator on {server.base_url} serving {server.sim.count():,} records from {data_file} (Ctrl-C to stop)"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
