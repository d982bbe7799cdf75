"""Every CSV and XLSX file the tool writes, written one way: cells that a spreadsheet would run
as a formula are neutralised, and files are published atomically.

Why one helper: a direction name, a role or a display name comes from an HR file or from mail
that anyone can send; a cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run by Excel or LibreOffice as a formula (OWASP "CSV Injection"). Such a text cell
is prefixed with an apostrophe, which spreadsheets show as text. Numbers are left alone
(``-3`` stays a number).

Why French Excel's dialect by default: a French study's readers double-click the CSV files;
French Excel splits columns on ``;``, reads decimal commas and needs a UTF-8 byte-order mark
(without it "Zoé" shows as "ZoÃ©"). ``[report] csv = "plain"`` in study.toml (or a
command's ``--plain-csv``) writes plain CSV instead, for scripts; :func:`read_csv` reads
both. Every published table also comes as XLSX (:func:`write_table`): headers in the
reader's language, percentages and decimals as number formats, widths, a frozen header.
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


def read_csv(path: Path | str, **kw: Any) -> pd.DataFrame:
    """A CSV this module wrote, in either dialect: a byte-order mark means French Excel's
    (``;``, decimal comma), else plain."""
    import pandas as pd

    with open(path, "rb") as f:
        french = f.read(3) == b"\xef\xbb\xbf"
    if french:
        return pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig", **kw)
    return pd.read_csv(path, **kw)


CSV_DIALECTS = ("excel-fr", "plain")


def french_csv(study: Any, plain: bool | None = None) -> bool:
    """Whether ``study`` writes its CSV files in French Excel's dialect: ``[report] csv``
    ("excel-fr" or "plain"), by default "excel-fr" when ``[report] lang`` is French;
    ``plain=True`` (a command's ``--plain-csv``) forces plain CSV."""
    from mailstudy.errors import ConfigError

    if plain:
        return False
    rep = study.section("report")
    dialect = rep.get("csv") or ("excel-fr" if rep.get("lang", "fr") == "fr" else "plain")
    if dialect not in CSV_DIALECTS:
        raise ConfigError("[report] csv must be one of {csv_dialects}, "
                          "not {dialect!r}", csv_dialects=", ".join(CSV_DIALECTS), dialect=dialect)
    return dialect == "excel-fr"


#: Number formats of XLSX cells (openpyxl's codes; Excel shows them with the reader's
#: decimal mark, "35,0 %" in French).
PERCENT_FORMAT = "0.0%"
DECIMAL_FORMAT = "#,##0.0##"
INTEGER_FORMAT = "#,##0"


def _is_share(column: str) -> bool:
    base = column.rsplit("_", 1)[0] if column.endswith(("_median", "_q1", "_q3", "_iqr",
                                                        "_mean")) else column
    return base.endswith(("_share", "_rate")) or column.endswith("_share")


def _format_sheet(ws: Any, df: pd.DataFrame, percent: set[str]) -> None:
    from openpyxl.utils import get_column_letter
    from pandas.api.types import is_float_dtype, is_integer_dtype

    ws.freeze_panes = "A2"
    for i, col in enumerate(df.columns, start=1):
        values = df[col].dropna()
        whole = is_integer_dtype(df[col]) or (
            is_float_dtype(df[col]) and bool((values == values.round()).all()))
        fmt = (PERCENT_FORMAT if col in percent else INTEGER_FORMAT if whole
               else DECIMAL_FORMAT if is_float_dtype(df[col]) else None)
        if fmt:
            for cell in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell[0].number_format = fmt
        cells = [str(col), *(("0,000" if fmt else str(v)) for v in df[col].head(500))]
        ws.column_dimensions[get_column_letter(i)].width = min(
            60, max(8, max(len(c) for c in cells) + 2))


def xlsx_bytes(sheets: dict[str, pd.DataFrame], *,
               percent: dict[str, set[str]] | None = None) -> bytes:
    """An XLSX workbook, one sheet per table: inert cells, frozen header row, column widths
    fitted to the content, number formats (``percent[sheet]`` names the columns holding
    0-1 shares, shown as percentages)."""
    import pandas as pd

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, df in sheets.items():
            safe = neutralise_frame(df)
            safe.to_excel(xw, sheet_name=name[:31], index=False)
            _format_sheet(xw.sheets[name[:31]], safe, (percent or {}).get(name, set()))
    return buf.getvalue()


def write_xlsx(sheets: dict[str, pd.DataFrame], path: Path, *, mode: int = 0o644,
               percent: dict[str, set[str]] | None = None) -> Path:
    """Write the workbook of :func:`xlsx_bytes`, atomically."""
    return _publish(Path(path), xlsx_bytes(sheets, percent=percent), mode)


_STAT_SUFFIX = {"median": "median", "q1": "1st quartile", "q3": "3rd quartile",
                "iqr": "interquartile range", "mean": "mean"}
#: Value columns whose codes have a reader's name (msgctxt of the catalogue).
CODED_COLUMNS = {"habit": "habit", "work_pattern": "work_pattern"}


def header(column: str, lang: str) -> str:
    """A column's header for readers: "Envoyés / jour ouvré (médiane)", "Direction"..."""
    from mailstudy.i18n import catalogue, label, norm_lang, tr

    cat = catalogue(norm_lang(lang))
    if ("header", column) in cat:
        return cat[("header", column)]
    base, _, stat = column.rpartition("_")
    if stat in _STAT_SUFFIX and ("feature", base) in cat:
        return f"{label(lang, 'feature', base)} ({tr(lang, _STAT_SUFFIX[stat])})"
    if ("feature", column) in cat:
        return label(lang, "feature", column)
    return column.replace("_", " ").capitalize()


def readable(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``df`` as people read it: headers and coded values (habits, working patterns) in
    ``lang``; the numbers untouched."""
    from mailstudy.i18n import label

    out = df.copy()
    for col, kind in CODED_COLUMNS.items():
        if col in out:
            out[col] = out[col].map(lambda v, k=kind: v if v is None or v != v
                                    else label(lang, k, v))
    out.columns = [header(str(c), lang) for c in df.columns]
    return out


def write_table(study: Any, df: pd.DataFrame, path: Path, *, plain: bool | None = None,
                float_format: str | None = None, lang: str | None = None,
                sheet: str | None = None) -> list[Path]:
    """A published table as CSV in the study's dialect (:func:`french_csv`), column names
    unchanged (scripts read them), and as ``<same name>.xlsx`` for people: headers and
    codes in the report's language, shares as percentages, widths, frozen header."""
    lang = lang or study.section("report").get("lang", "fr")
    path = Path(path)
    csv = write_csv(df, path, french=french_csv(study, plain), float_format=float_format)
    shown = readable(df, lang)
    percent = {header(str(c), lang) for c in df.columns if _is_share(str(c))}
    name = (sheet or path.stem)[:31]
    xlsx = write_xlsx({name: shown}, path.with_suffix(".xlsx"), percent={name: percent})
    return [csv, xlsx]
