"""Every CSV and XLSX file the tool writes, written one way: cells that a spreadsheet would run
as a formula are neutralised, and files are published atomically.

Why one helper: a direction name, a role or a display name comes from an HR file or from mail
that anyone can send; a cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run by Excel or LibreOffice as a formula (OWASP "CSV Injection"). Such a text cell
is prefixed with an apostrophe, which spreadsheets show as text. Numbers are left alone
(``-3`` stays a number).
"""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would run, made inert; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if isinstance(value, list | tuple):
        return type(value)(neutralise(v) for v in value)
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names are inert."""
    from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

    out = df.copy()
    for col in out.columns:
        if not (is_numeric_dtype(out[col]) or is_bool_dtype(out[col])
                or is_datetime64_any_dtype(out[col])):
            out[col] = out[col].astype(object).map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def _publish(path: Path, data: bytes, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def csv_bytes(df: pd.DataFrame, *, french: bool = False, float_format: str | None = None
              ) -> bytes:
    """CSV text of ``df`` with inert cells; ``french``: as French Excel reads it (``;``,
    decimal comma, UTF-8 with BOM); otherwise plain (``,``, UTF-8). Lines end with CRLF, as
    RFC 4180 and Excel expect, so that a cell holding a line break is quoted."""
    text = neutralise_frame(df).to_csv(index=False, sep=";" if french else ",",
                                       decimal="," if french else ".",
                                       float_format=float_format, lineterminator="\r\n")
    return text.encode("utf-8-sig" if french else "utf-8")


def write_csv(df: pd.DataFrame, path: Path, *, french: bool = False,
              float_format: str | None = None, mode: int = 0o644) -> Path:
    """Write ``df`` as CSV (see :func:`csv_bytes`), atomically."""
    return _publish(Path(path), csv_bytes(df, french=french, float_format=float_format), mode)


def xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """An XLSX workbook, one sheet per table: inert cells, frozen header row, column widths
    fitted to the content."""
    import pandas as pd
    from openpyxl.utils import get_column_letter

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, df in sheets.items():
            safe = neutralise_frame(df)
            safe.to_excel(xw, sheet_name=name[:31], index=False)
            ws = xw.sheets[name[:31]]
            ws.freeze_panes = "A2"
            for i, col in enumerate(safe.columns, start=1):
                cells = [str(col), *(str(v) for v in safe[col].head(500))]
                ws.column_dimensions[get_column_letter(i)].width = min(
                    60, max(8, max(len(c) for c in cells) + 2))
    return buf.getvalue()


def write_xlsx(sheets: dict[str, pd.DataFrame], path: Path, *, mode: int = 0o644) -> Path:
    """Write the workbook of :func:`xlsx_bytes`, atomically."""
    return _publish(Path(path), xlsx_bytes(sheets), mode)
