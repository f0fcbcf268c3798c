"""Discord webhook client: execute (``?wait=true``), edit a message, attach files; Discord's rate limits.

Endpoints (https://discord.com/developers/docs/resources/webhook):

- Execute Webhook ``POST /webhooks/{id}/{token}?wait=true`` answers 200 with the created message
  object (its ``id`` is what later edits need; without ``wait`` Discord answers 204 and no id);
- Edit Webhook Message ``PATCH /webhooks/{id}/{token}/messages/{message_id}`` answers 200 with
  the message as edited; ``attachments`` in the body lists every attachment the message keeps;
- files go as ``multipart/form-data``: the JSON body in a ``payload_json`` part and each file in a
  ``files[n]`` part, described in the body's ``attachments`` (``{"id": n, "filename": ...}``) and
  referenced from an embed as ``attachment://filename``
  (https://discord.com/developers/docs/reference#uploading-files).

Rate limits (https://discord.com/developers/docs/topics/rate-limits): every response carries
``X-RateLimit-Bucket``/``-Remaining``/``-Reset-After``; when a bucket's remaining reaches 0 the next
request on any route of that bucket waits ``Reset-After`` instead of provoking a 429. A 429 waits
``retry_after`` (JSON body, float seconds; else the ``Retry-After`` header); ``global: true``
holds every route. 5xx, timeouts and dropped connections are retried with backoff and jitter;
other 4xx are final and carry Discord's ``message`` and ``code`` (``404 Unknown Message (code
10008)`` tells the sink the message was deleted).

The webhook URL is a secret: it never appears in results, errors, health or logs.
"""

from __future__ import annotations

import json
import re
from typing import Any, Awaitable, Callable, Sequence

import httpx

from virtuoso.sinks.http_retry import HttpSender, SendResult, TransientError, non_negative_float
from virtuoso.sinks.redact import protect

UNKNOWN_MESSAGE = 10008
File = tuple[str, bytes, str]  # (filename, content, content type)


def redact_webhook(url: str) -> str:
    """``https://discord.com/api/webhooks/1234…/********``: enough to recognise, never enough to use."""
    m = re.match(r"^(https?://[^/]+)(/api(?:/v\d+)?/webhooks/)([^/?#]+)", url)
    if not m:
        host = re.match(r"^(https?://[^/]+)", url)
        return (host.group(1) if host else "webhook") + "/********"
    wid = m.group(3)
    return f"{m.group(1)}{m.group(2)}{wid[:4]}…/********"


def discord_error(resp: httpx.Response) -> tuple[str, int | None]:
    """Discord's error body ``{"message": ..., "code": ...}`` as one short line, and the code."""
    try:
        body = resp.json()
    except ValueError:
        return (resp.text or resp.reason_phrase or "")[:200], None
    if not isinstance(body, dict):
        return str(body)[:200], None
    msg = str(body.get("message") or resp.reason_phrase)
    code = body.get("code") if isinstance(body.get("code"), int) else None
    if code is not None:
        msg += f" (code {code})"
    if isinstance(body.get("errors"), dict):
        msg += ": " + ", ".join(sorted(body["errors"]))[:160]
    return msg[:300], code


class DiscordClient:
    """Sends webhook messages; ``transport`` and ``sleep`` are seams for tests and benchmarks."""

    def __init__(self, webhook_url: str, *, timeout_s: float = 10.0, max_attempts: int = 8,
                 backoff_initial_s: float = 0.5, backoff_max_s: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        self._url = httpx.URL(webhook_url)
        self._raw = webhook_url
        self.redacted_url = redact_webhook(webhook_url)
        protect(webhook_url, self.redacted_url)
        token = self._url.path.rstrip("/").rsplit("/", 1)[-1]
        protect(token, "********")
        kw: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self._sender = HttpSender(self._classify, scrub=self._scrub, timeout_s=timeout_s, max_attempts=max_attempts,
                                  backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s,
                                  transport=transport, **kw)
        self._route_bucket: dict[str, str] = {}

    # ------------------------------------------------------------------ counters (health)

    @property
    def requests(self) -> int:
        return self._sender.requests

    @property
    def rate_limited(self) -> int:
        return self._sender.rate_limited

    @property
    def rate_waited_s(self) -> float:
        return self._sender.rate_waited_s

    @property
    def paced(self) -> int:
        return self._sender.paced

    @property
    def max_attempts(self) -> int:
        return self._sender.max_attempts

    async def aclose(self) -> None:
        await self._sender.aclose()

    def _scrub(self, text: str) -> str:
        return text.replace(self._raw, self.redacted_url).replace(str(self._url.copy_with(query=None)), self.redacted_url)

    # ------------------------------------------------------------------ requests

    async def warm(self) -> SendResult:
        """Get Webhook with Token (``GET /webhooks/{id}/{token}``), once, without retries: opens the
        keep-alive connection before the first alert needs it (the first request costs tens of ms)
        and tells early whether the webhook exists. The answer's token is not kept."""
        sender = self._sender
        saved, sender.max_attempts = sender.max_attempts, 1
        try:
            result = await sender.send("GET", str(self._url), pace_key=self._route_bucket.get("get", "get"),
                                       classify=lambda resp, s: self._classify(resp, s, "get"))
        finally:
            sender.max_attempts = saved
        body = result.body if isinstance(result.body, dict) else {}
        return SendResult(result.ok, result.status, result.error, result.permanent, result.attempts,
                          {"name": body.get("name")} if result.ok else result.body)

    async def post(self, payload: dict[str, Any]) -> SendResult:
        """Execute the webhook with a JSON body (``wait=true``: the answer is the message)."""
        return await self.execute(payload)

    async def execute(self, payload: dict[str, Any], files: Sequence[File] = ()) -> SendResult:
        """Post a new message; ``result.body`` is Discord's message object (``id``, ``attachments``)."""
        url = self._url.copy_merge_params({"wait": "true"})
        return await self._send("POST", url, "execute", payload, files)

    async def edit(self, message_id: str, payload: dict[str, Any], files: Sequence[File] = ()) -> SendResult:
        """Edit a message this webhook posted; a 404 with code 10008 means it no longer exists."""
        if not re.fullmatch(r"[0-9]{1,25}", str(message_id)):
            return SendResult(False, None, f"not a Discord message id: {str(message_id)[:30]!r}", permanent=True)
        url = self._url.copy_with(path=self._url.path.rstrip("/") + f"/messages/{message_id}")
        return await self._send("PATCH", url, "edit", payload, files)

    async def _send(self, method: str, url: httpx.URL, route: str, payload: dict[str, Any],
                    files: Sequence[File]) -> SendResult:
        key = self._route_bucket.get(route, route)
        classify = lambda resp, sender: self._classify(resp, sender, route)  # noqa: E731
        if files:
            parts = [(f"files[{i}]", (name, data, ctype)) for i, (name, data, ctype) in enumerate(files)]
            body = {"payload_json": json.dumps(payload, separators=(",", ":"))}
            return await self._sender.send(method, str(url), pace_key=key, classify=classify, data=body, files=parts)
        return await self._sender.send(method, str(url), pace_key=key, classify=classify, json=payload)

    # ------------------------------------------------------------------ answers

    def _classify(self, resp: httpx.Response, sender: HttpSender, route: str = "execute") -> SendResult:
        bucket = resp.headers.get("X-RateLimit-Bucket")
        if bucket:
            self._route_bucket[route] = bucket
        key = bucket or route
        remaining = non_negative_float(resp.headers.get("X-RateLimit-Remaining"))
        reset_after = non_negative_float(resp.headers.get("X-RateLimit-Reset-After"))
        if remaining is not None and remaining < 1 and reset_after is not None:
            sender.pace(key, reset_after)
        status = resp.status_code
        if 200 <= status < 300:
            body = None
            if status != 204:
                try:
                    body = resp.json()
                except ValueError:
                    body = None
            return SendResult(True, status, body=body)
        if status == 429:
            retry_after, is_global = None, False
            try:
                body = resp.json()
                if isinstance(body, dict):
                    retry_after = non_negative_float(body.get("retry_after"))
                    is_global = bool(body.get("global"))
            except ValueError:
                pass
            if retry_after is None:
                retry_after = non_negative_float(resp.headers.get("Retry-After"))
            retry_after = 1.0 if retry_after is None else retry_after
            raise sender.rate_limit_hit(retry_after, "*" if is_global else key)
        message, code = discord_error(resp)
        if status >= 500:
            raise TransientError(f"{status} {message}")
        return SendResult(False, status, f"{status} {message}", permanent=True, body={"code": code})
