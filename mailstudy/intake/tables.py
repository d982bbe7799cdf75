"""Reading the tables people hand in (CSV in UTF-8 or Windows-1252, comma, semicolon or tab;
XLSX): one reader for the directory, the volunteers and the availability files.

Why one reader: the files come from HR and from workshop organisers, in whatever Excel saved;
they must be read the same way, and their problems reported by line number (the line a user
sees in a spreadsheet), never by content (a cell may be a person's data).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from mailstudy.errors import InputError


class TableFileError(InputError):
    """A file handed in cannot be read as a table; the message says what to fix."""


def _decode(raw: bytes) -> str:
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")  # never fails; cp1252 leaves 5 bytes undefined


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, cells) of a CSV or XLSX file, all cells as strings.

    Line numbers are those a user sees in a spreadsheet (header = line 1).
    """
    path = Path(path)
    if not path.exists():
        raise TableFileError("the file does not exist")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if path.suffix.lower() == ".xls":
        raise TableFileError("old .xls files are not supported: save as .xlsx or .csv")
    text = _decode(path.read_bytes())
    # The delimiter is read from the header line, which holds no free text: the sniffer can
    # be fooled by commas inside cells ("juridique, expert") of a semicolon file.
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = {d: first.count(d) for d in (";", ",", "\t")}
    delim = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    dialect: Any = type("table_csv", (csv.excel,), {"delimiter": delim})
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    for rec in reader:
        line = reader.line_num
        if header is None:
            if any(c.strip() for c in rec):
                header = rec
            continue
        if any(c.strip() for c in rec):
            rows.append((line, rec))
    if header is None:
        raise TableFileError("the file is empty")
    return header, rows


def _read_xlsx(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds
        raise TableFileError("cannot read the workbook ({kind})", kind=type(exc).__name__) from exc
    ws = wb.worksheets[0]
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for i, rec in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = ["" if v is None else _cell_str(v) for v in rec]
        if header is None:
            if any(c.strip() for c in cells):
                header = cells
            continue
        if any(c.strip() for c in cells):
            rows.append((i, cells))
    wb.close()
    if header is None:
        raise TableFileError("the workbook is empty")
    return header, rows


def _cell_str(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def header_hint(header: list[str]) -> str:
    """What may be said of a header line: never its cells, which may be a person's data when
    the header row is missing."""
    n = sum(1 for h in header if h)
    if any("@" in h for h in header):
        return f"{n} columns; the first line holds an address: is the header row missing?"
    return f"{n} columns"
