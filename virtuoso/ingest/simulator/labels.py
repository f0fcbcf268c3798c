"""The labels file written next to a simulated stream (``FILE.labels.json``).

Format: ``{"format": "virtuoso-labels/1", "seed", "symbols", "start_ms", "end_ms",
"episodes": [{"kind", "symbol", "start_ms", "duration_s", "amplitude", "end_ms"}, ...]}``.
``symbol`` is ``"*"`` for market-wide episodes (market moves, funding windows). Optional keys:
``"quiet"`` (no manipulation was planted), ``"source"`` (``"simulator"`` or ``"real-candles"``),
``"split"`` and ``"symbols_info"`` (``{symbol: {"tier", "turnover_usd_day"}}``, which the scorer
uses to report per liquidity tier).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from virtuoso.ingest.simulator.episodes import Episode

FORMAT = "virtuoso-labels/1"


def labels_to_json(episodes: Sequence[Episode], *, seed: int, symbols: Sequence[str], start_ms: int,
                   end_ms: int, extra: dict[str, Any] | None = None) -> str:
    """The labels document as JSON text; ``extra`` adds the optional keys (see the module doc)."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "seed": seed,
        "symbols": list(symbols),
        "start_ms": start_ms,
        "end_ms": end_ms,
        **(extra or {}),
        "episodes": [ep.to_dict() for ep in episodes],
    }
    return json.dumps(doc, indent=1)


def symbols_info(profiles: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """``{symbol: {"tier", "turnover_usd_day"}}`` of simulator profiles (or anything with those fields)."""
    return {p.symbol: {"tier": p.tier, "turnover_usd_day": round(float(p.turnover_usd_day), 2)} for p in profiles}


def load_labels_doc(path: Path | str) -> dict[str, Any]:
    """The whole labels document (a bare list of episodes becomes ``{"episodes": [...]}``)."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return doc if isinstance(doc, dict) else {"episodes": doc}


def labels_from_json(text: str) -> list[Episode]:
    """Episodes from a labels document (or from a bare JSON list of episode objects)."""
    doc = json.loads(text)
    items = doc["episodes"] if isinstance(doc, dict) else doc
    return [Episode.from_dict(d) for d in items]


def load_labels(path: Path | str) -> list[Episode]:
    """Read a labels file; raises OSError if unreadable, ValueError/KeyError if not a labels document."""
    return labels_from_json(Path(path).read_text(encoding="utf-8"))
