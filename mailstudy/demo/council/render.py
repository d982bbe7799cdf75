"""Message bytes: RFC 5322 headers (RFC 2047 words), MIME bodies and attachments."""

from __future__ import annotations

import base64
import datetime as dt
import html
import quopri
import random
from email import quoprimime
from email.utils import encode_rfc2231, format_datetime, formataddr

from mailstudy.demo.council.calendar import Calendar
from mailstudy.demo.council.records import Message
from mailstudy.demo.council.tables import ATTACHMENTS, CLIENTS, HOST

# ---------------------------------------------------------------- rendering

def _hdr(value: str) -> str:
    """RFC 2047 Q-encoded words of at most 16 characters, folded; linear time, unlike
    ``email.header.Header.encode`` (quadratic in the length of the text)."""
    if value.isascii():
        return value
    words = [quoprimime.header_encode(value[i:i + 16].encode("utf-8"), "utf-8")
             for i in range(0, len(value), 16)]
    return "\n ".join(words)


def _addr(p: tuple[str, str, int]) -> str:
    return formataddr((p[0], p[1]), charset="utf-8")


def _addrs(people: list[tuple[str, str, int]]) -> str:
    return ",\n ".join(_addr(p) for p in people)


def _qp(text: str) -> bytes:
    return quopri.encodestring(text.encode("utf-8"))


class Renderer:
    def __init__(self, rng: random.Random, cal: Calendar, attachment_kb: int) -> None:
        self.rng, self.cal = rng, cal
        self.pool = rng.randbytes(max(1, attachment_kb) * 1024 * 4)
        self.kb = max(1, attachment_kb)
        self.n = 0

    def boundary(self) -> str:
        self.n += 1
        return f"----=_NextPart_{self.n:06X}_{self.rng.getrandbits(32):08X}"

    def text_part(self, msg: Message) -> bytes:
        plain = (b"Content-Type: text/plain; charset=\"utf-8\"\n"
                 b"Content-Transfer-Encoding: quoted-printable\n\n" + _qp(msg.body))
        if not msg.html:
            return plain
        paras = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>"
                        for p in msg.body.split("\n\n"))
        hpart = (b"Content-Type: text/html; charset=\"utf-8\"\n"
                 b"Content-Transfer-Encoding: quoted-printable\n\n"
                 + _qp(f"<html><head><meta charset=\"utf-8\"></head><body>{paras}</body></html>"))
        bd = self.boundary()
        return (f"Content-Type: multipart/alternative;\n boundary=\"{bd}\"\n\n"
                f"--{bd}\n").encode() + plain + f"\n--{bd}\n".encode() + hpart + \
            f"\n--{bd}--\n".encode()

    def mime(self, msg: Message) -> bytes:
        """Content headers and body, shared by every copy of the message."""
        text = self.text_part(msg)
        if not msg.attachments:
            return text
        bd = self.boundary()
        out = [f"Content-Type: multipart/mixed;\n boundary=\"{bd}\"\n\n"
               "Ceci est un message en plusieurs parties au format MIME.\n\n"
               f"--{bd}\n".encode(), text]
        for k in msg.attachments:
            name, ctype, magic = ATTACHMENTS[k]
            size = int(self.kb * 1024 * self.rng.uniform(0.5, 1.5))
            off = self.rng.randrange(len(self.pool) - size) if len(self.pool) > size else 0
            data = magic + self.pool[off:off + size]
            enc = encode_rfc2231(name, "utf-8")
            out.append(f"\n--{bd}\nContent-Type: {ctype};\n name*={enc}\n"
                       f"Content-Disposition: attachment;\n filename*={enc}\n"
                       "Content-Transfer-Encoding: base64\n\n".encode())
            out.append(base64.encodebytes(data))
        out.append(f"\n--{bd}--\n".encode())
        return b"".join(out)

    def headers(self, msg: Message, *, with_bcc: bool) -> str:
        lines = [f"From: {_addr(msg.sender)}"]
        if msg.to:
            lines.append(f"To: {_addrs(msg.to)}")
        if msg.cc:
            lines.append(f"Cc: {_addrs(msg.cc)}")
        if with_bcc and msg.bcc:
            lines.append(f"Bcc: {_addrs(msg.bcc)}")
        lines.append(f"Subject: {_hdr(msg.subject)}")
        lines.append(f"Date: {format_datetime(self.cal.aware(msg.t))}")
        lines.append(f"Message-ID: {msg.msgid}")
        if msg.in_reply_to:
            lines.append(f"In-Reply-To: {msg.in_reply_to}")
        if msg.references:
            lines.append("References: " + "\n ".join(msg.references))
        if msg.client:
            name, value = CLIENTS[msg.client][:2]
            lines.append(f"{name}: {value}")
        for k, v in msg.extra:
            lines.append(f"{k}: {_hdr(v)}")
        lines.append("Content-Language: fr-FR")
        lines.append("MIME-Version: 1.0")
        return "\n".join(lines) + "\n"

    def received(self, msg: Message, domain: str) -> str:
        when = self.cal.aware(msg.t) + dt.timedelta(seconds=2)
        return (f"Received: from mx.{domain} (mx.{domain} [10.12.0.25])\n by {HOST}.{domain} "
                f"with LMTP; {format_datetime(when)}\n")


