"""HTML of the report's **Alert outcomes** section (every string escaped by the renderer's ``esc``)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from virtuoso.reports.outcomes import EVENT_HEADERS, TABLE_HEADERS, OutcomeSection

Table = Callable[..., str]


def outcomes_html(section: OutcomeSection | None, esc: Callable[[Any], str], table: Table,
                  ul: Callable[[Sequence[str]], str]) -> str:
    """The section as XHTML for xhtml2pdf; an explanation instead of tables when nothing was measured."""
    head = "<pdf:nextpage /><h2>Alert outcomes</h2>"
    if section is None or section.events_total == 0:
        return head + "<p>No events opened in the period, so there is nothing to measure yet.</p>"
    intro = (f"What the market did after each event that opened in the period: returns 5 minutes, 1 hour and 4 "
             f"hours after it, and the largest move for and against the alert's direction within the hour. A hit is "
             f"a move its way of at least {section.hit_multiple:g} times the coin's usual 1-hour move. "
             f"{section.measured_total} of {section.events_total} events have been measured at +1 h.")
    parts = [head, f"<p>{esc(intro)}</p>", "<h3>By kind and severity</h3>",
             table(TABLE_HEADERS, section.table, widths=(16, 8, 7, 9, 8, 7, 11, 11, 11, 12))]
    if section.notes:
        parts += ["<h3>What past events did</h3>", ul(section.notes)]
    parts += ["<h3>Events</h3>", table(EVENT_HEADERS, section.events)]
    return "".join(parts)
