"""Typed settings: one frozen object read from ``VIRTUOSO_*`` environment variables and ``.env``.

Nested sections use ``__`` (``VIRTUOSO_BYBIT__WS_URL``). Unknown ``VIRTUOSO_`` keys and bad
values stop start-up with :class:`SettingsError`, whose message names each variable and what it
expects. Secrets are ``SecretStr`` and :func:`redacted` never shows them.

Detection thresholds carry ``json_schema_extra`` metadata (``unit``, ``min``, ``max``, ``step``)
so the dashboard can build a slider per threshold without a second list of them.
"""

from __future__ import annotations

import ipaddress
import os
import re
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict,
)

ENV_PREFIX = "VIRTUOSO_"
SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,30}$")
DEFAULT_SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"]
ALL_SYMBOLS = "ALL"  # VIRTUOSO_SYMBOLS=all: every linear USDT perpetual in Trading status (the source resolves it)
# Bybit allows 21,000 characters of args per public linear connection; the longest topic Virtuoso
# sends ("allLiquidation." + a 30-character symbol, quoted, with a comma) takes 48 of them.
MAX_TOPICS_PER_CONNECTION = 21_000 // 48


class SettingsError(ValueError):
    """A setting is missing, unknown or invalid; the message names the variable and the fix."""


class SourceKind(StrEnum):
    AUTO = "auto"
    BYBIT = "bybit"
    SIMULATOR = "simulator"
    REPLAY = "replay"


class StorageBackend(StrEnum):
    SQLITE = "sqlite"
    INFLUXDB = "influxdb"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def threshold(default: float, *, unit: str, lo: float, hi: float, step: float, doc: str) -> Any:
    """A detection threshold field with slider metadata (unit, range, step) and a description."""
    return Field(
        default,
        ge=lo,
        le=hi,
        description=doc,
        json_schema_extra={"unit": unit, "min": lo, "max": hi, "step": step},
    )


class BybitSettings(_Section):
    ws_url: str = Field("wss://stream.bybit.com/v5/public/linear", description="Public linear WebSocket URL.")
    rest_url: str = Field("https://api.bybit.com", description="REST base URL.")
    connect_timeout_s: float = Field(5.0, gt=0, le=120, description="Auto source: give up on Bybit after this.")
    stale_after_s: float = Field(20.0, gt=0, le=600, description="Reconnect when no message arrives for this long.")
    backoff_initial_s: float = Field(1.0, gt=0, le=60, description="First reconnect delay; doubles per failure, with jitter.")
    backoff_max_s: float = Field(60.0, gt=0, le=900, description="Longest reconnect delay (Bybit limits new connections per IP).")
    backfill_minutes: int = Field(240, ge=0, le=10_080, description="Minutes of klines/OI fetched at start and after gaps.")
    orderbook_depth: int = Field(50, description="orderbook.{depth} topic; 50 on linear.")
    ping_interval_s: int = Field(20, ge=2, le=300, description="WebSocket ping interval (Bybit recommends 20 s).")
    rest_timeout_s: float = Field(10.0, gt=0, le=120, description="HTTP timeout per backfill REST request.")
    rest_max_attempts: int = Field(5, ge=1, le=50, description="Attempts per REST request on rate limits, 5xx and network errors.")
    instruments_path: str = Field("/v5/market/instruments-info", pattern=r"^/[A-Za-z0-9/_.-]*$",
                                  description="REST path listing the linear instruments (VIRTUOSO_SYMBOLS=all and start-up checks).")
    universe_refresh_s: float = Field(300.0, ge=0.5, le=86_400, description="VIRTUOSO_SYMBOLS=all: how often new listings are followed and delistings dropped.")
    topics_per_connection: int = Field(200, ge=4, le=MAX_TOPICS_PER_CONNECTION,
                                       description="Topics per WebSocket connection; more symbols open more connections (Bybit: 21,000 characters of args per connection).")
    orderbook_symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Symbols whose order book is streamed, comma-separated; empty: the watchlist, or with VIRTUOSO_SYMBOLS=all the top N below.")
    orderbook_top_n: int = Field(20, ge=0, le=500, description="VIRTUOSO_SYMBOLS=all without a book list: order books for this many symbols, highest event score (then turnover) first.")

    @field_validator("orderbook_symbols", mode="before")
    @classmethod
    def _split_book_symbols(cls, v: Any) -> Any:
        return _symbol_list(v, allow_empty=True)

    @field_validator("ws_url")
    @classmethod
    def _ws_scheme(cls, v: str) -> str:
        if not v.startswith(("ws://", "wss://")):
            raise ValueError("expected a ws:// or wss:// URL")
        return v

    @field_validator("rest_url")
    @classmethod
    def _http_scheme(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return v.rstrip("/")


class SimulatorSettings(_Section):
    seed: int = Field(7, description="Same seed, same stream.")
    speed: float = Field(1.0, gt=0, le=10_000, description="Simulated seconds per wall-clock second in live mode.")
    episodes_per_hour: float = Field(0.5, ge=0, le=60, description="Rate of labelled manipulation-like episodes.")
    market_moves_per_day: float = Field(3.0, ge=0, le=200, description="Rate of market-wide moves (hard negatives).")


class ReplaySettings(_Section):
    path: Path | None = Field(None, description="JSONL file for VIRTUOSO_SOURCE=replay.")
    pace: bool = Field(False, description="Replay at recorded speed instead of as fast as possible.")


class StateSettings(_Section):
    retention_1s_s: int = Field(1_800, ge=60, le=86_400, description="Seconds of 1-second bars kept in memory.")
    retention_1m_min: int = Field(2_880, ge=60, le=43_200, description="Minutes of 1-minute bars kept in memory.")
    queue_max: int = Field(100_000, ge=1_000, description="Raw messages buffered between source and pipeline.")
    price_band_pct: float = Field(25.0, ge=0, le=1_000, description="A trade or ticker more than this % away from its symbol's last accepted price is rejected and counted (health), never put in a bar; 0 turns the check off.")


class StorageSettings(_Section):
    backend: StorageBackend = Field(StorageBackend.SQLITE, description="sqlite (embedded, default) or influxdb (history in InfluxDB).")
    reload_minutes: int = Field(1_440, ge=0, le=43_200, description="History reloaded into memory at start.")


class InfluxSettings(_Section):
    url: str = Field("http://127.0.0.1:8086", description="InfluxDB base URL (v1 HTTP API).")
    database: str = Field("virtuoso", description="Database name (created if missing).")
    username: str | None = Field(None, description="User for InfluxDB 1.x authentication.")
    password: SecretStr | None = Field(None, description="Password for the user above.")
    token: SecretStr | None = Field(None, description="API token (InfluxDB 2.x/3.x v1-compatible API); used instead of user/password.")
    retention_policy: str | None = Field(None, description="Retention policy to write to; unset uses the database default.")
    batch_size: int = Field(5_000, ge=1, le=100_000, description="Points per /write request.")
    flush_interval_s: float = Field(1.0, gt=0, le=60, description="Longest wait before a partial batch is written.")
    buffer_max_points: int = Field(200_000, ge=1_000, description="Points held in memory before spilling to the embedded database.")
    timeout_s: float = Field(10.0, gt=0, le=120, description="HTTP timeout per request.")


class DetectionSettings(_Section):
    """How often the detectors may alert, and the smallest moves that can alert at all.

    Alarm levels are not constants: each statistic is judged against the symbol's own recent
    distribution and its level is put where a market without manipulation would cross it at the
    alert budget below (``watch_per_day``, ``high_per_day``), for BTC and a thin coin alike. The
    floors are absolute minimums on top (a dead-calm coin cannot alert on a tick). Raising a floor
    or lowering a budget never adds an alert. The defaults are the 'balanced' preset.
    """

    watch_per_day: float = threshold(1.0, unit="/day", lo=0.05, hi=20.0, step=0.05,
                                     doc="Alert budget: watch (or higher) events per symbol-day on a market without manipulation.")
    high_per_day: float = threshold(0.05, unit="/day", lo=0.005, hi=5.0, step=0.005,
                                    doc="Alert budget: high (or critical) events per symbol-day on a market without manipulation.")
    history_hours: int = threshold(48, unit="h", lo=2, hi=168, step=1,
                                   doc="History each symbol's alarm levels are calibrated on.")
    price_move_min_pct: float = threshold(0.5, unit="%", lo=0.05, hi=20.0, step=0.05,
                                          doc="Smallest price move (market share taken out) that can alert.")
    volume_min_usd: float = threshold(25_000, unit="USD", lo=0, hi=50_000_000, step=5_000,
                                      doc="Smallest traded value in the window for a volume spike or a pump.")
    oi_min_pct: float = threshold(0.5, unit="%", lo=0.05, hi=20.0, step=0.05,
                                  doc="Smallest open-interest change for an OI surge or a divergence.")
    divergence_price_min_pct: float = threshold(0.3, unit="%", lo=0.05, hi=10.0, step=0.05,
                                                doc="Smallest price move against open interest for a divergence.")
    pump_min_pct: float = threshold(1.0, unit="%", lo=0.2, hi=30.0, step=0.1,
                                    doc="Smallest rise that can open a pump.")
    pump_volume_ratio: float = threshold(3.0, unit="x", lo=1.0, hi=50.0, step=0.5,
                                         doc="Smallest volume, in multiples of the coin's usual, with a pump's rise (a rise on less is a price move).")
    dump_retrace_frac: float = threshold(0.5, unit="frac", lo=0.1, hi=1.0, step=0.05,
                                         doc="Share of a pump's rise given back that marks the dump.")
    cascade_liq_usd: float = threshold(100_000, unit="USD", lo=1_000, hi=50_000_000, step=1_000,
                                       doc="Smallest liquidations in one minute for a cascade.")
    cascade_oi_drop_pct: float = threshold(0.2, unit="%", lo=0.0, hi=20.0, step=0.05,
                                           doc="Smallest open-interest drop over 5 minutes with a cascade.")
    market_move_min_pct: float = threshold(1.0, unit="%", lo=0.1, hi=20.0, step=0.1,
                                           doc="Smallest move of the whole market for a market-wide event.")


class AlertPolicySettings(_Section):
    """How readings become events: one event per symbol at a time, hysteresis, cooldown."""

    cooldown_s: int = Field(900, ge=0, le=86_400, description="After an event ends, the same kind on the same symbol reopens it instead of a new event for this long.")
    exit_ratio: float = Field(0.7, gt=0, le=1, description="Hysteresis: an event ends once every reading has stayed below this share of its alarm level for a minute.")


# ------------------------------------------------------------------ delivery (issue 16: alerts people act on)
# Discord, relay, generic webhook, Telegram, outcomes and monitor notices. One block, owned by delivery.


class DiscordSettings(_Section):
    webhook_url: SecretStr | None = Field(None, description="Discord webhook URL; unset disables Discord.")
    username: str = Field("Virtuoso", description="Name shown as the message author.")
    timeout_s: float = Field(10.0, gt=0, le=120, description="HTTP timeout per request.")
    max_attempts: int = Field(8, ge=1, le=100, description="Attempts per message before it waits in the outbox for the next round.")
    digest_window_s: float = Field(2.0, ge=0, le=300, description="Later lines of one event arriving within this of its last edit are folded into one edit.")
    repost_on_high: bool = Field(True, description="An event that escalates to high or critical gets a new message (a phone buzzes); off: edited in place.")
    chart: bool = Field(True, description="Attach a PNG chart of the event's window to its message.")
    chart_budget_ms: int = Field(0, ge=0, le=10_000, description="Longest wait for the chart before the message goes without it (the chart follows by edit); 0 never waits.")
    chart_minutes: int = Field(90, ge=10, le=1_440, description="Minutes of 1-minute bars before the alert that the chart shows.")


class RelaySettings(_Section):
    enabled: bool = Field(True, description="Run the WebSocket relay.")
    host: str = Field("127.0.0.1", description="Bind address; a non-loopback address requires a token.")
    port: int = Field(8765, ge=0, le=65_535, description="TCP port (0 picks a free port).")
    token: SecretStr | None = Field(None, description="When set, every subscription must carry it.")
    max_clients: int = Field(500, ge=1, le=10_000, description="Connections beyond this are refused.")
    client_queue_max: int = Field(1_000, ge=10, le=100_000, description="Messages queued per client before a slow client is disconnected.")
    max_frame_bytes: int = Field(65_536, ge=1_024, le=16_777_216, description="Larger client frames are refused.")
    replay_max: int = Field(10_000, ge=10, le=1_000_000, description="Most missed messages sent to a client that subscribes with since.")


class WebhookSettings(_Section):
    url: SecretStr | None = Field(None, description="Generic JSON webhook URL (every alert line, outcome, notice and trade); unset disables it.")
    secret: SecretStr | None = Field(None, description="HMAC-SHA256 key; when set each request carries an X-Virtuoso-Signature header.")
    timeout_s: float = Field(10.0, gt=0, le=120, description="HTTP timeout per request.")
    max_attempts: int = Field(6, ge=1, le=100, description="Attempts per message before it waits in the outbox for the next round.")


class TelegramSettings(_Section):
    bot_token: SecretStr | None = Field(None, description="Telegram bot token from @BotFather; unset disables Telegram.")
    chat_id: str | None = Field(None, pattern=r"^(-?[0-9]{1,20}|@[A-Za-z0-9_]{5,64})$", description="Chat to post to: a numeric id or @channelusername (required with a token).")
    api_url: str = Field("https://api.telegram.org", description="Bot API base URL.")
    timeout_s: float = Field(10.0, gt=0, le=120, description="HTTP timeout per request.")
    max_attempts: int = Field(6, ge=1, le=100, description="Attempts per message before it waits in the outbox for the next round.")
    repost_on_high: bool = Field(True, description="An event that escalates to high or critical gets a new message; off: edited in place.")
    chart: bool = Field(True, description="Send the event's chart as a photo replying to its message.")

    @field_validator("api_url")
    @classmethod
    def _api_scheme(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return v.rstrip("/")


class OutcomeSettings(_Section):
    enabled: bool = Field(True, description="Record what the market did after every event (+5 min, +1 h, +4 h).")
    hit_multiple: float = Field(2.0, gt=0, le=50, description="A hit is a move in the alert's direction of at least this many times the coin's usual 1-hour move.")
    interval_s: float = Field(30.0, ge=0.1, le=3_600, description="How often pending outcomes are checked.")


class NoticeSettings(_Section):
    feed_gap_min_s: float = Field(60.0, ge=0.5, le=86_400, description="A feed gap longer than this is reported to Discord and the relay when it ends.")
    heartbeat_utc_hour: int | None = Field(None, ge=0, le=23, description="Send a daily heartbeat with the day's counts at this UTC hour; unset: off.")


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _is_loopback(host: str) -> bool:
    host = host.strip()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def relay_problem(relay: "RelaySettings") -> str | None:
    """Why the relay may not run as set (open beyond loopback without a token), or None."""
    if relay.enabled and relay.token is None and not _is_loopback(relay.host):
        return (f"VIRTUOSO_RELAY__TOKEN: required when VIRTUOSO_RELAY__HOST is not a loopback address "
                f"(got {relay.host.strip()!r}); set a token or bind 127.0.0.1")
    return None


def cross_field_problems(settings: "Settings") -> list[str]:
    """Checks that span fields or judge secret values, one line each naming the variable.

    Secret URLs are checked here rather than in field validators: pydantic's error would echo the
    rejected value, and these values are secrets. :class:`Settings` runs this on construction, so
    ``check``, ``run``, ``discord-test`` and the dashboard refuse exactly the same settings.
    """
    problems: list[str] = []
    for var, secret in (("VIRTUOSO_DISCORD__WEBHOOK_URL", settings.discord.webhook_url),
                        ("VIRTUOSO_WEBHOOK__URL", settings.webhook.url)):
        if secret is not None and not _is_http_url(secret.get_secret_value()):
            problems.append(f"{var}: expected an http:// or https:// URL (value not shown: it is a secret)")
    if settings.telegram.bot_token is not None and not settings.telegram.chat_id:
        problems.append("VIRTUOSO_TELEGRAM__CHAT_ID: required when VIRTUOSO_TELEGRAM__BOT_TOKEN is set")
    relay = relay_problem(settings.relay)
    if relay is not None:
        problems.append(relay)
    if settings.source == SourceKind.REPLAY and settings.replay.path is None:
        problems.append("VIRTUOSO_REPLAY__PATH: required when VIRTUOSO_SOURCE=replay (a JSONL file)")
    return problems


def check_delivery_settings(settings: "Settings") -> None:
    """Raise :class:`SettingsError` on the first cross-field problem (settings made without
    validation, e.g. ``model_construct``, reach delivery too)."""
    problems = cross_field_problems(settings)
    if problems:
        raise SettingsError(problems[0])


# ------------------------------------------------------------------ end of the delivery block


class TradingSettings(_Section):
    enabled: bool = Field(True, description="Run the paper trade executor.")
    min_confluence_score: float = Field(70.0, ge=0, le=100, description="Entries need at least this confluence score.")
    max_positions: int = Field(3, ge=0, le=100, description="Open paper positions at most.")
    max_notional_usd: float = Field(10_000.0, gt=0, description="Total open notional at most.")
    position_notional_usd: float = Field(1_000.0, gt=0, description="Notional of each paper position.")
    stop_pct: float = Field(2.0, gt=0, le=50, description="Stop loss distance.")
    take_profit_pct: float = Field(4.0, gt=0, le=100, description="Take profit distance.")


class DashboardSettings(_Section):
    password: SecretStr | None = Field(None, description="When set, every page asks for it.")
    refresh_s: float = Field(1.0, ge=0.25, le=60, description="Live panel refresh interval.")


# The environment ``load_settings(environ=...)`` was given, for the settings being built on this
# thread (or task) only: os.environ is never touched, so other threads keep seeing the real one.
_GIVEN_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("virtuoso_given_environ", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._given = dict(environ)  # read by _load_env_vars, which the base __init__ calls
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        out: dict[str, str | None] = {}
        for key, value in self._given.items():
            if self.env_ignore_empty and value == "":
                continue
            none = self.env_parse_none_str is not None and value == self.env_parse_none_str
            out[key if self.case_sensitive else key.lower()] = None if none else value
        return out


class Settings(BaseSettings):
    """Everything Virtuoso can be told; see README's settings table and .env.example."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    source: SourceKind = Field(
        SourceKind.AUTO, description="auto (Bybit, else the simulator with a visible reason), bybit, simulator or replay."
    )
    symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_SYMBOLS), description="Watchlist of Bybit linear perpetuals, comma-separated, or all (every USDT perpetual that trades, followed as Bybit lists and delists)."
    )
    data_dir: Path = Field(Path("data"), description="Embedded database, persisted thresholds, health.json, reports.")
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="DEBUG, INFO, WARNING or ERROR.")

    bybit: BybitSettings = BybitSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    replay: ReplaySettings = ReplaySettings()
    state: StateSettings = StateSettings()
    storage: StorageSettings = StorageSettings()
    influx: InfluxSettings = InfluxSettings()
    detection: DetectionSettings = DetectionSettings()
    policy: AlertPolicySettings = AlertPolicySettings()
    discord: DiscordSettings = DiscordSettings()
    relay: RelaySettings = RelaySettings()
    webhook: WebhookSettings = WebhookSettings()
    telegram: TelegramSettings = TelegramSettings()
    outcomes: OutcomeSettings = OutcomeSettings()
    notices: NoticeSettings = NoticeSettings()
    trading: TradingSettings = TradingSettings()
    dashboard: DashboardSettings = DashboardSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual order (arguments, environment, .env, secrets), with the environment
        ``load_settings`` was given in place of ``os.environ`` when it was given one."""
        given = _GIVEN_ENVIRON.get()
        if given is not None:
            env_settings = _MappingEnvSource(settings_cls, given)
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, v: Any) -> Any:
        v = _symbol_list(v, allow_empty=False)
        if isinstance(v, list) and ALL_SYMBOLS in v and len(v) > 1:
            raise ValueError("'all' follows every symbol; it cannot be combined with a list")
        return v

    @model_validator(mode="after")
    def _cross_field(self) -> "Settings":
        problems = cross_field_problems(self)
        if problems:
            raise ValueError(_CROSS_FIELD_MARK + "\n".join(problems))
        return self

    @property
    def follows_all(self) -> bool:
        """VIRTUOSO_SYMBOLS=all: the source lists the symbols (``symbols`` is then ``['ALL']``)."""
        return self.symbols == [ALL_SYMBOLS]


# Marks a model-level error whose text already names its variables (see load_settings).
_CROSS_FIELD_MARK = "settings: "


def _symbol_list(v: Any, *, allow_empty: bool) -> Any:
    """A comma-separated string or a list of symbols -> upper-cased, de-duplicated list."""
    if isinstance(v, str):
        v = [s for s in (p.strip() for p in v.split(",")) if s]
    if isinstance(v, list):
        v = [s.upper() if isinstance(s, str) else s for s in v]
        bad = [s for s in v if not isinstance(s, str) or not SYMBOL_RE.match(s)]
        if bad:
            raise ValueError(f"expected comma-separated symbols like BTCUSDT (A-Z, 0-9), got {bad[0]!r}")
        if not v and not allow_empty:
            raise ValueError("expected at least one symbol, or all")
        return list(dict.fromkeys(v))
    return v


def _known_env_keys(model: type[BaseModel], prefix: str) -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        key = f"{prefix}{name.upper()}"
        keys.add(key)
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys |= _known_env_keys(ann, key + "__")
    return keys


def _read_dotenv_keys(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        k = k.strip().removeprefix("export ").strip()
        out[k] = v.strip()
    return out


def unknown_env_keys(environ: Mapping[str, str], env_file: Path | None = Path(".env")) -> list[str]:
    """``VIRTUOSO_*`` names in the environment or .env that no setting reads (likely typos)."""
    known = _known_env_keys(Settings, ENV_PREFIX)
    names = {k.upper() for k in environ if k.upper().startswith(ENV_PREFIX)}
    if env_file is not None:
        names |= {k.upper() for k in _read_dotenv_keys(env_file) if k.upper().startswith(ENV_PREFIX)}
    return sorted(n for n in names if n not in known)


def _env_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not isinstance(p, int)]
    return ENV_PREFIX + "__".join(p.upper() for p in parts)


def load_settings(environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env"), **overrides: Any) -> Settings:
    """Read settings; raise :class:`SettingsError` naming every bad or unknown variable.

    ``environ`` defaults to ``os.environ``; tests pass a dict so nothing leaks between them. A given
    ``environ`` is read through its own settings source: ``os.environ`` is not changed, not even
    for a moment (other threads read it meanwhile).
    """
    env = dict(os.environ if environ is None else environ)
    problems = [
        f"{name}: no such setting (check the spelling; README lists every VIRTUOSO_ variable)"
        for name in unknown_env_keys(env, env_file)
    ]
    if problems:
        raise SettingsError("\n".join(problems))
    token = _GIVEN_ENVIRON.set(env if environ is not None else None)
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError(_one_line_each(exc)) from None
    finally:
        _GIVEN_ENVIRON.reset(token)


def _secret_env_names(model: type[BaseModel], prefix: str = ENV_PREFIX) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        key = f"{prefix}{name.upper()}"
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names |= _secret_env_names(ann, key + "__")
        elif "SecretStr" in repr(ann):
            names.add(key)
    return names


def _one_line_each(exc: ValidationError) -> str:
    """One line per problem, each starting with the variable; a secret's value is never echoed."""
    secret_names = _secret_env_names(Settings)
    lines: list[str] = []
    for err in exc.errors():
        msg = str(err["msg"])
        if not err["loc"] and _CROSS_FIELD_MARK in msg:  # the model validator: already one line each
            lines.extend(msg.split(_CROSS_FIELD_MARK, 1)[1].splitlines())
            continue
        name = _env_name(err["loc"])
        got = err.get("input")
        shown = "" if isinstance(got, (dict, BaseModel)) or name in secret_names else f", got {str(got)[:80]!r}"
        lines.append(f"{name}: {msg}{shown}")
    return "\n".join(lines)


def redacted(settings: Settings) -> dict[str, Any]:
    """Settings as a plain dict with every secret replaced by ``'**********'`` (or None if unset)."""

    def walk(obj: Any) -> Any:
        if isinstance(obj, SecretStr):
            return "**********"
        if isinstance(obj, BaseModel):
            return {k: walk(getattr(obj, k)) for k in type(obj).model_fields}
        if isinstance(obj, (list, tuple)):
            return [walk(x) for x in obj]
        if isinstance(obj, Path):
            return str(obj)
        if isinstance(obj, StrEnum):
            return obj.value
        return obj

    return walk(settings)
