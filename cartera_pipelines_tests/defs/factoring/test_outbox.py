"""Outbox delivery to a real local HTTP receiver that fails 20% of requests and loses a run mid-way."""

import datetime as dt
import hashlib
import hmac
import json
import os
import signal
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from cartera_pipelines.defs.factoring import tables
from cartera_pipelines.defs.factoring.assets import outbox_deliveries
from cartera_pipelines.defs.factoring.config import OutboxConfig
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.resources.webhooks import WebhookSender, event_body, verify
from cartera_pipelines.sandbox.db import recreate_tables
from cartera_pipelines.sandbox.factoring import WebhookReceiver, outbox_rows
from cartera_pipelines_tests.defs.factoring.conftest import SECRET

NODE = outbox_deliveries.op.name


def _sender(url: str, **overrides: object) -> WebhookSender:
    options = {"urls": [url], "secret": SECRET, "backoff_initial_seconds": 0.01, "backoff_max_seconds": 0.1}
    return WebhookSender(**(options | overrides))


def _deliver(db: SqlDatabase, sender: WebhookSender, **config: object) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [outbox_deliveries],
        resources={"operations_db": db, "webhooks": sender},
        run_config=dg.RunConfig(ops={NODE: OutboxConfig(**config)}),
    )


def _events(db: SqlDatabase) -> dict[str, dict]:
    """Every event by id; the payload parsed when it is JSON (a test may store text that is not)."""
    columns = [c for c in tables.outbox_events.c if c.name != "payload"]
    payload = sa.type_coerce(tables.outbox_events.c.payload, sa.Text).label("payload")
    with db.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(*columns, payload))]
    for row in rows:
        if isinstance(row["payload"], str):
            try:
                row["payload"] = json.loads(row["payload"])
            except json.JSONDecodeError:
                pass
    return {row["event_id"]: row for row in rows}


def _only_outbox(url: str, n: int) -> SqlDatabase:
    recreate_tables(url, tables.OPERATIONS_TABLES).dispose()
    db = SqlDatabase(url=url, store="operations")
    with db.begin() as conn:
        conn.execute(tables.outbox_events.insert(), list(outbox_rows(n, seed=3)))
    return db


def _assert_received_and_signed(receiver: WebhookReceiver, events: dict[str, dict]) -> None:
    assert receiver.bad_signatures == 0
    for event_id, row in events.items():
        body = receiver.bodies[event_id]
        document = json.loads(body)
        assert document["event_id"] == event_id and document["type"] == row["type"]
        assert document["payload"] == row["payload"]
        # Checked here independently of the code under test.
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert receiver.signatures[event_id] == expected


def test_delivers_every_pending_event_through_a_flaky_receiver(factoring_store: SqlDatabase) -> None:
    before = _events(factoring_store)
    pending = {e for e, r in before.items() if r["delivered_at"] is None}
    assert len(pending) > 30 and len(pending) < len(before)  # the sandbox has delivered ones too
    with WebhookReceiver(SECRET, fail_rate=0.2, seed=11) as receiver:
        result = _deliver(factoring_store, _sender(receiver.url))
    after = _events(factoring_store)
    assert all(r["delivered_at"] is not None and r["parked_at"] is None for r in after.values())
    assert set(receiver.deliveries) == pending  # already-delivered events are not sent again
    assert receiver.failures > 0
    _assert_received_and_signed(receiver, {e: after[e] for e in pending})
    assert all(after[e]["attempts"] >= 1 and after[e]["last_error"] is None for e in pending)
    md = result.asset_materializations_for_node(NODE)[0].metadata
    assert md["delivered"].value == len(pending)
    assert md["retried"].value > 0 and md["parked"].value == 0 and md["pending_after_run"].value == 0
    assert md["http_requests"].value == receiver.requests
    assert md["latency_ms_p50"].value <= md["latency_ms_p95"].value <= md["latency_ms_p99"].value


_KILLABLE_RUN = textwrap.dedent(
    """
    import sys
    import dagster as dg
    from cartera_pipelines.defs.factoring.assets import outbox_deliveries
    from cartera_pipelines.defs.factoring.config import OutboxConfig
    from cartera_pipelines.resources.database import SqlDatabase
    from cartera_pipelines.resources.webhooks import WebhookSender

    url, hook, secret = sys.argv[1], sys.argv[2], sys.stdin.readline().strip()
    sender = WebhookSender(urls=[hook], secret=secret, concurrency=4, backoff_initial_seconds=0.01,
                           backoff_max_seconds=0.1)
    dg.materialize([outbox_deliveries], resources={"operations_db": SqlDatabase(url=url), "webhooks": sender},
                   run_config=dg.RunConfig(ops={outbox_deliveries.op.name: OutboxConfig(commit_every=10)}))
    """
)


def test_a_run_killed_mid_way_loses_nothing(store_url: str, tmp_path: Path) -> None:
    total = 300
    db = _only_outbox(store_url, total)
    script = tmp_path / "deliver.py"
    script.write_text(_KILLABLE_RUN)
    with WebhookReceiver(SECRET, fail_rate=0.2, seed=5, latency_seconds=0.01) as receiver:
        process = subprocess.Popen(
            [sys.executable, str(script), store_url, receiver.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            env=os.environ | {"DAGSTER_HOME": ""},
        )
        process.stdin.write(SECRET + "\n")
        process.stdin.close()
        deadline = time.monotonic() + 120
        while receiver.successes < 100 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)  # no finally, no flush: the worst case
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"

        killed = _events(db)
        marked = {e for e, r in killed.items() if r["delivered_at"] is not None}
        assert 0 < len(marked) < total
        # Never marked delivered without the receiver having it.
        assert marked <= set(receiver.deliveries)

        # The next run (the sensor's) delivers the rest; events backed off by the dead run go too.
        result = _deliver(db, _sender(receiver.url), respect_backoff=False)
    after = _events(db)
    assert len(after) == total
    assert all(r["delivered_at"] is not None and r["parked_at"] is None for r in after.values())
    assert set(receiver.deliveries) == set(after)  # every event at least once
    _assert_received_and_signed(receiver, after)
    resent = sum(receiver.deliveries.values()) - total
    # Only what was delivered but not yet committed when the process died is sent twice.
    assert 0 <= resent <= len(set(receiver.deliveries) - marked) and resent <= 10 + 2 * 4 + 10
    assert result.asset_materializations_for_node(NODE)[0].metadata["delivered"].value == total - len(marked)
    db.dispose()


def test_parks_after_max_attempts_and_keeps_the_last_error(sqlite_url: str) -> None:
    """``attempts`` counts delivery attempts (one per run, however many requests it took)."""
    db = _only_outbox(sqlite_url, 5)
    with WebhookReceiver(SECRET, fail_rate=1.0) as receiver:
        sender = _sender(receiver.url, retries_per_attempt=2, max_attempts=2)
        first = _deliver(db, sender)
        mid = _events(db)
        assert all(
            r["attempts"] == 1 and r["parked_at"] is None and r["next_attempt_at"] for r in mid.values()
        )
        assert all("HTTP 503" in r["last_error"] for r in mid.values())
        assert first.asset_materializations_for_node(NODE)[0].metadata["failed"].value == 5
        # Within the backoff the next run leaves them alone…
        assert _deliver(db, sender).asset_materializations_for_node(NODE)[0].metadata["delivered"].value == 0
        assert receiver.requests == 10
        # …after it, the second failed attempt parks them, error kept, nothing deleted.
        second = _deliver(db, sender, respect_backoff=False)
    parked = _events(db)
    assert len(parked) == 5
    assert all(
        r["parked_at"] is not None and r["attempts"] == 2 and r["delivered_at"] is None
        for r in parked.values()
    )
    assert all("HTTP 503" in r["last_error"] for r in parked.values())
    assert second.asset_materializations_for_node(NODE)[0].metadata["parked"].value == 5
    assert receiver.requests == 20
    db.dispose()


def test_300_events_with_one_typed_in_spanish(any_store_url: str) -> None:
    """An event typed ``operación.aprobada`` (and one whose type carries a line break) goes out like the
    others: header values are percent-encoded ASCII, the signed body keeps the original text."""
    db = _only_outbox(any_store_url, 300)
    odd = {150: ("operación.aprobada", "evt_cesión_150"), 151: ("factura.cedida\r\nX-Evil: 1", "evt_151")}
    with db.begin() as conn:
        for row_id, (kind, event_id) in odd.items():
            conn.execute(
                sa.update(tables.outbox_events)
                .where(tables.outbox_events.c.id == row_id)
                .values(type=kind, event_id=event_id)
            )
    with WebhookReceiver(SECRET) as receiver:
        result = _deliver(db, _sender(receiver.url))
    assert result.success
    events = _events(db)
    assert all(r["delivered_at"] is not None and r["attempts"] == 1 for r in events.values())
    assert set(receiver.deliveries) == set(events)  # every id, the Spanish one decoded back
    _assert_received_and_signed(receiver, events)
    assert receiver.event_types["evt_cesión_150"] == "operaci%C3%B3n.aprobada"
    assert receiver.idempotency_keys["evt_cesión_150"] == "evt_cesi%C3%B3n_150"
    assert receiver.event_types["evt_151"] == "factura.cedida%0D%0AX-Evil%3A%201"
    assert json.loads(receiver.bodies["evt_cesión_150"])["type"] == "operación.aprobada"
    assert not receiver.unexpected_headers
    db.dispose()


def test_an_event_that_cannot_be_sent_fails_its_attempt_and_parks(sqlite_url: str) -> None:
    """A payload that is not JSON (written by hand into a text column) fails that event's attempt, backs
    off and parks after ``max_attempts``; every other event is delivered and no run fails."""
    db = _only_outbox(sqlite_url, 20)
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE outbox_events SET payload = 'monto: 12' WHERE id = 7"))
    bad = "evt_0003_00000007"
    with WebhookReceiver(SECRET) as receiver:
        sender = _sender(receiver.url, max_attempts=3)
        runs = [_deliver(db, sender), _deliver(db, sender), _deliver(db, sender, respect_backoff=False)]
        runs.append(_deliver(db, sender, respect_backoff=False))
    assert all(run.success for run in runs)
    events = _events(db)
    assert bad not in receiver.deliveries and len(receiver.deliveries) == 19
    assert events[bad]["attempts"] == 3 and events[bad]["parked_at"] is not None
    assert (
        "outbox_events.payload (id evt_0003_00000007) = 'monto: 12' is not JSON" in events[bad]["last_error"]
    )
    first = runs[0].asset_materializations_for_node(NODE)[0].metadata
    assert first["delivered"].value == 19 and first["failed"].value == 1
    assert runs[1].asset_materializations_for_node(NODE)[0].metadata["failed"].value == 0  # backing off
    assert runs[3].asset_materializations_for_node(NODE)[0].metadata["parked"].value == 1
    db.dispose()


def test_without_an_endpoint_nothing_is_sent_or_lost(sqlite_url: str) -> None:
    db = _only_outbox(sqlite_url, 3)
    result = _deliver(db, WebhookSender(urls=[], secret=""))
    md = result.asset_materializations_for_node(NODE)[0].metadata
    assert md["status"].value == "no endpoint configured" and md["pending"].value == 3
    assert all(r["delivered_at"] is None and r["attempts"] == 0 for r in _events(db).values())


def test_refuses_to_send_unsigned(sqlite_url: str) -> None:
    db = _only_outbox(sqlite_url, 3)
    result = dg.materialize(
        [outbox_deliveries],
        resources={"operations_db": db, "webhooks": WebhookSender(urls=["http://127.0.0.1:9/x"], secret="")},
        raise_on_error=False,
    )
    assert not result.success
    assert "CARTERA_WEBHOOK_SECRET" in str(result.all_events)
    assert all(r["attempts"] == 0 for r in _events(db).values())


def test_body_and_signature_are_stable() -> None:
    body = event_body("evt_1", "operacion.aprobada", "2026-03-09T12:00:00Z", {"monto": "10.50", "nota": "ñ"})
    assert (
        body
        == (
            '{"created_at":"2026-03-09T12:00:00Z","event_id":"evt_1","payload":{"monto":"10.50","nota":"ñ"},'
            '"type":"operacion.aprobada"}'
        ).encode()
    )
    headers = WebhookSender(urls=["http://x"], secret=SECRET).headers("evt_1", "operacion.aprobada", body)
    assert headers["Idempotency-Key"] == "evt_1"
    assert verify(SECRET, body, headers["X-Cartera-Signature"])
    assert not verify(SECRET, body + b" ", headers["X-Cartera-Signature"])
    assert SECRET not in json.dumps(headers)


@contextmanager
def _receiver(
    answer: Callable[[BaseHTTPRequestHandler, bytes], None], tls: ssl.SSLContext | None = None
) -> Iterator[str]:
    """A local HTTP/1.1 keep-alive receiver (HTTPS with ``tls``) answering each POST with ``answer``;
    yields the endpoint's URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the sender's connections are

        def do_POST(self) -> None:
            answer(self, self.rfile.read(int(self.headers["Content-Length"])))

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def _reply(handler: BaseHTTPRequestHandler, status: int) -> None:
    handler.send_response(status)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


@pytest.mark.parametrize("status, retried", [(503, True), (429, True), (400, False), (404, False)])
def test_which_answers_are_retried(status: int, retried: bool) -> None:
    calls: list[str] = []

    def answer(handler: BaseHTTPRequestHandler, _body: bytes) -> None:
        calls.append(handler.path)
        _reply(handler, status if len(calls) == 1 else 200)

    with _receiver(answer) as url:
        sender = _sender(url)
        try:
            outcome = sender.deliver("evt_9", "x", b"{}")
        finally:
            sender.close()
    assert outcome.delivered is retried
    assert len(calls) == (2 if retried else 1)


def test_a_kept_connection_the_server_closed_is_reopened_without_a_failed_request() -> None:
    calls: list[str] = []

    def answer(handler: BaseHTTPRequestHandler, _body: bytes) -> None:
        calls.append(handler.headers["Idempotency-Key"])
        _reply(handler, 200)
        handler.close_connection = True  # closes after answering, without saying so (an idle timeout)

    with _receiver(answer) as url:
        sender = _sender(url)
        try:
            outcomes = [sender.deliver(f"evt_{i}", "x", b"{}") for i in range(3)]
        finally:
            sender.close()
    assert [(o.delivered, o.requests, o.error) for o in outcomes] == [(True, 1, None)] * 3
    assert calls == ["evt_0", "evt_1", "evt_2"]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself, and its key (PEM files)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "receptor de webhooks ñ")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "receiver.pem", directory / "receiver.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def test_https_endpoints_verify_the_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Production receivers are HTTPS: an untrusted certificate fails the attempt at once with one line (no
    retries against it); trusted (here through SSL_CERT_FILE), the event is delivered and signed."""
    bodies: list[bytes] = []

    def answer(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        bodies.append(body)
        assert verify(SECRET, body, handler.headers["X-Cartera-Signature"])
        _reply(handler, 204)

    cert_file, key_file = _self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    with _receiver(answer, tls) as url:
        untrusted = _sender(url)
        try:
            refused = untrusted.deliver("evt_tls_1", "operación.aprobada", b'{"a":1}')
        finally:
            untrusted.close()
        assert not refused.delivered and refused.requests == 1 and not bodies
        assert refused.error and "certificate" in refused.error and "127.0.0.1" in refused.error

        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
        trusted = _sender(url)
        try:
            outcomes = [trusted.deliver(f"evt_tls_{i}", "operación.aprobada", b'{"a":1}') for i in (2, 3)]
        finally:
            trusted.close()
    assert [(o.delivered, o.requests) for o in outcomes] == [(True, 1), (True, 1)]
    assert bodies == [b'{"a":1}', b'{"a":1}']


def test_retry_after_as_an_http_date_is_honoured() -> None:
    """Receivers behind proxies answer 429 with ``Retry-After`` as an HTTP date, not seconds: the wait
    follows it (capped by ``backoff_max_seconds``), through the one parser of ``lib.http``."""
    from email.utils import format_datetime

    calls: list[float] = []

    def answer(handler: BaseHTTPRequestHandler, _body: bytes) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            handler.send_response(429)
            later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
            handler.send_header("Retry-After", format_datetime(later, usegmt=True))
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        else:
            _reply(handler, 200)

    with _receiver(answer) as url:
        sender = _sender(url, backoff_max_seconds=0.4)
        try:
            outcome = sender.deliver("evt_date", "x", b"{}")
        finally:
            sender.close()
    assert outcome.delivered and outcome.requests == 2
    assert calls[1] - calls[0] >= 0.35  # the date's 30 s, capped at 0.4 s; the backoff alone is ~0.01 s
