"""The phone's camera: reads the text of the QR code in an image, as Okta Verify's scanner does."""
from __future__ import annotations

import io

import zxingcpp
from PIL import Image, UnidentifiedImageError


def read_qr(image_bytes: bytes) -> str:
    try:
        image = Image.open(io.BytesIO(image_bytes))
        image.load()
    except (UnidentifiedImageError, OSError):
        raise ValueError("the camera could not read that image") from None
    codes = [c for c in zxingcpp.read_barcodes(image) if c.format == zxingcpp.BarcodeFormat.QRCode]
    if not codes:
        raise ValueError("no QR code found in the image")
    return codes[0].text
