"""Contifico REST API client resource (httpx).

What it guarantees (DESIGN §3):

* ``Authorization: <API_KEY>`` on every request; the key never appears in logs (masked).
* Both list shapes: v1 bare arrays paged with ``result_page``/``result_size`` and v2
  ``{count, next, previous, results}`` envelopes paged with ``page``/``page_size``. The
  "Pagina fuera del rango" 400 is the end of the data. A v1 list ends at an empty page, or at a
  page shorter than the one before it, so a server that caps the page size below what we asked
  never truncates the read silently (it costs one extra request per small resource).
* Retries (``tenacity``) with exponential backoff and jitter on timeouts, transport errors, 429
  and 5xx, waiting at least what ``Retry-After`` asks. 401/403 fail at once naming
  ``CONTIFICO_API_KEY``. A 200 whose body is not the expected JSON fails at once with the URL,
  the page number and a snippet of the body (retrying would not make it valid).
* A client-side token bucket (``rate_limit_rps`` requests per second, retries included) and at
  most ``max_concurrency`` requests in flight, shared by every thread using this resource.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import dagster as dg
import httpx
import tenacity
from pydantic import PrivateAttr

from cartera_pipelines.defs.contifico.parsing import (
    PayloadError,
    error_message,
    is_page_out_of_range,
    page_records,
    snippet,
)
from cartera_pipelines.resources.base import FromSettings

API_KEY_VARIABLE = "CONTIFICO_API_KEY"
logger = logging.getLogger("cartera_pipelines.contifico")


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


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


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


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (integer or decimal); HTTP dates are rare here and ignored."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


def _mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        k: ("***" if k.lower() in {"authorization", "api-token", "cookie"} else v) for k, v in headers.items()
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
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.timeout_seconds),
                    headers={"Authorization": self.api_key, "Accept": "application/json"},
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
    def _send(self, url: str, params: Mapping[str, Any]) -> httpx.Response:
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
        return response

    def _wait(self, state: tenacity.RetryCallState) -> float:
        backoff = tenacity.wait_exponential_jitter(
            initial=self.backoff_initial_seconds,
            max=self.backoff_max_seconds,
            jitter=self.backoff_initial_seconds,
        )(state)
        error = state.outcome.exception() if state.outcome else None
        asked = getattr(error, "retry_after", None)
        if asked is not None:
            # Honour the server: never sooner than it asked, capped so one answer cannot stall a run.
            return max(min(asked, self.max_retry_after_seconds), backoff if asked == 0 else 0.0)
        return backoff

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[httpx.Response, int]:
        """GET ``path`` (relative to ``base_url``) with retries; returns the response and retries used."""
        url = self.url_for(path)
        params = dict(params or {})
        retries = 0

        def before_sleep(state: tenacity.RetryCallState) -> None:
            nonlocal retries
            retries += 1
            error = state.outcome.exception() if state.outcome else None
            logger.info("GET %s %s: %s; retry %d in %.2fs", url, params, error, retries, state.upcoming_sleep)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            response = retrying(self._send, url, params)
        except _Retryable as error:
            raise ContificoHttpError(
                f"GET {url} {params} still failing after {self.max_retries + 1} attempts: {error}"
            ) from None
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
    ) -> Page:
        """One page of a list endpoint, validated as the shape its version promises."""
        size = page_size or self.page_size
        paging = (
            {"result_page": number, "result_size": size}
            if version == "v1"
            else {"page": number, "page_size": size}
        )
        query = {**(params or {}), **paging}
        response, retries = self.get(path, query)
        url = str(response.request.url)
        body = response.content
        if is_page_out_of_range(response.status_code, body):
            return Page(number, url, [], out_of_range=True, retries=retries, bytes=len(body))
        if response.status_code >= 400:
            raise ContificoHttpError(f"GET {url}: HTTP {response.status_code}: {error_message(body)}")
        try:
            payload = json.loads(body)
        except ValueError as error:
            raise ContificoPayloadError(
                f"the page is not valid JSON ({error})", url=url, page=number, body=snippet(body)
            ) from None
        try:
            records, count, next_url = page_records(version, payload)  # type: ignore[arg-type]
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
        prefetch: bool = True,
        max_pages: int = 1_000_000,
    ) -> Iterator[Page]:
        """Every non-empty page of a list, in order. With ``prefetch`` the next page is requested
        while the caller handles the current one (one page ahead, never more)."""
        executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="contifico-prefetch") if prefetch else None
        )

        def fetch(number: int) -> Page:
            return self.get_page(path, version, number, params=params, page_size=page_size)

        def start(number: int) -> Future[Page] | None:
            return executor.submit(fetch, number) if executor else None

        try:
            number, previous_len = 1, None
            pending = start(1)
            while number <= max_pages:
                page = pending.result() if pending else fetch(number)
                pending = None
                if page.out_of_range or not page.records:
                    if page.records == [] and not page.out_of_range and number == 1:
                        yield page  # an empty list still reports its one request
                    return
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
            raise ContificoHttpError(f"{path}: more than {max_pages} pages; refusing to loop forever")
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
