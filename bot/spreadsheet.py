"""Rows for the workbooks staff download (/archive, the monthly report)."""
from __future__ import annotations

import re
from collections.abc import Sequence

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

SHEET_NAME_MAX = 31  # Excel's limit
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sheet_title(text: str) -> str:
    """A translated tab name Excel accepts."""
    return _SHEET_NAME_FORBIDDEN.sub(" ", text)[:SHEET_NAME_MAX]


def append_row(sheet, row: Sequence[object]) -> None:
    """Append one row keeping text typed by people as text: the control characters Excel refuses
    are dropped, and a name or region starting with "=" stays a string, never a formula."""
    sheet.append([ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value for value in row])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str) and cell.value.startswith("="):
            cell.data_type = "s"
