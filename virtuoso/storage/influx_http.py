"""A small client for InfluxDB's v1 HTTP API: ``/ping``, ``/write`` (line protocol) and ``/query``.

The v1 API is served by InfluxDB 1.x, by 2.x through its v1 compatibility endpoints and by 3.x,
so one client covers all three. Errors are sorted into two kinds the store acts on::

    InfluxError
     +-- InfluxUnavailable   connection failed, timeout, 5xx, 429, 401/403, 404: keep the points, retry later
     +-- InfluxRejected      400 and other 4xx on /write: the points are bad, retrying cannot help
     +-- InfluxQueryError    /query answered with an error

Transient failures are retried a few times here (tenacity, exponential backoff with jitter,
honouring ``Retry-After``); after that the caller decides (the store spills to SQLite).
"""

from __future__ import annotations

import gzip
import json
import threading
from typing import Any, Sequence

import httpx
import orjson
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_when_event_set, wait_exponential_jitter

from virtuoso.storage.influx_schema import quote_ident

GZIP_LEVEL = 1  # fastest: bars compress ~6x at level 1, higher levels cost CPU we need for ingestion


class InfluxError(Exception):
    """Base of the client's errors; ``status`` is the HTTP status (0 when no response)."""

    def __init__(self, message: str, status: int = 0, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class InfluxUnavailable(InfluxError):
    """The server cannot take the request now; the same request may succeed later."""


class InfluxRejected(InfluxError):
    """The server refused the points themselves (bad line, field type conflict)."""


class InfluxQueryError(InfluxError):
    """A query failed on the server (syntax, missing measurement, ...)."""


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _error_text(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("error") or resp.text)[:2000]
    except (ValueError, AttributeError):
        return resp.text[:2000]


class InfluxV1Client:
    """Writes line protocol and runs InfluxQL against one database.

    ``transport`` is the seam tests use (an ``httpx.MockTransport``); ``stop`` (an Event) cuts
    retry waits short when the owner shuts down. Auth: a token is sent as
    ``Authorization: Token ...``; otherwise username/password as HTTP basic auth (1.x accepts both).
    """

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        retention_policy: str | None = None,
        timeout_s: float = 10.0,
        attempts: int = 3,
        backoff_max_s: float = 2.0,
        transport: httpx.BaseTransport | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        headers = {"User-Agent": "virtuoso"}
        auth: Any = None
        if token:
            headers["Authorization"] = f"Token {token}"
        elif username:
            auth = (username, password or "")
        self.url = url.rstrip("/")
        parsed = httpx.URL(self.url)
        self.display_url = str(parsed.copy_with(userinfo=b"")) if parsed.userinfo else self.url  # for health pages
        self.database = database
        self.retention_policy = retention_policy
        self.attempts = max(1, int(attempts))
        self.backoff_max_s = backoff_max_s
        self._stop = stop or threading.Event()
        self._http = httpx.Client(base_url=self.url, headers=headers, auth=auth,
                                  timeout=httpx.Timeout(timeout_s), transport=transport)

    # ------------------------------------------------------------------ plumbing

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:  # connect refused, reset, timeout, protocol error
            raise InfluxUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 500 or resp.status_code in (401, 403, 408, 429):
            raise InfluxUnavailable(f"HTTP {resp.status_code}: {_error_text(resp)}", resp.status_code, _retry_after(resp))
        return resp

    def _retrying(self) -> Retrying:
        backoff = wait_exponential_jitter(multiplier=0.2, max=self.backoff_max_s, jitter=0.1)

        def wait(state: Any) -> float:
            exc = state.outcome.exception() if state.outcome else None
            hinted = getattr(exc, "retry_after_s", None)
            return max(backoff(state), min(hinted or 0.0, 60.0))

        return Retrying(
            stop=stop_after_attempt(self.attempts) | stop_when_event_set(self._stop),
            wait=wait,
            retry=retry_if_exception_type(InfluxUnavailable),
            sleep=self._stop.wait,
            reraise=True,
        )

    # ------------------------------------------------------------------ API

    def create_database(self) -> None:
        """``CREATE DATABASE`` (a no-op when it exists); needs admin rights on a server with auth."""
        self._query_raw(f"CREATE DATABASE {quote_ident(self.database)}", method="POST", with_db=False)

    def write_lines(self, lines: Sequence[str]) -> None:
        """POST lines gzip-compressed to ``/write`` with ms precision; retries transient failures.

        A 404 (database not found) creates the database once and retries; a 413 splits the batch.
        """
        if not lines:
            return
        for attempt in self._retrying():
            with attempt:
                self._write_once(lines)

    def _write_once(self, lines: Sequence[str]) -> None:
        params = {"db": self.database, "precision": "ms"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        body = gzip.compress("\n".join(lines).encode("utf-8"), compresslevel=GZIP_LEVEL)
        headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"}
        resp = self._request("POST", "/write", params=params, content=body, headers=headers)
        if resp.status_code in (200, 204):
            return
        if resp.status_code == 404:  # no such database/bucket: a setup problem, not a bad point
            if "database not found" in _error_text(resp):
                self.create_database()
                raise InfluxUnavailable(f"database {self.database!r} was missing; created it", 404)
            raise InfluxUnavailable(f"HTTP 404: {_error_text(resp)}", 404)
        if resp.status_code == 413 and len(lines) > 1:
            mid = len(lines) // 2
            self._write_once(lines[:mid])
            self._write_once(lines[mid:])
            return
        raise InfluxRejected(f"HTTP {resp.status_code}: {_error_text(resp)}", resp.status_code)

    def query(self, q: str, *, retry: bool = True) -> list[dict[str, Any]]:
        """Run one InfluxQL SELECT (``epoch=ms``, chunked) and return its series.

        A database or measurement that does not exist yet reads as empty. ``retry=False`` tries
        once (readers use it while the server is known to be down, so a page does not hang).
        """
        if not retry:
            return self._query_raw(q, method="GET", with_db=True)
        series: list[dict[str, Any]] = []
        for attempt in self._retrying():
            with attempt:
                series = self._query_raw(q, method="GET", with_db=True)
        return series

    def _query_raw(self, q: str, *, method: str, with_db: bool) -> list[dict[str, Any]]:
        params = {"q": q, "epoch": "ms", "chunked": "true", "chunk_size": "10000"}
        if with_db:
            params["db"] = self.database
            if self.retention_policy:
                params["rp"] = self.retention_policy
        if method == "POST":
            resp = self._request("POST", "/query", data=params)
        else:
            resp = self._request("GET", "/query", params=params)
        if resp.status_code >= 400 and resp.status_code != 400:
            raise InfluxQueryError(f"HTTP {resp.status_code}: {_error_text(resp)}", resp.status_code)
        series: dict[tuple[str, str], dict[str, Any]] = {}
        for chunk in resp.content.split(b"\n"):  # chunked responses: one JSON document per line
            if not chunk.strip():
                continue
            try:
                doc = orjson.loads(chunk)
            except orjson.JSONDecodeError as exc:
                raise InfluxQueryError(f"bad JSON from /query: {exc}", resp.status_code) from exc
            if doc.get("error"):
                raise InfluxQueryError(str(doc["error"]), resp.status_code)
            for result in doc.get("results") or []:
                err = result.get("error")
                if err:
                    if "database not found" in err:
                        return []
                    raise InfluxQueryError(str(err), resp.status_code)
                for s in result.get("series") or []:
                    key = (s.get("name", ""), json.dumps(s.get("tags") or {}, sort_keys=True))
                    cur = series.setdefault(key, {"name": s.get("name"), "tags": s.get("tags"),
                                                  "columns": s.get("columns"), "values": []})
                    cur["values"].extend(s.get("values") or [])
        return list(series.values())

    def close(self) -> None:
        self._http.close()
