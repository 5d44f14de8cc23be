"""QR codes as the enrolment page shows them: a PNG whose contents are the otpauth:// or
oktaverify:// URI the phone's camera reads.

qrcode (and the Pillow it draws with) is imported at the first QR code drawn, not at the org's
start (~45 ms of CPU before the health check, bench/README.md)."""
from __future__ import annotations

import io


def png(contents: str) -> bytes:
    import qrcode

    img = qrcode.make(contents, box_size=6, border=2)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
