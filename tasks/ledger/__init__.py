"""Ledgers (台账): every list as an Excel workbook in the county's usual columns, and the org hierarchy and
the 一村一策 plans imported from Excel, every row checked before anything is written.

* :mod:`tasks.ledger.excel` — writing a workbook, reading an uploaded one;
* :mod:`tasks.ledger.registry` — ``Ledger``, ``LedgerFilters``, ``register``, the export;
* :mod:`tasks.ledger.rows` — the registered ledgers and their row queries;
* :mod:`tasks.ledger.imports` — the org hierarchy and 一村一策 plan importers;
* :mod:`tasks.ledger.people` — the cadre and leader importers;
* :mod:`tasks.ledger.assessments` — the year-end assessment (年度考核) of each township;
* :mod:`tasks.ledger.work_records` — work diaries, leaders' visits and quarterly reports (003).

A new ledger such as accountability cases is one more ``register(Ledger(...))``.
"""

from tasks.ledger.excel import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    MAX_IMPORT_COLUMNS,
    MAX_IMPORT_ROWS,
    MAX_UNPACKED_BYTES,
    MAX_UPLOAD_BYTES,
    XLSX_MEDIA_TYPE,
    Column,
    read_xlsx,
    write_workbook,
)
from tasks.ledger.imports import import_org_units_xlsx, import_rectification_plans_xlsx
from tasks.ledger.people import import_people_xlsx
from tasks.ledger.registry import (
    LEDGERS,
    Ledger,
    LedgerFilters,
    Rows,
    export_ledger,
    filename_for,
    get_ledger,
    ledger_rows,
    register,
    visible_ledgers,
)
from tasks.ledger.rows import (
    PLAN_COLUMNS,
    PLAN_FORM,
    campaign_rows,
    case_rows,
    escalation_rows,
    obligation_rows,
    rectification_rows,
)

# isort: split
# Registered after the ledgers of rows.py, so that it comes last on the page and in the CLI.
from tasks.ledger.assessments import assessment_rows
from tasks.ledger.stationing import stationing_rows
from tasks.ledger.stationing_assessment import acceptance_rows, cadre_assessment_rows, unit_assessment_rows
from tasks.ledger.work_records import diary_rows, report_rows, visit_rows

# isort: split
from tasks.ledger.desk import desk_rows  # 交办事项: the 督办 desk, registered last

__all__ = [
    "DATETIME_FORMAT",
    "DATE_FORMAT",
    "LEDGERS",
    "MAX_IMPORT_COLUMNS",
    "MAX_IMPORT_ROWS",
    "MAX_UNPACKED_BYTES",
    "MAX_UPLOAD_BYTES",
    "PLAN_COLUMNS",
    "PLAN_FORM",
    "XLSX_MEDIA_TYPE",
    "acceptance_rows",
    "assessment_rows",
    "cadre_assessment_rows",
    "unit_assessment_rows",
    "diary_rows",
    "report_rows",
    "visit_rows",
    "desk_rows",
    "Column",
    "Ledger",
    "LedgerFilters",
    "Rows",
    "campaign_rows",
    "case_rows",
    "escalation_rows",
    "export_ledger",
    "filename_for",
    "get_ledger",
    "import_org_units_xlsx",
    "import_people_xlsx",
    "import_rectification_plans_xlsx",
    "ledger_rows",
    "obligation_rows",
    "read_xlsx",
    "rectification_rows",
    "stationing_rows",
    "register",
    "visible_ledgers",
    "write_workbook",
]
