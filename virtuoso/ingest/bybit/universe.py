"""Which symbols Virtuoso follows on Bybit: the instruments list, start-up checks, listings and delistings.

``GET /v5/market/instruments-info?category=linear`` lists every linear contract, a page at a time
(``limit`` up to 1000, then ``cursor`` = the previous ``nextPageCursor`` until it is empty;
https://bybit-exchange.github.io/docs/v5/market/instrument). One item, abridged::

    {"symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status": "Trading",
     "baseCoin": "BTC", "quoteCoin": "USDT", "settleCoin": "USDT", ...}

``VIRTUOSO_SYMBOLS=all`` follows the USDT-settled ``LinearPerpetual`` contracts in ``Trading``
status (USDC perpetuals and dated futures are left out: a second quote of the same coin would
double it in the market factor). A list is checked against the same listing at start: a name that
is not a linear contract stops start-up with a message naming it. :func:`diff` turns two listings
into what to follow and what to drop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from virtuoso.config import SettingsError
from virtuoso.ingest.bybit.rest import BybitRest

INSTRUMENTS_PAGE_MAX = 1000  # /v5/market/instruments-info limit, [1, 1000]
_MAX_PAGES = 100


@dataclass(frozen=True, slots=True)
class Listing:
    """One listing of linear contracts: what ``all`` follows, and every name Bybit knows with its status."""

    followed: tuple[str, ...]  # USDT perpetuals in Trading status, in Bybit's order
    status: dict[str, str]  # every linear symbol -> its status ("Trading", "PreLaunch", "Delivering", ...)


def is_followed(item: dict[str, Any]) -> bool:
    """A USDT-settled linear perpetual that trades now."""
    return (item.get("status") == "Trading" and item.get("contractType") == "LinearPerpetual"
            and item.get("settleCoin") == "USDT" and item.get("quoteCoin") == "USDT")


def listing_from_items(items: Iterable[dict[str, Any]]) -> Listing:
    """Pure: the listing made of instruments-info items (malformed items are skipped)."""
    followed: list[str] = []
    status: dict[str, str] = {}
    for item in items:
        symbol = item.get("symbol") if isinstance(item, dict) else None
        if not isinstance(symbol, str) or not symbol:
            continue
        status[symbol] = str(item.get("status") or "")
        if is_followed(item) and symbol not in followed:
            followed.append(symbol)
    return Listing(tuple(followed), status)


def fetch_listing(rest: BybitRest, path: str, *, page: int = INSTRUMENTS_PAGE_MAX) -> Listing:
    """Every linear instrument, paged by ``nextPageCursor`` (raises BybitRestError when Bybit fails)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(_MAX_PAGES):
        result = rest.get(path, {"category": "linear", "limit": page, "cursor": cursor})
        items += [x for x in result.get("list") or [] if isinstance(x, dict)]
        cursor = result.get("nextPageCursor") or None
        if not cursor or cursor in seen:
            break
        seen.add(cursor)
    return listing_from_items(items)


def check_symbols(symbols: Sequence[str], listing: Listing, where: str) -> None:
    """Raise SettingsError naming every listed symbol Bybit does not trade as a linear contract."""
    unknown = [s for s in symbols if s not in listing.status]
    halted = [f"{s} ({listing.status[s] or 'no status'})" for s in symbols
              if s in listing.status and listing.status[s] != "Trading"]
    problems = []
    if unknown:
        problems.append(f"not a Bybit linear contract: {', '.join(unknown)}")
    if halted:
        problems.append(f"not trading now: {', '.join(halted)}")
    if problems:
        raise SettingsError(f"VIRTUOSO_SYMBOLS: {'; '.join(problems)} (checked against {where}; "
                            f"{len(listing.followed)} USDT perpetuals trade there, or use VIRTUOSO_SYMBOLS=all)")


def diff(current: Sequence[str], listing: Listing) -> tuple[list[str], list[str]]:
    """(newly listed, delisted): what to start following and what to drop, in a stable order."""
    now = set(listing.followed)
    was = set(current)
    return [s for s in listing.followed if s not in was], [s for s in current if s not in now]
