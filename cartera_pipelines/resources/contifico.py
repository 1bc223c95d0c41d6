"""Contifico REST API client resource (httpx).

What it guarantees (DESIGN §3):

* ``Authorization: <API_KEY>`` on every request, and ``X-Api-Token`` when a token is configured; neither
  appears in logs (masked).
* Both list shapes: v1 bare arrays paged with ``result_page``/``result_size`` and v2
  ``{count, next, previous, results}`` envelopes paged with ``page``/``page_size``. The
  "Pagina fuera del rango" 400 is the end of the data. Some v2 endpoints page only with
  ``result_page``/``result_size`` (the caller says so: ``paging``). A page whose ids repeat the
  previous page's ends the list with :class:`ContificoPagingError` (no endless loop). A v1 list ends at an empty page, or at a
  page shorter than the one before it, so a server that caps the page size below what we asked
  never truncates the read silently (it costs one extra request per small resource).
* Retries (``tenacity``) with exponential backoff and jitter on timeouts, transport errors, 429
  and 5xx, waiting at least what ``Retry-After`` asks (seconds or an HTTP date). 401/403 fail at once
  naming ``CONTIFICO_API_KEY``. A 200 whose body is not JSON (truncated by a proxy) is retried, then
  fails with the URL, the page number and a snippet; JSON of the wrong shape fails at once.
* A client-side token bucket (``rate_limit_rps`` requests per second, retries included) and at
  most ``max_concurrency`` requests in flight, shared by every thread using this resource.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin

import dagster as dg
import httpx
import orjson
import tenacity
from pydantic import PrivateAttr

from cartera_pipelines.lib.http import parse_retry_after
from cartera_pipelines.resources.base import FromSettings

API_KEY_VARIABLE = "CONTIFICO_API_KEY"
SNIPPET = 200
Paging = Literal["page", "result_page"]
logger = logging.getLogger("cartera_pipelines.contifico")


class PayloadError(ValueError):
    """A page that cannot be used: not JSON, the wrong shape, or a record that is not a record."""


class ContificoError(RuntimeError):
    """Base of the client's errors."""


class ContificoAuthError(ContificoError):
    """401/403: the key is wrong, expired or lacks permission. Not retried."""


class ContificoHttpError(ContificoError):
    """An HTTP answer we cannot use (4xx other than out-of-range, or retries exhausted)."""


class ContificoPayloadError(ContificoError):
    """A page that is not the JSON we expect; carries the URL, page number and a body snippet."""

    def __init__(self, message: str, *, url: str, page: int, body: str) -> None:
        super().__init__(f"{message} (GET {url}, page {page}; body starts: {body!r})")
        self.url = url
        self.page = page
        self.body = body


class ContificoPagingError(ContificoError):
    """The API does not page as promised (a page repeats the previous one): reading on would loop."""


class _Cancelled(Exception):
    """The caller stopped reading (a page failed): a prefetch in flight gives up its retries."""


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, body: bytes | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.body = body


@dataclass
class Page:
    number: int
    url: str
    records: list[Any]
    count: int | None = None
    next_url: str | None = None
    out_of_range: bool = False
    retries: int = 0
    bytes: int = 0


@dataclass
class TokenBucket:
    """Requests per second with a burst of one second's worth; ``rate <= 0`` means unlimited."""

    rate: float
    _tokens: float = 0.0
    _stamp: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._tokens = max(1.0, self.rate)

    def acquire(self) -> float:
        """Take a token, sleeping until one is available; returns the seconds waited."""
        if self.rate <= 0:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(max(1.0, self.rate), self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return waited
                pause = (1.0 - self._tokens) / self.rate
            time.sleep(pause)
            waited += pause


def snippet(text: str | bytes, limit: int = SNIPPET) -> str:
    """The start of a body, on one line, for error messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def page_records(version: str, payload: Any) -> tuple[list[Any], int | None, str | None]:
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


# Digits → "0", the characters that may precede a number → ":", whitespace deleted: an integer of 19
# digits or more then reads ":000…" (a string holding such digits only costs the slow path). Two
# literal searches after one translate: a regex over a 500 KB body cost more than decoding it.
_NUMBER_SHAPE = bytes(
    ord("0") if c in b"0123456789" else ord(":") if c in b":,[" else c if c == ord("-") else ord("x")
    for c in range(256)
)
_DIGITS_19 = b"0" * 19


def _long_integer(body: bytes) -> bool:
    """Whether the JSON body may hold an integer of 19 digits or more (orjson would read a float)."""
    shape = body.translate(_NUMBER_SHAPE, b" \t\n\r")
    return b":" + _DIGITS_19 in shape or b":-" + _DIGITS_19 in shape


def decode_json(body: bytes) -> Any:
    """``json.loads`` of a body, through orjson when it can (several times faster, the same values).

    What orjson refuses but Python reads (``NaN``, ``1e400``, lone surrogate escapes, a BOM) goes through
    ``json.loads`` (a lone surrogate then becomes U+FFFD), so a body decodes to what it always did and broken JSON still raises ``ValueError``;
    so does a body with an integer of 19 digits or more, which orjson would read as a float.
    """
    if not _long_integer(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    data = json.loads(body)
    return _mend(data) if b"\\ud" in body.lower() else data


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _mend(value: Any) -> Any:
    """Lone surrogates (half an emoji, as some exports cut text) → U+FFFD: no UTF-8 text, hash, JSONB or
    COPY can hold them, and one such character must not stop the resource. Whole pairs were already joined
    into their character by the decoder."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_mend(item) for item in value]
    if isinstance(value, dict):
        return {_mend(key): _mend(item) for key, item in value.items()}
    return value


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


def _mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        k: ("***" if k.lower() in {"authorization", "api-token", "x-api-token", "cookie"} else v)
        for k, v in headers.items()
    }


class ContificoApi(FromSettings):
    """The Contifico REST API (``CONTIFICO_API_BASE_URL``, key from ``CONTIFICO_API_KEY``)."""

    base_url: str
    api_key: str
    api_token: str = ""
    page_size: int = 200
    timeout_seconds: float = 30.0
    rate_limit_rps: float = 10.0
    """Client-side limit in requests per second (retries count); 0 disables it."""
    max_concurrency: int = 4
    """Requests in flight at once across every resource synced by this process."""
    max_retries: int = 6
    """Retries per request after the first attempt (timeouts, 429, 5xx)."""
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0
    """Longest ``Retry-After`` honoured; a server asking more still waits this long, then retries."""

    _client: httpx.Client | None = PrivateAttr(default=None)
    _bucket: TokenBucket | None = PrivateAttr(default=None)
    _slots: threading.BoundedSemaphore | None = PrivateAttr(default=None)
    _init_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    # -- plumbing -------------------------------------------------------------------------------
    def _ensure(self) -> httpx.Client:
        with self._init_lock:
            if self._client is None:
                size = max(1, self.max_concurrency)
                headers = {"Authorization": self.api_key, "Accept": "application/json"}
                if self.api_token:
                    headers["X-Api-Token"] = self.api_token  # the original client's second credential
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.timeout_seconds),
                    headers=headers,
                    limits=httpx.Limits(max_connections=size + 2, max_keepalive_connections=size + 2),
                    follow_redirects=True,
                )
                self._bucket = TokenBucket(self.rate_limit_rps)
                self._slots = threading.BoundedSemaphore(size)
            return self._client

    def close(self) -> None:
        with self._init_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def url_for(self, path: str) -> str:
        base = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        return urljoin(base, path.lstrip("/"))

    # -- one request ------------------------------------------------------------------------------
    def _send(self, url: str, params: Mapping[str, Any], expect_json: bool) -> tuple[httpx.Response, Any]:
        client = self._ensure()
        assert self._bucket is not None and self._slots is not None
        self._bucket.acquire()
        with self._slots:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("GET %s params=%s headers=%s", url, dict(params), _mask_headers(client.headers))
            started = time.perf_counter()
            try:
                response = client.get(url, params=params)
            except httpx.TimeoutException as error:
                raise _Retryable(f"timeout after {self.timeout_seconds}s ({type(error).__name__})") from error
            except httpx.TransportError as error:
                raise _Retryable(f"transport error: {error}") from error
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "→ %s %s: %d, %d bytes in %.0f ms",
                response.request.method,
                response.request.url.copy_with(query=None),
                response.status_code,
                len(response.content),
                (time.perf_counter() - started) * 1000,
            )
        status = response.status_code
        if status in (401, 403):
            raise ContificoAuthError(
                f"Contifico rejected the API key (HTTP {status}: {error_message(response.content)}); "
                f"set {API_KEY_VARIABLE} to a valid key"
            )
        if status == 429 or status >= 500:
            raise _Retryable(
                f"HTTP {status}: {error_message(response.content)}",
                parse_retry_after(response.headers.get("Retry-After")),
            )
        payload = None
        if expect_json and status == 200:
            try:
                payload = decode_json(response.content)
            except ValueError as error:
                # A 200 cut short (a proxy dropping the connection) reads as broken JSON: ask again.
                raise _Retryable(f"the page is not valid JSON ({error})", body=response.content) from None
        return response, payload

    def _wait(self, state: tenacity.RetryCallState) -> float:
        backoff = tenacity.wait_exponential_jitter(
            multiplier=self.backoff_initial_seconds,
            max=self.backoff_max_seconds,
            jitter=self.backoff_initial_seconds,
        )(state)
        error = state.outcome.exception() if state.outcome else None
        asked = getattr(error, "retry_after", None)
        if asked is not None:
            # Honour the server: never sooner than it asked, capped so one answer cannot stall a run.
            return max(min(asked, self.max_retry_after_seconds), backoff if asked == 0 else 0.0)
        return backoff

    def _request(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        expect_json: bool = False,
        cancel: threading.Event | None = None,
        page: int = 0,
    ) -> tuple[httpx.Response, Any, int]:
        url = self.url_for(path)
        params = dict(params or {})
        retries = 0

        def before_sleep(state: tenacity.RetryCallState) -> None:
            nonlocal retries
            retries += 1
            error = state.outcome.exception() if state.outcome else None
            logger.info("GET %s %s: %s; retry %d in %.2fs", url, params, error, retries, state.upcoming_sleep)

        def sleep(seconds: float) -> None:
            if cancel is None:
                time.sleep(seconds)
            elif cancel.wait(seconds):
                raise _Cancelled(url)

        def attempt() -> tuple[httpx.Response, Any]:
            if cancel is not None and cancel.is_set():
                raise _Cancelled(url)
            return self._send(url, params, expect_json)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            response, payload = retrying(attempt)
        except _Retryable as error:
            attempts = f"after {self.max_retries + 1} attempts"
            if error.body is not None:
                full = str(httpx.URL(url, params=params))
                raise ContificoPayloadError(
                    f"{error} {attempts}", url=full, page=page, body=snippet(error.body)
                ) from None
            raise ContificoHttpError(f"GET {url} {params} still failing {attempts}: {error}") from None
        return response, payload, retries

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[httpx.Response, int]:
        """GET ``path`` (relative to ``base_url``) with retries; returns the response and retries used."""
        response, _payload, retries = self._request(path, params)
        return response, retries

    # -- pages ----------------------------------------------------------------------------------
    def get_page(
        self,
        path: str,
        version: str,
        number: int,
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        paging: Paging | None = None,
        cancel: threading.Event | None = None,
    ) -> Page:
        """One page of a list endpoint, validated as the shape its version promises.

        ``paging`` names the page parameters: ``result_page``/``result_size`` or ``page``/``page_size``
        (default: v1 the first, v2 the second; some v2 endpoints only understand the first).
        """
        size = page_size or self.page_size
        style = paging or ("result_page" if version == "v1" else "page")
        keys = ("result_page", "result_size") if style == "result_page" else ("page", "page_size")
        query = {**(params or {}), keys[0]: number, keys[1]: size}
        response, payload, retries = self._request(path, query, expect_json=True, cancel=cancel, page=number)
        url = str(response.request.url)
        body = response.content
        if is_page_out_of_range(response.status_code, body):
            return Page(number, url, [], out_of_range=True, retries=retries, bytes=len(body))
        if response.status_code >= 400:
            raise ContificoHttpError(f"GET {url}: HTTP {response.status_code}: {error_message(body)}")
        try:
            records, count, next_url = page_records(version, payload)
        except PayloadError as error:
            raise ContificoPayloadError(str(error), url=url, page=number, body=snippet(body)) from None
        return Page(number, url, records, count=count, next_url=next_url, retries=retries, bytes=len(body))

    def iter_pages(
        self,
        path: str,
        version: str,
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        paging: Paging | None = None,
        prefetch: bool = True,
        max_pages: int = 1_000_000,
    ) -> Iterator[Page]:
        """Every non-empty page of a list, in order. With ``prefetch`` the next page is requested
        while the caller handles the current one (one page ahead, never more).

        A page whose ids all repeat the previous page's means the endpoint ignores the page parameter:
        :class:`ContificoPagingError` at once. Closing the iterator (the caller failed) cancels the
        prefetched request's retries at once; use it with ``contextlib.closing``.
        """
        executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="contifico-prefetch") if prefetch else None
        )
        cancel = threading.Event()

        def fetch(number: int) -> Page:
            return self.get_page(
                path, version, number, params=params, page_size=page_size, paging=paging, cancel=cancel
            )

        def start(number: int) -> Future[Page] | None:
            return executor.submit(fetch, number) if executor else None

        try:
            number, previous_len = 1, None
            previous_ids: set[Any] = set()
            pending = start(1)
            while number <= max_pages:
                page = pending.result() if pending else fetch(number)
                pending = None
                if page.out_of_range or not page.records:
                    if page.records == [] and not page.out_of_range and number == 1:
                        yield page  # an empty list still reports its one request
                    return
                ids = {r.get("id") for r in page.records if isinstance(r, dict)}
                if previous_ids and ids and ids <= previous_ids:
                    raise ContificoPagingError(
                        f"{path}: page {number} repeats the ids of page {number - 1} (GET {page.url}); "
                        "the endpoint ignores the page parameter, stopping instead of looping"
                    )
                previous_ids = ids
                more = (
                    bool(page.next_url)
                    if version == "v2"
                    else (previous_len is None or len(page.records) >= previous_len)
                )
                if more:
                    pending = start(number + 1)
                yield page
                if not more:
                    return
                previous_len = len(page.records)
                number += 1
            raise ContificoPagingError(f"{path}: more than {max_pages} pages; refusing to loop forever")
        finally:
            cancel.set()  # a prefetch still retrying gives up now, not after its backoff
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
