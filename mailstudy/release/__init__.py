"""The one release gate: what leaves the study is checked against every earlier release.

- ``gate.py``: pure rules that hold back a table or its rows when a change of 1 to k-1 people
  since an earlier release would show.
- ``ledger.py``: ``data/releases/``, the published tables of every release and their hashes.
- :func:`publish_table`: what a stage calls before writing a published table;
  :func:`close_release`: what the report calls when the release is complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mailstudy.catalog import Zone
from mailstudy.release.gate import Earlier, hold_back, population_moved
from mailstudy.release.ledger import Ledger

if TYPE_CHECKING:
    import pandas as pd

    from mailstudy.study import Study


def ledger(study: Study) -> Ledger:
    return Ledger(study.catalog.path("releases"))


def publish_table(study: Study, name: str, table: pd.DataFrame,
                  true_counts: pd.Series | pd.DataFrame, *, population: int | tuple[int, ...],
                  dims: list[str], count: str | list[str] = "n_people"
                  ) -> tuple[pd.DataFrame, int]:
    """The version of ``table`` that may be published now (see ``gate.py``), recorded in the
    open release."""
    return ledger(study).publish(name, table, true_counts, population=population, dims=dims,
                                 count=count, k=study.min_group_size)


def held_whole(study: Study, name: str, population: int) -> bool:
    """Whether a table (or a set of outputs) describing ``population`` people must be
    published as it was in the last release: its population moved by 1 to k-1 people."""
    return population_moved(population, ledger(study).earlier(name), study.min_group_size)


def hidden_groups(study: Study, grouping: str) -> set[str]:
    """The groups the published profile table of ``grouping`` (``by_{grouping}.csv``) hides
    in this release: every other table showing these groups must hide them too, or the
    difference would reveal them (the report's coverage, the comparison of two campaigns)."""
    from mailstudy.tabular import read_csv

    path = study.catalog.path("group_table", grouping=grouping)
    if not path.exists():
        return set()
    table = read_csv(path, dtype={grouping: str})
    if "suppressed" not in table:
        return set()
    hidden = table["suppressed"].map(lambda v: str(v) == "True")  # bool, or its text
    return set(table.loc[hidden, grouping].astype(str))


def published_files(study: Study) -> list[Path]:
    out = study.out
    return [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")
            and study.catalog.zone_of(p) is Zone.PUBLISHED] if out.exists() else []


def close_release(study: Study) -> int:
    """Close the open release with the hashes of every published file; returns its id."""
    return ledger(study).close(published_files(study), study.root)


__all__ = ["Earlier", "Ledger", "close_release", "held_whole", "hidden_groups", "hold_back",
           "ledger", "publish_table", "published_files"]
