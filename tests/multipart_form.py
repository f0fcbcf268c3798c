"""A strict ``multipart/form-data`` reader for the local receivers (RFC 7578, via the email parser)."""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytes


class FormError(ValueError):
    """The body is not a well-formed multipart form."""


def parse_form(content_type: str, body: bytes) -> list[Part]:
    """Every part of a multipart/form-data body, in order; raises FormError on anything malformed."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise FormError("expected multipart/form-data with a boundary")
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise FormError("no parts")
    parts = []
    for p in msg.iter_parts():
        disp = p.get("Content-Disposition", "")
        if not str(disp).lower().startswith("form-data"):
            raise FormError("a part without Content-Disposition: form-data")
        name = p.get_param("name", header="content-disposition")
        if not name:
            raise FormError("a part without a name")
        data = p.get_payload(decode=True) or b""
        parts.append(Part(str(name), p.get_filename(), p.get_content_type(), data))
    return parts
