"""QR codes as PNG images (placards, printed statements)."""

from __future__ import annotations

import base64
import io
from typing import Any

import qrcode.constants
from qrcode.main import QRCode


def qr_png(text: str, *, box: int = 10) -> bytes:
    """A PNG of the QR code for ``text`` (error correction M, quiet zone 4)."""
    code: QRCode[Any] = QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box, border=4
    )
    code.add_data(text)  # type: ignore[no-untyped-call]
    code.make(fit=True)  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    code.make_image().save(out)
    return out.getvalue()


def qr_data_uri(text: str, *, box: int = 6) -> str:
    """The same as a ``data:`` URI, to put in a page without another request."""
    return "data:image/png;base64," + base64.b64encode(qr_png(text, box=box)).decode()
