"""The phone's camera: reads the text of the QR code in an image, as Okta Verify's scanner does.

Pillow and zxing-cpp are imported at the first scan, not at start: the phone answers its health
check ~15 ms of CPU sooner, and a phone that never scans never holds them (bench/README.md)."""
from __future__ import annotations

import io


def read_qr(image_bytes: bytes) -> str:
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(image_bytes))
        image.load()
    except (UnidentifiedImageError, OSError):
        raise ValueError("the camera could not read that image") from None
    codes = [c for c in zxingcpp.read_barcodes(image) if c.format == zxingcpp.BarcodeFormat.QRCode]
    if not codes:
        raise ValueError("no QR code found in the image")
    return codes[0].text
