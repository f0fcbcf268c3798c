"""Every ``st.session_state`` key the dashboard uses, named once.

Widget keys live here too, so a page never invents a key inline and two pages never collide.
``VIEW`` is the injection seam: ``dashboard.py`` stores the engine there on a session's first run,
unless a test already put an in-memory :class:`~virtuoso.app.view.MonitorView` twin there
(``at.session_state[keys.VIEW] = twin`` with ``streamlit.testing.v1.AppTest``).
"""

from __future__ import annotations

VIEW = "virtuoso.view"  # the MonitorView every page reads (engine, or a test twin)
AUTHED = "virtuoso.authed"  # True once the dashboard password was entered
PASSWORD = "virtuoso.password"  # password text input
CALLBACK_ERROR = "virtuoso.callback_error"  # one line from a failed button callback, shown once
DEEP_LINK = "virtuoso.deep_link"  # page a first visit asked for before dashboard.py ran

MARKET_SYMBOL = "market.symbol"
MARKET_RANGE = "market.range"
MARKET_LINK = "market.link"  # the URL's drill-down parameters, once applied
MARKET_FOCUS = "market.focus"  # (symbol, start_ms, end_ms) of the event a drill-down came from
OVERVIEW_TABLE = "overview.table"  # the watchlist (row selection opens the Market page)
ANNOUNCED = "virtuoso.announced"  # event ids at watch or above already announced to this session
QUERY_SYMBOL = "symbol"  # URL query parameters of a drill-down into the Market page
QUERY_FROM = "from_ms"
QUERY_TO = "to_ms"

ALERTS_SYMBOLS = "alerts.symbols"
ALERTS_KINDS = "alerts.kinds"
ALERTS_SEVERITIES = "alerts.severities"
ALERTS_HOURS = "alerts.hours"
ALERTS_SHOW_ACKED = "alerts.show_acked"
ALERTS_TABLE = "alerts.table"  # alert history (row selection opens the Market page)
ALERTS_ACK_EDITOR = "alerts.ack_editor."  # + a digest of the rows shown: one tick box per open alert
ALERTS_ACK_BUTTON = "alerts.ack"
ALERTS_ACK_ALL = "alerts.ack_all"
ALERTS_ACK_ALL_PENDING = "alerts.ack_all.pending"  # ids "acknowledge all shown" waits to confirm
ALERTS_ACK_ALL_CONFIRM = "alerts.ack_all.confirm"
ALERTS_ACK_ALL_CANCEL = "alerts.ack_all.cancel"
MUTE_TARGET_KIND = "alerts.mute.kind"
MUTE_TARGET = "alerts.mute.target"
MUTE_MINUTES = "alerts.mute.minutes"
MUTE_BUTTON = "alerts.mute.button"
UNMUTE_PREFIX = "alerts.unmute."

TUNE_PREFIX = "tune."  # + DetectionSettings field name: one slider per threshold
TUNE_PRESET_PREFIX = "tune.preset."
TUNE_RESET = "tune.reset"
TUNE_APPLY = "tune.apply"
TUNE_HOURS = "tune.hours"
TUNE_CHART_SYMBOL = "tune.chart_symbol"
TUNE_NOTICE = "tune.notice"

SCANNER_SEARCH = "scanner.search"
SCANNER_SORT = "scanner.sort"
SCANNER_ASCENDING = "scanner.ascending"
SCANNER_ONLY_OPEN = "scanner.only_open"
SCANNER_MIN_SCORE = "scanner.min_score"
SCANNER_MIN_OI_MOVE = "scanner.min_oi_move"
SCANNER_TABLE = "scanner.table"
SCANNER_OPEN_SYMBOL = "scanner.open_symbol"
SCANNER_OPEN_BUTTON = "scanner.open_button"

REPORT_HOURS = "report.hours"
REPORT_SYMBOLS = "report.symbols"
REPORT_EXPORT = "report.export"
REPORT_LAST = "report.last"  # (path, pages, warnings) of the last export in this session


def tune_key(field_name: str) -> str:
    """Slider key of one detection threshold."""
    return TUNE_PREFIX + field_name
