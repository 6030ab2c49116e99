"""Excel workbooks: writing a ledger (one typed sheet with a frozen, filterable header) and reading an uploaded
``.xlsx`` (size, type and damage checks; header mapping; cells as text and dates) for the importers."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from core.clock import CHINA_TZ
from domain.errors import DubanError, ValidationFailed

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_IMPORT_ROWS = 5000
MAX_IMPORT_COLUMNS = 60
DATE_FORMAT = 'yyyy"年"m"月"d"日"'
DATETIME_FORMAT = 'yyyy"年"m"月"d"日" hh:mm'


# ---- the generic writer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a ledger: its Chinese header, the row key it shows and how its cells are typed."""

    header: str
    key: str
    kind: str = "text"  # text | int | date | datetime
    width: int | None = None


def _display_width(value: Any) -> int:
    text = value if isinstance(value, str) else str(value)
    longest = max((len(line) + sum(1 for ch in line if ord(ch) > 0x2E7F) for line in text.splitlines()), default=0)
    return longest


def _sheet_title(title: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", "_", title)[:31] or "台账"


def _cell_value(kind: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    if kind == "datetime" and isinstance(value, dt.datetime):
        # Excel has no time zones: the county reads China time.
        return value.astimezone(CHINA_TZ).replace(tzinfo=None) if value.tzinfo else value
    if kind == "date" and isinstance(value, dt.datetime):
        return value.astimezone(CHINA_TZ).date() if value.tzinfo else value.date()
    if kind == "date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.date | int | float) and not isinstance(value, bool):
        return value
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def write_workbook(title: str, columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """One sheet: a bold, frozen, filterable header row of Chinese column names, then one typed row per item.

    Dates are real Excel dates shown as yyyy年m月d日; text is always stored as text, so a cell that starts
    with “=” is never run as a formula.
    """
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _sheet_title(title)
    book.properties.title = title
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDE6F0")
    widths = [_display_width(c.header) for c in columns]
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index, value=column.header)
        cell.font = header_font
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center")
    count = 0
    for count, row in enumerate(rows, start=1):
        for index, column in enumerate(columns, start=1):
            value = _cell_value(column.kind, row.get(column.key))
            cell = sheet.cell(row=count + 1, column=index, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
                if len(value) > 40 or "\n" in value:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
            elif isinstance(value, dt.datetime):
                cell.number_format = DATETIME_FORMAT
            elif isinstance(value, dt.date):
                cell.number_format = DATE_FORMAT
            if value is not None and count <= 500:  # a sample is enough to size the columns
                widths[index - 1] = max(widths[index - 1], _display_width(value))
    for index, column in enumerate(columns, start=1):
        fixed = {"date": 16, "datetime": 20}.get(column.kind)
        width = column.width or fixed or min(max(widths[index - 1] + 2, 8), 60)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    if columns:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ---- reading an uploaded workbook ---------------------------------------------------------------------------


def file_error(message: str, status: int) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"row": 0, "column": "文件", "message": message}], status=status)


def read_xlsx(content: bytes, filename: str | None = None) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """The header row and the non-empty data rows (with their Excel row numbers) of the first sheet.

    Oversized → 413; not an .xlsx (an old .xls, a CSV, anything not a zip) → 415; a damaged workbook → 422.
    """
    if len(content) > MAX_UPLOAD_BYTES:
        raise file_error(f"文件不能超过 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", 413)
    if not content:
        raise file_error("上传的是空文件", 422)
    name = (filename or "").lower()
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise file_error("这是旧版 Excel（.xls）文件，请在 Excel 中“另存为” .xlsx 后再上传", 415)
    if not content.startswith(b"PK") or (name and not name.endswith((".xlsx", ".xlsm"))):
        raise file_error("只接受 Excel 工作簿（.xlsx）文件", 415)
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise file_error("文件已损坏或不是有效的 Excel 工作簿（.xlsx）", 422) from None
    if unpacked > MAX_UNPACKED_BYTES:  # a small file that unpacks to gigabytes (a zip bomb)
        raise file_error(f"工作簿解压后超过 {MAX_UNPACKED_BYTES // (1024 * 1024)} MB，请拆分后分批导入", 413)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
        raise file_error(f"文件已损坏或不是有效的 Excel 工作簿（.xlsx）：{type(exc).__name__}", 422) from None
    try:
        if not book.worksheets:
            raise file_error("工作簿中没有工作表", 422)
        sheet = book.worksheets[0]
        rows: list[tuple[int, list[Any]]] = []
        header: list[str] | None = None
        for number, values in enumerate(sheet.iter_rows(max_col=MAX_IMPORT_COLUMNS, values_only=True), start=1):
            cells = list(values)
            if header is None:
                if all(v is None or str(v).strip() == "" for v in cells):
                    raise file_error("第1行应为表头（列名），但它是空的", 422)
                header = ["" if v is None else str(v).strip() for v in cells]
                continue
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
                continue
            if len(rows) >= MAX_IMPORT_ROWS:
                raise file_error(f"一次最多导入 {MAX_IMPORT_ROWS} 行，请拆分后分批导入", 413)
            rows.append((number, cells))
    except DubanError:
        raise
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise file_error(f"文件已损坏或不是有效的 Excel 工作簿（.xlsx）：{type(exc).__name__}", 422) from None
    finally:
        book.close()
    if header is None:
        raise file_error("工作表是空的：第1行应为表头，之后每行一条记录", 422)
    while header and header[-1] == "":
        header.pop()
    return header, rows



def cell_text(value: Any) -> str | None:
    """A cell as text: numbers without a spurious “.0”, blanks as None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date() if value.time() == dt.time() else value
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"), re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)


def cell_date(value: Any) -> str:
    """A date cell (a real Excel date, or text such as 2026-06-30 / 2026年6月30日) as YYYY-MM-DD."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        for pattern in DATE_PATTERNS:
            match = pattern.match(text)
            if match:
                try:
                    return dt.date(*(int(g) for g in match.groups())).isoformat()
                except ValueError:
                    raise ValueError(f"“{text}”不是有效的日期") from None
    raise ValueError("应为日期，如 2026-06-30 或 2026年6月30日")



def normalise(name: str) -> str:
    return re.sub(r"[\s（）()]", "", name).lower()


def map_header(header: list[str], known: Mapping[str, str], what: str,
                ignore_unknown: bool) -> tuple[dict[int, str], dict[str, str], list[dict[str, Any]], list[str]]:
    """Column index → field key; field key → the header as written; errors; ignored headers."""
    by_index: dict[int, str] = {}
    written: dict[str, str] = {}
    errors: list[dict[str, Any]] = []
    ignored: list[str] = []
    for index, text in enumerate(header):
        if not text:
            continue
        key = known.get(normalise(text))
        if key is None:
            if ignore_unknown:
                ignored.append(text)
            else:
                errors.append({"row": 1, "column": text, "message": f"不认识的列；{what}可用的列：{'、'.join(dict.fromkeys(known.values()))}"})
            continue
        if key in written:
            errors.append({"row": 1, "column": text, "message": f"与“{written[key]}”是同一列，重复了"})
            continue
        by_index[index] = key
        written[key] = text
    return by_index, written, errors, ignored

