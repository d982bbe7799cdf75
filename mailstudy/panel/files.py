"""Respondents and categories files (Sortition Foundation formats), CSV or XLSX, French or
English headers, into tables the lottery engine reads."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mailstudy.errors import InputError
from mailstudy.text import fold_words

#: header words (folded: no case, no accents) -> the column they name
ID_HEADERS = ("id", "person", "personne", "identifiant", "nationbuilder_id", "respondent_id",
              "pseudonyme", "pseudonym", "numero")
CATEGORY_HEADERS = {
    "feature": ("feature", "category", "categorie", "critere", "caracteristique", "variable"),
    "value": ("value", "valeur", "modalite", "name"),
    "min": ("min", "minimum", "mini"),
    "max": ("max", "maximum", "maxi"),
}


class PanelInputError(InputError):
    """A respondents or categories file cannot be used; the message names the file and line."""


#: separators a spreadsheet's CSV export may use, in order of preference on a tie
SEPARATORS = (",", ";", "\t", "|")


def read_table(path: Path | str) -> pd.DataFrame:
    """A CSV (comma, semicolon, tab or bar; UTF-8 or Windows-1252) or .xlsx file, every cell a
    string. Why so lenient: pools come from spreadsheets exported by hand. Why so strict on
    the rest: an empty, binary or many-sheet file gets one clear error, never a guess."""
    path = Path(path)
    if not path.is_file():
        raise PanelInputError("{name}: no such file", name=path.name)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise PanelInputError("{name}: not a text file (save it as CSV or .xlsx)", name=path.name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            raise PanelInputError("{name}: neither UTF-8 nor Windows-1252 text "
                                  "(save it as CSV UTF-8 or .xlsx)", name=path.name) from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise PanelInputError("{name}: the file is empty", name=path.name)
    first = lines[0]
    sep = max(SEPARATORS, key=lambda s: (first.count(s), -SEPARATORS.index(s)))
    from io import StringIO

    try:
        return pd.read_csv(StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                           skip_blank_lines=True)
    except pd.errors.ParserError:
        raise PanelInputError("{name}: not a readable CSV table (rows of unequal "
                              "length or unbalanced quotes)", name=path.name) from None


def _read_xlsx(path: Path) -> pd.DataFrame:
    """The one sheet of a workbook that holds data; several such sheets are an error (which
    one is the pool is the user's call, not ours)."""
    try:
        sheets = pd.read_excel(path, dtype=str, sheet_name=None)
    except Exception:  # noqa: BLE001 - openpyxl/zipfile raise many types for a broken file
        raise PanelInputError("{name}: not a readable .xlsx workbook", name=path.name) from None
    filled = [df for df in sheets.values() if len(df.columns) or len(df)]
    if not filled:
        raise PanelInputError("{name}: the workbook is empty", name=path.name)
    if len(filled) > 1:
        raise PanelInputError("{name}: {n_filled} sheets hold data; keep only the "
                              "table to read (one sheet) or export it as CSV",
                              name=path.name, n_filled=len(filled))
    return filled[0].fillna("")


def _find(columns: Sequence[str], words: Sequence[str]) -> str | None:
    folded = {fold_words(str(c)).replace(" ", "_"): c for c in columns}
    for w in words:
        if w in folded:
            return str(folded[w])
    return None


def categories_table(raw: pd.DataFrame, name: str = "categories") -> pd.DataFrame:
    """feature, value, min, max (ints) from a categories table; extra columns (min_flex...)
    are ignored."""
    cols = {k: _find(list(raw.columns), words) for k, words in CATEGORY_HEADERS.items()}
    missing = [k for k, c in cols.items() if c is None]
    if missing:
        raise PanelInputError("{name}: no column for {missing} (expected headers "
                              "feature, value, min, max or caractéristique, valeur, min, max)",
                              name=name, missing=", ".join(missing))
    out = pd.DataFrame({k: raw[c].astype(str).str.strip() for k, c in cols.items()})
    out = out[(out["feature"] != "") | (out["value"] != "")]
    if out.empty:
        raise PanelInputError("{name}: no feature value listed (one row per value: "
                              "feature, value, min, max)", name=name)
    for b in ("min", "max"):
        num = pd.to_numeric(out[b], errors="coerce")
        bad = num.isna() | (num < 0) | (num != num.round())
        if bad.any():
            line = int(out.index[bad][0]) + 2
            raise PanelInputError("{name}, line {line}: {b} must be a whole number >= 0",
                                  name=name, line=line, b=b)
        out[b] = num.astype(int)
    bad = out["min"] > out["max"]
    if bad.any():
        line = int(out.index[bad][0]) + 2
        raise PanelInputError("{name}, line {line}: min is above max", name=name, line=line)
    dup = out.duplicated(["feature", "value"])
    if dup.any():
        line = int(out.index[dup][0]) + 2
        raise PanelInputError("{name}, line {line}: this feature value is listed twice",
                              name=name, line=line)
    return out.reset_index(drop=True)


def respondents_table(raw: pd.DataFrame, features: Sequence[str],
                      name: str = "respondents") -> pd.DataFrame:
    """person + one column per feature. Feature columns are matched ignoring case and
    accents; a feature may be called anything (``service``, ``count`` ...): it is data."""
    idcol = _find(list(raw.columns), ID_HEADERS)
    if idcol is None:
        raise PanelInputError("{name}: no id column (expected one of {id_headers})",
                              name=name, id_headers=", ".join(ID_HEADERS))
    if raw.empty:
        raise PanelInputError("{name}: no respondent listed (one row per person)", name=name)
    out = pd.DataFrame({"person": raw[idcol].astype(str).str.strip()})
    for f in features:
        col = _find(list(raw.columns), [fold_words(f).replace(" ", "_")])
        if col is None:
            raise PanelInputError("{name}: no column for feature '{f}' of the categories",
                                  name=name, f=f)
        out[f] = raw[col].astype(str).str.strip()
    empty = out["person"] == ""
    if empty.any():
        raise PanelInputError("{name}, line {line}: empty id",
                              name=name, line=int(out.index[empty][0]) + 2)
    dup = out["person"].duplicated()
    if dup.any():
        raise PanelInputError("{name}, line {line}: id already used on an earlier line",
                              name=name, line=int(out.index[dup][0]) + 2)
    return out


def read_categories(path: Path | str) -> pd.DataFrame:
    return categories_table(read_table(path), Path(path).name)


def read_respondents(path: Path | str, features: Sequence[str]) -> pd.DataFrame:
    return respondents_table(read_table(path), features, Path(path).name)
