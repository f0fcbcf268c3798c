"""The Bybit source's health: every connection merged into one view, plus one row per connection.

The merged keys are the ones a single connection always reported (``connected``, ``topics_acked``,
``last_message_age_s``, ``reconnects``, ``gaps``, ...), so the health page and ``virtuoso check``
read one or twenty connections alike. With more than :data:`PER_TOPIC_AGES_MAX` topics the
per-topic ages are summarised per kind (oldest, newest, how many are older than 10 s): a table of
2,000 topic ages helps nobody.
"""

from __future__ import annotations

from typing import Any, Sequence

from virtuoso.ingest.bybit.link import Link
from virtuoso.ingest.bybit.supervisor import Supervisor
from virtuoso.ingest.bybit.topics import topic_kind

PER_TOPIC_AGES_MAX = 60
STALE_TOPIC_S = 10.0


def _ages_by_kind(ages: dict[str, float]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for topic, age in ages.items():
        k = out.setdefault(topic_kind(topic), {"topics": 0, "newest_s": age, "oldest_s": age, "older_than_10s": 0})
        k["topics"] += 1
        k["newest_s"], k["oldest_s"] = min(k["newest_s"], age), max(k["oldest_s"], age)
        k["older_than_10s"] += age > STALE_TOPIC_S
    return out


def merged_health(links: Sequence[tuple[Link, Supervisor]], url: str) -> dict[str, Any]:
    """One dict for all connections (sums, the worst state) with ``connections``: one row each."""
    stats = [(link.stats(), sup) for link, sup in links]
    ages: dict[str, float] = {}
    rejected: dict[str, str] = {}
    gaps: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for st, sup in stats:
        ages.update(st["last_message_age_s"])
        rejected.update(st["topics_rejected"])
        gaps += [g.to_dict() for g in sup.gaps()[-20:]]
        newest = min(st["last_message_age_s"].values(), default=None)
        rows.append({
            "connection": st["connection"], "connected": st["connected"], "topics": st["topics"],
            "topics_acked": st["topics_acked"], "topics_rejected": len(st["topics_rejected"]),
            "messages_per_s": st["messages_per_s"], "newest_message_age_s": newest,
            "reconnects": sup.reconnects, "last_error": sup.last_error,
        })

    def total(key: str) -> Any:
        return sum(st[key] for st, _ in stats)

    gaps.sort(key=lambda g: g["start_ms"])
    return {
        "connected": bool(stats) and all(st["connected"] for st, _ in stats),
        "connections_open": sum(bool(st["connected"]) for st, _ in stats),
        "url": url,
        "topics": total("topics"),
        "topics_acked": total("topics_acked"),
        "topics_rejected": rejected,
        "last_message_age_s": ages if len(ages) <= PER_TOPIC_AGES_MAX else _ages_by_kind(ages),
        "messages": total("messages"),
        "data_messages": total("data_messages"),
        "messages_per_s": round(total("messages_per_s"), 2),
        "malformed_frames": total("malformed_frames"),
        "emit_errors": total("emit_errors"),
        "pongs": total("pongs"),
        "reconnects": sum(sup.reconnects for _, sup in stats),
        "connect_attempts": sum(sup.attempts for _, sup in stats),
        "next_backoff_s": round(max((sup.next_delay_s for _, sup in stats), default=0.0), 3),
        "last_error": next((sup.last_error for _, sup in stats if sup.last_error), ""),
        "gaps": gaps[-20:],
        "connections": rows,
    }
