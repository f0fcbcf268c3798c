"""The live Bybit source: pybit's public linear WebSocket for the followed symbols, supervised, backfilled.

``resolve_symbols()`` (the engine calls it before building market state) lists Bybit's linear
instruments over REST: ``VIRTUOSO_SYMBOLS=all`` follows every USDT perpetual in ``Trading`` status,
a list is checked against the listing and a name Bybit does not have stops start-up
(:mod:`virtuoso.ingest.bybit.universe`). The topics are spread over as many connections as
Bybit's limits need (:class:`~virtuoso.ingest.bybit.plan.SubscriptionPlan`); each connection is a
:class:`~virtuoso.ingest.bybit.link.Link` under its own
:class:`~virtuoso.ingest.bybit.supervisor.Supervisor` thread, while ``run(emit, stop)`` (the
engine's ingestion thread) refreshes the listing every ``universe_refresh_s`` with ``all``: new
listings are told to ``on_universe`` first, then subscribed and backfilled; delistings are
unsubscribed and told. Order books stream only for the focus list (``orderbook_symbols``, else
the watchlist, else with ``all`` the top ``orderbook_top_n`` by ``rank()``, re-ranked at each refresh).

A worker thread backfills 1-minute history over REST at start, after each gap (for the symbols
of the connection that had it) and for each new listing, and hands it to ``on_history``; once a
gap's backfill has run, ``on_gap`` is told (a :class:`~virtuoso.domain.notices.FeedGap`).

``probe(settings, timeout_s)`` answers "is Bybit's public WebSocket there?" for
``VIRTUOSO_SOURCE=auto``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from typing import Any, Callable, Sequence

import orjson

from virtuoso.config import Settings, SettingsError
from virtuoso.domain.bars import Bar
from virtuoso.domain.clock import Clock
from virtuoso.domain.notices import FeedGap
from virtuoso.ingest.base import RawEmit
from virtuoso.ingest.bybit import universe
from virtuoso.ingest.bybit.backfill import MINUTE_MS, Backfiller
from virtuoso.ingest.bybit.link import Link
from virtuoso.ingest.bybit.link_health import merged_health
from virtuoso.ingest.bybit.plan import Changes, SubscriptionPlan
from virtuoso.ingest.bybit.rest import BybitRest, BybitRestError
from virtuoso.ingest.bybit.supervisor import Backoff, Gap, Supervisor
from virtuoso.ingest.bybit.topics import topic_symbol

log = logging.getLogger(__name__)

UniverseListener = Callable[[Sequence[str], Sequence[str]], None]  # (newly listed, delisted)
_Job = tuple[int, int, str, "frozenset[str] | None"]  # (start_ms, end_ms, reason, symbols or every one)


class BybitSource:
    """Live Bybit v5 public linear data for the followed symbols (see the module docstring)."""

    name = "bybit"
    simulated = False
    # pybit's thread delivers frames: blocking it would stall the socket until Bybit drops it.
    can_block = False

    def __init__(self, settings: Settings, clock: Clock, *,
                 make_rest: Callable[[Callable[[float], None]], BybitRest],
                 on_history: Callable[[list[Bar]], None] | None = None,
                 on_gap: Callable[[FeedGap], None] | None = None, on_universe: UniverseListener | None = None,
                 rank: Callable[[], Sequence[str]] | None = None) -> None:
        """``make_rest(sleep)`` builds the REST client for the instrument list and backfills (the
        composition root passes it, :func:`virtuoso.app.build.build_bybit`); with ``on_history``
        the source backfills at start and after each gap. ``sleep`` is the source's own: it ends
        on stop."""
        self._settings = settings
        self._clock = clock
        self._emit_ref: list[RawEmit | None] = [None]
        b = settings.bybit
        self._on_history = on_history
        self._on_feed_gap = on_gap
        self._on_universe = on_universe
        self._rank = rank
        self._stop = threading.Event()
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self._gaps_lock = threading.Lock()
        self._gaps_to_tell: list[tuple[Gap, tuple[str, ...]]] = []  # closed gaps whose backfill has not run yet
        self._rest = make_rest(self._sleep)
        self._backfiller = Backfiller(self._rest, [], on_history) if on_history is not None and b.backfill_minutes > 0 else None
        self._plan = SubscriptionPlan(b.topics_per_connection, b.orderbook_depth)
        self._links: list[tuple[Link, Supervisor]] = []
        self._threads: list[threading.Thread] = []
        self._links_lock = threading.Lock()
        self._symbols: list[str] | None = None
        self.refreshes = 0
        self.last_refresh_ms = 0
        self.last_refresh_error = ""
        self.changes: deque[dict[str, Any]] = deque(maxlen=50)  # recent listings and delistings

    # ------------------------------------------------------------------ the universe

    def resolve_symbols(self) -> list[str]:
        """The symbols to follow, checked against Bybit's instruments (raises SettingsError)."""
        if self._symbols is not None:
            return list(self._symbols)
        try:
            return self._resolve()
        except SettingsError:
            self._rest.close()  # start-up stops here: nothing else will close it
            raise

    def _resolve(self) -> list[str]:
        s, b = self._settings, self._settings.bybit
        where = f"{b.rest_url}{b.instruments_path}"
        try:
            listing = universe.fetch_listing(self._rest, b.instruments_path)
        except BybitRestError as exc:
            if s.follows_all:
                raise SettingsError(f"VIRTUOSO_SYMBOLS=all: could not list Bybit's instruments at {where}: {exc}") from None
            log.warning("could not check VIRTUOSO_SYMBOLS against %s (%s); following the list unchecked", where, exc)
            listing = None
        if s.follows_all:
            assert listing is not None
            if not listing.followed:
                raise SettingsError(f"VIRTUOSO_SYMBOLS=all: {where} lists no USDT perpetual in Trading status")
            symbols = list(listing.followed)
        else:
            symbols = list(s.symbols)
            if listing is not None:
                universe.check_symbols(symbols, listing, where)
        self._symbols = symbols
        self._plan.focus = set(self._initial_focus(symbols))
        self._plan.add(symbols)
        with self._links_lock:
            for topics in self._plan.connections:
                self._new_link(topics)
        if self._backfiller is not None:
            self._backfiller.set_symbols(symbols)
        log.info("bybit: following %d symbols (%d with order books) over %d connections",
                 len(symbols), len(self._plan.focus & set(symbols)), len(self._plan.connections))
        return list(symbols)

    def _initial_focus(self, symbols: list[str]) -> list[str]:
        b = self._settings.bybit
        if b.orderbook_symbols:
            return list(b.orderbook_symbols)
        if not self._settings.follows_all:
            return symbols
        return self._top(symbols, self._turnover_rank())

    def _top(self, symbols: Sequence[str], ranked: Sequence[str]) -> list[str]:
        n, followed = self._settings.bybit.orderbook_top_n, set(symbols)
        order = [s for s in ranked if s in followed] + [s for s in symbols if s not in set(ranked)]
        return order[:n]

    def _turnover_rank(self) -> list[str]:
        """Symbols by 24 h turnover (one ``/v5/market/tickers`` call); empty when it fails."""
        try:
            items = self._rest.get("/v5/market/tickers", {"category": "linear"}).get("list") or []
            turnover = {x["symbol"]: float(x.get("turnover24h") or 0) for x in items if isinstance(x, dict) and "symbol" in x}
        except (BybitRestError, KeyError, TypeError, ValueError) as exc:
            log.info("bybit: no turnover ranking for the order-book focus (%s)", exc)
            return []
        return sorted(turnover, key=lambda s: -turnover[s])

    def symbols(self) -> list[str]:
        return self._plan.symbols()

    def refresh(self) -> tuple[list[str], list[str]]:
        """List the instruments again: follow new listings, drop delistings, re-rank the book focus."""
        b = self._settings.bybit
        try:
            listing = universe.fetch_listing(self._rest, b.instruments_path)
        except BybitRestError as exc:
            self.last_refresh_error = str(exc)[:200]
            log.warning("bybit: instruments refresh failed: %s", exc)
            return [], []
        self.refreshes += 1
        self.last_refresh_ms, self.last_refresh_error = self._clock.now_ms(), ""
        added, removed = universe.diff(self._plan.symbols(), listing)
        if added or removed:
            log.info("bybit: %d new listings %s, %d delisted %s", len(added), added[:10], len(removed), removed[:10])
            if self._on_universe is not None:
                self._on_universe(list(added), list(removed))  # state knows a symbol before its data comes
            for what, names in (("listed", added), ("delisted", removed)):
                for s in names:
                    self.changes.append({"ts_ms": self.last_refresh_ms, "symbol": s, "change": what})
            self._unsubscribe(self._plan.remove(removed))
            if not b.orderbook_symbols:
                self._plan.focus = set(self._top(listing.followed, self._ranked()))
            self._subscribe(self._plan.add(added))
            if self._backfiller is not None:
                self._backfiller.set_symbols(self._plan.symbols())
                if added:
                    now = self._clock.now_ms()
                    self._jobs.put((now - b.backfill_minutes * MINUTE_MS, now, "new listing", frozenset(added)))
        if not b.orderbook_symbols:
            subscribe, unsubscribe = self._plan.set_focus(self._top(self._plan.symbols(), self._ranked()))
            self._unsubscribe(unsubscribe)
            self._subscribe(subscribe)
        return added, removed

    def _ranked(self) -> list[str]:
        try:
            return list(self._rank()) if self._rank is not None else []
        except Exception:
            log.exception("order-book ranking failed")
            return []

    def _subscribe(self, changes: Changes) -> None:
        for i, topics in sorted(changes.items()):
            with self._links_lock:
                while i >= len(self._links):  # the plan opened a connection: start it
                    self._new_link([])
                    if self._emit_ref[0] is not None:
                        self._start_link(len(self._links) - 1)
                link = self._links[i][0]
            link.subscribe(topics)

    def _unsubscribe(self, changes: Changes) -> None:
        for i, topics in sorted(changes.items()):
            with self._links_lock:
                link = self._links[i][0] if i < len(self._links) else None
            if link is not None:
                link.unsubscribe(topics)

    def _new_link(self, topics: Sequence[str]) -> None:
        b, index = self._settings.bybit, len(self._links)
        holder: list[Supervisor] = []
        link = Link(self._settings, self._clock, self._emit_ref, wake=lambda: holder[0].wake(), topics=topics, index=index)
        sup = Supervisor(link, self._clock, stale_after_s=b.stale_after_s, backoff=Backoff(b.backoff_initial_s, b.backoff_max_s),
                         on_gap_closed=lambda gap: self._on_gap(gap, link))
        holder.append(sup)
        self._links.append((link, sup))

    def _start_link(self, i: int) -> None:
        sup = self._links[i][1]
        t = threading.Thread(target=sup.run, args=(self._stop,), name=f"virtuoso-bybit-conn-{i}", daemon=True)
        self._threads.append(t)
        t.start()

    # ------------------------------------------------------------------ run

    def run(self, emit: RawEmit, stop: threading.Event) -> None:
        """Stream until ``stop`` is set; this thread refreshes the listing (``all``)."""
        self.resolve_symbols()
        self._emit_ref[0] = emit
        self._stop = stop
        worker = None
        if self._backfiller is not None:
            now = self._clock.now_ms()
            self._jobs.put((now - self._settings.bybit.backfill_minutes * MINUTE_MS, now, "start", None))
            worker = threading.Thread(target=self._backfill_loop, name="virtuoso-bybit-backfill", daemon=True)
            worker.start()
        with self._links_lock:
            for i in range(len(self._links)):
                self._start_link(i)
        refresh_s = self._settings.bybit.universe_refresh_s
        try:
            while not stop.wait(refresh_s if self._settings.follows_all else 3600.0):
                if self._settings.follows_all:
                    try:
                        self.refresh()
                    except Exception:  # a surprise in a listing must not stop the stream
                        log.exception("bybit: instruments refresh failed")
        finally:
            for t in list(self._threads):
                t.join(10.0)
            self._emit_ref[0] = None
            if worker is not None:
                worker.join(5.0)
            self._rest.close()

    # ------------------------------------------------------------------ backfill

    def _on_gap(self, gap: Gap, link: Link) -> None:
        symbols = tuple(dict.fromkeys(topic_symbol(t) for t in link.topics))
        if self._backfiller is None:
            self._tell_gaps([(gap, symbols)], 0, "backfill is off")
            return
        with self._gaps_lock:
            self._gaps_to_tell.append((gap, symbols))
        limit = self._settings.bybit.backfill_minutes * MINUTE_MS
        end = self._clock.now_ms()
        start = max(gap.start_ms - MINUTE_MS, end - limit)
        self._jobs.put((start, end, f"gap: {gap.cause}", frozenset(symbols)))

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise InterruptedError("source stopping")

    def _backfill_loop(self) -> None:
        assert self._backfiller is not None
        while not self._stop.is_set():
            try:
                start, end, reason, symbols = self._jobs.get(timeout=0.2)
            except queue.Empty:
                continue
            while True:  # merge queued windows into one run
                try:
                    s2, e2, r2, sym2 = self._jobs.get_nowait()
                except queue.Empty:
                    break
                start, end, reason = min(start, s2), max(end, e2), r2
                symbols = None if symbols is None or sym2 is None else symbols | sym2
            with self._gaps_lock:
                gaps, self._gaps_to_tell = self._gaps_to_tell, []
            bars, error = 0, ""
            try:
                todo = None if symbols is None else [s for s in self._plan.symbols() if s in symbols]
                bars = self._backfiller.run(start, end, reason, self._stop, todo)
                progress = self._backfiller.progress()
                if progress.get("state") == "failed":
                    error = "; ".join(progress.get("errors") or [])[-200:] or "backfill failed"
            except InterruptedError:
                return
            except Exception as exc:
                log.exception("backfill failed")
                error = f"{type(exc).__name__}: {exc}"[:200]
            self._tell_gaps(gaps, bars, error)

    def _tell_gaps(self, gaps: list[tuple[Gap, tuple[str, ...]]], bars: int, error: str) -> None:
        """Tell ``on_gap`` about closed gaps and how their backfill went (never raises)."""
        if self._on_feed_gap is None:
            return
        for gap, symbols in gaps:
            if gap.end_ms is None:
                continue
            try:
                self._on_feed_gap(FeedGap(gap.start_ms, gap.end_ms, symbols, gap.cause, "bybit", bars, error))
            except Exception:
                log.exception("gap notice failed")

    # ------------------------------------------------------------------ health

    def live_symbols(self, now_ms: int, window_ms: int) -> int:
        """Followed symbols with a data message received in the last ``window_ms``."""
        with self._links_lock:
            links = [link for link, _ in self._links]
        followed = set(self._plan.symbols())
        live = {topic_symbol(t) for link in links for t, ms in link.last_data_by_topic().items() if now_ms - ms <= window_ms}
        return len(live & followed)

    def universe(self) -> dict[str, Any]:
        """What the engine's universe section shows: how the symbols were chosen, focus, changes."""
        with self._links_lock:
            n_links = len(self._links)
        return {
            "mode": "all" if self._settings.follows_all else "list",
            "focus_books": len(self._plan.focus & set(self._plan.symbols())),
            "connections": n_links,
            "topics": len(self._plan.topics()),
            "refreshes": self.refreshes,
            "last_refresh_ms": self.last_refresh_ms or None,
            "last_refresh_error": self.last_refresh_error,
            "changes": list(self.changes)[-20:],
        }

    def health(self) -> dict[str, Any]:
        """Connections (merged, and one row each), message ages, rates, reconnects, gaps, backfill."""
        with self._links_lock:
            links = list(self._links)
        out = merged_health(links, self._settings.bybit.ws_url)
        out["backfill"] = self._backfiller.progress() if self._backfiller is not None else {"state": "off"}
        out["rest"] = {"calls": self._rest.calls, "retries": self._rest.retries, "last_error": self._rest.last_error}
        return out


def probe(settings: Settings, timeout_s: float) -> str | None:
    """None when Bybit's public WebSocket answers a ping within ``timeout_s``, else why not.

    Connects with the ``websockets`` client (not pybit, whose connect has no timeout), sends
    Bybit's text ping and waits for any JSON reply.
    """
    from websockets.exceptions import InvalidHandshake, InvalidURI
    from websockets.sync.client import connect

    url = settings.bybit.ws_url
    deadline = time.monotonic() + timeout_s
    try:
        with connect(url, open_timeout=timeout_s, close_timeout=1) as ws:
            ws.send('{"op":"ping","req_id":"virtuoso-probe"}')
            reply = ws.recv(timeout=max(0.05, deadline - time.monotonic()))
        msg = orjson.loads(reply)
        return None if isinstance(msg, dict) else f"unexpected reply from {url}"
    except ConnectionRefusedError:
        return f"connection refused at {url}"
    except TimeoutError:
        return f"timed out after {timeout_s:g} s at {url}"
    except InvalidHandshake as exc:
        return f"handshake failed at {url}: {exc}"[:200]
    except InvalidURI:
        return f"invalid URL {url}"
    except orjson.JSONDecodeError:
        return f"non-JSON reply from {url}"
    except OSError as exc:
        return f"{type(exc).__name__} at {url}: {exc}"[:200]
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
