"""pybit's public linear WebSocket, pointed at a configurable URL and made safe to supervise.

pybit (5.17) builds its public URL from a fixed template (``wss://{SUBDOMAIN}.{DOMAIN}.com/...``)
and formats it inside ``_WebSocketManager._connect(url)``, the step both the first connection
and pybit's own reconnects (``_on_error`` -> ``_connect(self.endpoint)``) go through. The
subclass below overrides that one step to supply ``settings.bybit.ws_url`` every time, so
testnet, a proxy or a local server work without touching pybit's module constants.

What else the subclass changes, and why:

* ``_on_message`` is intercepted *before* pybit decodes and merges: pybit's ``json.loads`` raises
  on a garbage frame, its order-book merge raises on a delete of an unknown level, and any
  exception there reaches websocket-client's ``on_error`` and pybit then closes the stream for
  good. It also reuses one mutable dict for merged ticker/book snapshots. We hand the raw text
  to a listener instead, so the parser sees Bybit's own snapshot/delta messages, each decoded
  into a fresh dict that nobody else holds.
* ``_on_error``/``_on_close``/``_on_open``/``_on_pong`` never raise into pybit or
  websocket-client; they report to the listener and the supervisor decides what to do.
* pybit's reconnect-on-error is switched off (``restart_on_error=False``): it retries
  immediately, without backoff, and raises inside the socket thread when it runs out. The
  supervisor reconnects through the same ``_connect`` step instead, spaced by backoff with
  jitter. pybit's ``_connect`` counts its last attempt as failed even when it connects, so
  ``retries=2`` gives one real attempt; when that one fails pybit makes one immediate second
  attempt and then raises, which the supervisor catches.
* websocket-client's pure-Python UTF-8 check of every text frame is switched off on each new
  socket (in ``_on_open``, before its first read): it walks the frame byte by byte (without the
  unmaintained ``wsaccel``), the dearest step per frame at 500 symbols, while the frame is
  decoded as UTF-8 in C right after (``bytes.decode``), which refuses the same bytes anyway.
* Subscriptions are sent by :meth:`subscribe_all` after every successful connect (one request
  per 10 topics, each with a ``req_id``), so a reconnect always resubscribes the full watchlist.

Reference: https://bybit-exchange.github.io/docs/v5/ws/connect
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Protocol, Sequence

from pybit.unified_trading import WebSocket

from virtuoso.ingest.bybit.topics import chunked

log = logging.getLogger(__name__)


class StreamListener(Protocol):
    """Receives what the socket thread sees; implementations must be cheap and must not block."""

    def on_frame(self, raw: str | bytes) -> None: ...

    def on_open(self) -> None: ...

    def on_down(self, cause: str) -> None: ...


class LinearPublicStream(WebSocket):
    """One pybit public linear connection to ``url`` for ``topics``; connect with :meth:`connect`."""

    def __init__(
        self,
        url: str,
        topics: Sequence[str],
        listener: StreamListener,
        *,
        ping_interval_s: int = 20,
        ping_timeout_s: int = 10,
    ) -> None:
        # pybit formats the URL with str.format; escape braces so any URL survives unchanged.
        self._url_template = url.replace("{", "{{").replace("}", "}}")
        self.url = url
        self._topics = list(topics)
        self._listener = listener
        self._defer_connect = True  # pybit connects inside __init__; we connect when supervised
        self.pending_req_ids: dict[str, list[str]] = {}
        super().__init__(
            "linear",
            testnet=False,
            ping_interval=ping_interval_s,
            ping_timeout=ping_timeout_s,
            retries=2,
            restart_on_error=False,
        )
        self._defer_connect = False

    # ------------------------------------------------------------------ pybit's connect step

    def _connect(self, url: str) -> None:  # noqa: ARG002 - pybit passes its template; we use ours
        if self._defer_connect:
            return
        super()._connect(self._url_template)

    def connect(self, topics: Sequence[str] | None = None) -> None:
        """Open a fresh connection through pybit and subscribe (to ``topics`` when given, from now
        on); raises if it cannot connect."""
        if topics is not None:
            self._topics = list(topics)
        self._reset()
        self._connect(self.url)
        self.subscribe_all()

    def subscribe_all(self) -> None:
        """Send subscribe requests for every topic (Bybit acks each with our ``req_id``)."""
        self.send_op("subscribe", self._topics)

    def send_op(self, op: str, topics: Sequence[str]) -> None:
        """``subscribe`` or ``unsubscribe`` ``topics`` on the open connection, 10 args per request."""
        for args in chunked(topics):
            req_id = uuid.uuid4().hex[:16]
            self.pending_req_ids[req_id] = args
            self.ws.send(json.dumps({"op": op, "req_id": req_id, "args": args}))

    def close(self) -> None:
        """Close the connection (pybit's exit); never raises."""
        try:
            self.exit()
        except Exception as exc:  # a half-open socket may complain while closing
            log.debug("closing pybit stream: %s", exc)

    # ------------------------------------------------------------------ pybit callbacks

    def _on_message(self, message: str | bytes) -> None:  # type: ignore[override]
        try:
            self._listener.on_frame(message)
        except Exception:  # never let a listener bug reach pybit (it would close the stream)
            log.exception("bybit frame listener failed")

    def _on_open(self) -> None:
        _skip_python_utf8_check(self)
        try:
            self._listener.on_open()
        except Exception:
            log.exception("bybit open listener failed")

    def _on_error(self, error: BaseException) -> None:  # type: ignore[override]
        self._release_lost_socket()
        try:
            self._listener.on_down(f"{type(error).__name__}: {error}"[:300])
        except Exception:
            log.exception("bybit error listener failed")

    def _on_close(self) -> None:
        self._release_lost_socket()
        try:
            self._listener.on_down("connection closed")
        except Exception:
            log.exception("bybit close listener failed")

    def _release_lost_socket(self) -> None:
        """Close the OS socket of a connection the peer already dropped.

        websocket-client's ``WebSocket.close()`` returns early once ``connected`` is False, so
        after a server-side drop its teardown never closes the file descriptor (it leaks until
        garbage collection). Only the socket thread of the *current* connection may do this.
        """
        try:
            if threading.current_thread() is not getattr(self, "wst", None):
                return
            sock = getattr(self.ws, "sock", None)
            if sock is not None and not sock.connected:
                sock.shutdown()
        except Exception as exc:
            log.debug("releasing a lost socket: %s", exc)

    def _on_pong(self) -> None:
        try:
            super()._on_pong()  # pybit answers a pong frame with Bybit's text ping
        except Exception as exc:
            log.debug("custom ping failed: %s", exc)


def _skip_python_utf8_check(stream: WebSocket) -> None:
    """Turn off websocket-client's byte-by-byte UTF-8 check on the socket just opened (see above)."""
    try:
        sock = stream.ws.sock
        sock.cont_frame.skip_utf8_validation = True
        sock.frame_buffer.skip_utf8_validation = True
    except AttributeError:  # another websocket-client layout: it keeps its own check, nothing breaks
        log.debug("websocket-client layout changed: its UTF-8 check stays on")
