"""The only numbers no stage writes: the scope of the audit (mailboxes, period, coverage by
direction and level), computed from the pseudonymised tables with the same disclosure control
as every released table, and written to ``out/report/scope.json`` so that they can be checked
apart from the report."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from anonymise import disclosure
from mailstudy import schema
from mailstudy.release import hidden_groups, publish_table
from mailstudy.report.reading import read_parquet, records
from mailstudy.study import Study
from mailstudy.text import UNKNOWN


def _coverage(union: pd.DataFrame, dim: str, min_group: int,
              order: list[str] | None = None, hidden_elsewhere: set[str] | None = None
              ) -> tuple[pd.DataFrame, int, pd.Series]:
    """Per value of ``dim``: people known (directory or mailbox), in the directory, with a
    mailbox collected, profiled; rows under ``min_group`` known people hidden, and the groups
    the profile table of ``dim`` hides, with their complements against the total row. Also
    returns the true ``known`` count of every row (for the release ledger)."""
    g = union.groupby(dim, dropna=False)
    cells = pd.DataFrame({
        "known": g.size(),
        "in_directory": g["in_directory"].sum(),
        "collected": g["collected"].sum(),
        "profiled": g["profiled"].sum(),
    }).reset_index()
    total = pd.DataFrame([{dim: disclosure.TOTAL, "known": len(union),
                           "in_directory": int(union["in_directory"].sum()),
                           "collected": int(union["collected"].sum()),
                           "profiled": int(union["profiled"].sum())}])
    cells = pd.concat([cells, total], ignore_index=True)
    force = cells[dim].astype(str).isin(hidden_elsewhere or set()).to_numpy()
    res = disclosure.suppress_linked(cells, [dim], "known", min_group, force=force)
    true_known = cells["known"].copy()
    cells = disclosure.apply_suppression(cells, res,
                                         ["known", "in_directory", "collected", "profiled"])
    if order is not None:
        rank = {v: i for i, v in enumerate(order)}
        cells["_r"] = cells[dim].map(lambda v: rank.get(v, len(order) if v != disclosure.TOTAL
                                                         else len(order) + 1))
        cells = cells.sort_values(["_r", dim]).drop(columns="_r")
    else:
        cells["_t"] = cells[dim] == disclosure.TOTAL
        cells = cells.sort_values(["_t", dim]).drop(columns="_t")
    cells[dim] = cells[dim].replace(disclosure.TOTAL, "Total")
    true_known = true_known.reindex(cells.index)
    return (cells.reset_index(drop=True), res.n_primary + res.n_secondary,
            true_known.reset_index(drop=True))


def scope_summary(study: Study) -> dict[str, Any]:
    """Mailboxes, period, messages and coverage by direction and level (suppressed).

    Counts only; what a released table may not show (a direction of three people) is hidden
    as in the group profiles, and the number of hidden cells is returned.
    """
    from mailstudy.store import read_messages

    k = study.min_group_size
    cols = ["mailbox", "direction", "date_local", "message_id", "is_bulk", "folder_role"]
    msgs = (read_messages(study.messages_dir, columns=cols)
            if study.messages_dir.exists() and any(study.messages_dir.glob("mailbox=*"))
            else pd.DataFrame(columns=cols))
    out: dict[str, Any] = {"min_group_size": k, **_message_figures(msgs)}
    union, figures = _people_known(study, set(msgs["mailbox"].unique()))
    out.update(figures)
    ranks = (union[union["level_rank"] >= 0].groupby("level")["level_rank"].min()
             .sort_values())
    by_dir, n1, true_dir = _coverage(union, "direction", k,
                                     hidden_elsewhere=hidden_groups(study, "direction"))
    by_level, n2, true_level = _coverage(union, "level", k, order=[*ranks.index, UNKNOWN],
                                         hidden_elsewhere=hidden_groups(study, "level"))
    by_dir, h1 = publish_table(study, "scope/coverage_by_direction", by_dir, true_dir,
                               population=len(union), dims=["direction"], count="known")
    by_level, h2 = publish_table(study, "scope/coverage_by_level", by_level, true_level,
                                 population=len(union), dims=["level"], count="known")
    out["coverage_by_direction"] = records(by_dir)
    out["coverage_by_level"] = records(by_level)
    out["cells_suppressed"] = n1 + n2
    return _held_back_totals(study, out, h1 + h2)


def _message_figures(msgs: pd.DataFrame) -> dict[str, Any]:
    """Mailboxes, rows, distinct messages (one definition: drafts and junk not counted,
    ``schema.UNCOUNTED_FOLDER_ROLES``, as in the profile), bulk rows and the period."""
    counted = ~msgs["folder_role"].isin(schema.UNCOUNTED_FOLDER_ROLES)
    out: dict[str, Any] = {
        "mailboxes": int(msgs["mailbox"].nunique()), "message_rows": int(len(msgs)),
        "messages_unique": int(msgs.loc[counted, "message_id"].nunique()),
        "rows_by_direction": {str(d): int(n) for d, n in
                              msgs["direction"].value_counts().sort_index().items()},
        "bulk_rows": int(msgs["is_bulk"].fillna(False).astype(bool).sum()), "period": None}
    dates = pd.to_datetime(msgs["date_local"]).dropna()
    if len(dates):
        # The period holds the bulk of the traffic: stray old messages (archives) are counted
        # apart rather than stretching it.
        lo, hi = dates.quantile(0.005), dates.max()
        out["period"] = {"first": lo.date().isoformat(), "last": hi.date().isoformat(),
                         "weeks": round((hi - lo).days / 7, 1),
                         "rows_before_first": int((dates < lo.normalize()).sum())}
    return out


def _people_known(study: Study, boxes: set[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Everyone the study knows (directory or mailbox, objectors left out), whether each was
    collected and profiled, and the totals of those sets."""
    from mailstudy.optout import load_optouts

    directory = study.catalog.read_or_empty("directory")
    people = read_parquet(study.catalog.path("people"), ["person"])
    optouts = load_optouts(study)
    profiled = set(people["person"]) if people is not None else set()
    d = directory[["person", "level", "level_rank", "direction"]].copy()
    d["in_directory"] = True
    extra = sorted(boxes - set(d["person"]))
    union = pd.concat([d, pd.DataFrame({"person": extra, "level": UNKNOWN, "level_rank": -1,
                                        "direction": UNKNOWN, "in_directory": False})],
                      ignore_index=True)
    union = union[~union["person"].isin(optouts.filter(union["person"]))]
    union["direction"] = union["direction"].fillna(UNKNOWN)
    union["level"] = union["level"].fillna(UNKNOWN)
    union["collected"] = union["person"].isin(boxes)
    union["profiled"] = union["person"].isin(profiled)
    return union, {
        "optouts": len(optouts), "people_known": int(len(union)),
        "directory_people": int(union["in_directory"].sum()), "profiled": len(profiled),
        "mailboxes_without_directory": len(extra),
        "directory_without_mailbox": int((union["in_directory"] & ~union["collected"]).sum()),
        "collected_not_profiled": int((union["collected"] & ~union["profiled"]).sum())}


_TOTALS = ("mailboxes", "message_rows", "messages_unique", "bulk_rows", "people_known",
           "directory_people", "profiled", "mailboxes_without_directory",
           "directory_without_mailbox", "collected_not_profiled", "optouts")


def _held_back_totals(study: Study, out: dict[str, Any], held: int) -> dict[str, Any]:
    """The scope's totals go through the release gate as one row: when the people it
    describes changed by 1 to k-1 since an earlier release, the earlier totals are shown."""
    row = {"scope": "Total", **{f: out[f] for f in _TOTALS},
           "period": json.dumps(out["period"]),
           "rows_by_direction": json.dumps(out["rows_by_direction"])}
    table = pd.DataFrame([row])
    table, h = publish_table(study, "scope/totals", table, table["people_known"],
                             population=int(out["people_known"]), dims=["scope"],
                             count="people_known")
    rec = table.iloc[0]
    out.update({f: records(table[[f]])[0][f] for f in _TOTALS})
    out["period"] = json.loads(rec["period"])
    out["rows_by_direction"] = json.loads(rec["rows_by_direction"])
    out["cells_held_back"] = held + h
    return out


