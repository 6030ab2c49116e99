"""Excel workbooks for the ledger tests, made in memory."""

from __future__ import annotations

import io
from typing import Any

import httpx
from openpyxl import Workbook, load_workbook

from tasks import ledger


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


XLSX = ledger.XLSX_MEDIA_TYPE


def sheet_rows(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, [c.value for c in row], strict=True)) for row in sheet.iter_rows(min_row=2)]
