"""InfluxDB line protocol: escaping, formatting and a reference parser (pure, no I/O).

``measurement,tag=value field=1.0,n=3i,b=true,s="text" 1700000000000``

Escaping follows what the servers actually parse (checked against InfluxDB 1.6.7, see
tests/integration/test_influx_store.py): in measurement names ``,`` and space are escaped; in tag
keys, tag values and field keys ``,``, ``=`` and space are escaped with a backslash; string field
values escape ``\\`` and ``"``. A backslash in a tag value is *not* portable: 1.x keeps ``\\\\``
as two backslashes and cannot store a tag value ending in a backslash or a backslash before ``,``,
``=`` or space, and a newline ends the line. So tag values go through :func:`encode_tag_value`
first, a reversible percent-encoding of ``%``, ``\\`` and control characters; ordinary symbols
(``BTCUSDT``) are unchanged, so Grafana sees them as they are.

Field types are fixed by the Python type: ``float`` -> ``1.0`` (``repr``, never ``1``), ``int`` ->
``1i``, ``bool`` -> ``true``/``false``, ``str`` -> quoted. Non-finite floats are omitted (InfluxDB
rejects NaN and infinity), so a reader sees a missing field, which it reads back as NaN.
"""

from __future__ import annotations

import math
import re
from typing import Iterable, Mapping, Union

FieldValue = Union[float, int, bool, str]


class LineProtocolError(ValueError):
    """A point cannot be written as line protocol (empty key, no fields, bad name, bad line)."""


_PCT_RE = re.compile(r"[%\\\x00-\x1f\x7f]")
_PCT_DECODE_RE = re.compile(r"%([0-9A-F]{2})")
_KEY_ESC = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_FIELD_KEY_ESC = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", '"': r'\"'})
_MEAS_ESC = str.maketrans({",": r"\,", " ": r"\ "})
_STR_ESC = str.maketrans({"\\": "\\\\", '"': '\\"'})
_FORBIDDEN_IN_NAME = re.compile(r"[\\\x00-\x1f\x7f]")


def encode_tag_value(value: str) -> str:
    """Percent-encode ``%``, backslash and control characters so any string survives every server.

    Raises :class:`LineProtocolError` for an empty value (InfluxDB drops empty tags).
    """
    if not value:
        raise LineProtocolError("empty tag value")
    return _PCT_RE.sub(lambda m: f"%{ord(m.group()):02X}", value)


def decode_tag_value(stored: str) -> str:
    """Inverse of :func:`encode_tag_value` (the value as InfluxDB returns it in queries)."""
    if "%" not in stored:
        return stored
    return _PCT_DECODE_RE.sub(lambda m: chr(int(m.group(1), 16)), stored)


def escape_key(key: str) -> str:
    """Escape a tag key or tag value (already encoded): ``,``, ``=`` and space."""
    if not key:
        raise LineProtocolError("empty key")
    if _FORBIDDEN_IN_NAME.search(key):
        raise LineProtocolError(f"backslash or control character in {key!r}")
    return key.translate(_KEY_ESC)


def escape_field_key(key: str) -> str:
    """Escape a field key: ``,``, ``=``, space and ``"`` (1.x unescapes ``\\"`` in field keys only)."""
    return escape_key(key).replace('"', '\\"')


def escape_measurement(name: str) -> str:
    """Escape a measurement name: ``,`` and space."""
    if not name or name.startswith("#"):
        raise LineProtocolError(f"bad measurement name {name!r}")
    if _FORBIDDEN_IN_NAME.search(name):
        raise LineProtocolError(f"backslash or control character in {name!r}")
    return name.translate(_MEAS_ESC)


def format_field_value(value: FieldValue) -> str | None:
    """One field value in its fixed type; None for a non-finite float (the field is left out)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return '"' + value.translate(_STR_ESC) + '"'
    raise LineProtocolError(f"unsupported field type {type(value).__name__}")


def format_line(
    measurement: str,
    tags: Mapping[str, str],
    fields: Iterable[tuple[str, FieldValue]],
    time: int,
) -> str:
    """One point. Tag values are encoded (:func:`encode_tag_value`) and escaped here; tags sorted."""
    head = escape_measurement(measurement)
    for k in sorted(tags):
        head += "," + escape_key(k) + "=" + escape_key(encode_tag_value(tags[k]))
    parts = []
    for k, v in fields:
        text = format_field_value(v)
        if text is not None:
            parts.append(escape_field_key(k) + "=" + text)
    if not parts:
        raise LineProtocolError(f"point in {measurement!r} has no finite field")
    return f"{head} {','.join(parts)} {int(time)}"


# ---------------------------------------------------------------------- reference parser


def _split_unescaped(text: str, sep: str) -> list[str]:
    out, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if ch == sep:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _split_first_equals(text: str) -> tuple[str, str]:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "=":
            return text[:i], text[i + 1 :]
        i += 1
    raise LineProtocolError(f"expected key=value, got {text[:80]!r}")


def _unescape(text: str) -> str:
    return re.sub(r"\\([,= \"])", r"\1", text)


def _parse_field_value(raw: str) -> FieldValue:
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"'):
            raise LineProtocolError(f"unterminated string {raw!r}")
        return re.sub(r'\\([\\"])', r"\1", raw[1:-1])
    if raw in ("true", "false"):
        return raw == "true"
    if raw.endswith("i"):
        return int(raw[:-1])
    return float(raw)


def _split_fields(text: str) -> list[str]:
    """Split the field set on commas outside quoted strings."""
    out, start, i, quoted = [], 0, 0, False
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append(text[start:i])
            start = i + 1
        i += 1
    out.append(text[start:])
    return out


def _split_sections(line: str) -> tuple[str, str, str]:
    """Series key, field set and timestamp: split on the spaces outside escapes and strings."""
    cuts, i, quoted = [], 0, False
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            i += 2
            continue
        if ch == '"' and cuts:
            quoted = not quoted
        elif ch == " " and not quoted:
            cuts.append(i)
        i += 1
    if len(cuts) != 2:
        raise LineProtocolError(f"expected 3 sections in {line[:120]!r}")
    return line[: cuts[0]], line[cuts[0] + 1 : cuts[1]], line[cuts[1] + 1 :]


def parse_line(line: str) -> tuple[str, dict[str, str], dict[str, FieldValue], int]:
    """Parse a line written by :func:`format_line` back to (measurement, decoded tags, fields, time).

    Used to read spilled points back and by the property tests; not a general-purpose parser
    (it expects the timestamp this module always writes).
    """
    key, field_set, ts = _split_sections(line)
    key_parts = _split_unescaped(key, ",")
    measurement = _unescape(key_parts[0])
    tags: dict[str, str] = {}
    for part in key_parts[1:]:
        k, v = _split_first_equals(part)
        tags[_unescape(k)] = decode_tag_value(_unescape(v))
    fields: dict[str, FieldValue] = {}
    for part in _split_fields(field_set):
        k, v = _split_first_equals(part)
        fields[_unescape(k)] = _parse_field_value(v)
    return measurement, tags, fields, int(ts)
