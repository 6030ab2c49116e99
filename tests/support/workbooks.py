"""Excel workbooks for the ledger tests, made in memory."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook


def xlsx(rows: list[list[Any]]) -> bytes:
    """A workbook whose first sheet holds ``rows`` (the first row is the header, as a ledger's is)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
