"""Spreadsheet formula injection: every CSV/XLSX cell from input data comes out inert."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd

from mailstudy.tabular import write_csv, write_xlsx

HOSTILE = ["=HYPERLINK(\"http://x\";\"clic\")", "+33 1 02", "-2+3", "@SUM(A1)", "\tcmd",
           "\rcmd", "Direction des finances"]


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"direction": HOSTILE, "n_people": range(len(HOSTILE)),
                         "share": [-0.5] * len(HOSTILE)})


def test_csv_cells_that_a_spreadsheet_would_run_are_inert(tmp_path: Path) -> None:
    for french in (False, True):
        p = write_csv(_frame(), tmp_path / f"t{french}.csv", french=french)
        back = pd.read_csv(p, sep=";" if french else ",", decimal="," if french else ".",
                           encoding="utf-8-sig")
        cells = back["direction"].tolist()
        assert all(not str(c).startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
        assert [c.lstrip("'") for c in cells[:4]] == HOSTILE[:4]
        assert cells[-1] == "Direction des finances"
        assert (back["share"] == -0.5).all()  # numbers stay numbers
    assert (tmp_path / "tTrue.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_xlsx_cells_are_text_never_formulas(tmp_path: Path) -> None:
    p = write_xlsx({"groupes": _frame()}, tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(p).active
    kinds = {ws.cell(row=r, column=1).data_type for r in range(2, len(HOSTILE) + 2)}
    assert kinds == {"s"}
    assert ws.cell(row=2, column=3).value == -0.5 and ws.freeze_panes == "A2"
