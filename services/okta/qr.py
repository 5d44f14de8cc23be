"""QR codes as the enrolment page shows them: a PNG whose contents are the otpauth:// or
oktaverify:// URI the phone's camera reads."""
from __future__ import annotations

import io

import qrcode


def png(contents: str) -> bytes:
    img = qrcode.make(contents, box_size=6, border=2)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
