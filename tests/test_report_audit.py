"""The audit report's pieces without a whole pipeline: number formats, the coverage table's
disclosure control, annexes generated from study.toml, and a report of a study that has no
personas or panel yet (it must say so, not crash)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from studykit import make_study
from test_demo_e2e import check_html

from mailstudy.report import _coverage, _study_section
from reports.audit import fmt_num, fmt_pct, render_annex, render_audit


def test_number_formats() -> None:
    assert fmt_num(12345.678, 1, "fr") == "12\u202f345,7"
    assert fmt_num(12345.678, 1, "en") == "12,345.7"
    assert fmt_pct(0.256, 0, "fr") == "26\u202f%"  # narrow no-break space (Babel, CLDR)
    assert fmt_pct(0.256, 1, "en") == "25.6%"
    assert fmt_num(None) == "–" and fmt_num(float("nan")) == "–"


def _union(sizes: dict[str, int]) -> pd.DataFrame:
    rows = []
    for d, n in sizes.items():
        for i in range(n):
            rows.append({"direction": d, "in_directory": True, "collected": i % 4 != 0,
                         "profiled": i % 2 == 0})
    return pd.DataFrame(rows)


def test_coverage_hides_small_rows_and_their_complement() -> None:
    table, hidden, _ = _coverage(_union({"A": 30, "B": 20, "C": 3}), "direction", 10)
    by = table.set_index("direction")
    assert bool(by.loc["C", "suppressed"]) and pd.isna(by.loc["C", "known"])
    # C alone hidden would come back as total - A - B: the smallest other row goes too.
    assert bool(by.loc["B", "suppressed"])
    assert not bool(by.loc["A", "suppressed"]) and by.loc["A", "known"] == 30
    assert by.loc["Total", "known"] == 53 and hidden == 2
    table, hidden, _ = _coverage(_union({"A": 30, "B": 20}), "direction", 10)
    assert hidden == 0 and not table["suppressed"].any()


def _context(study, lang: str) -> dict:
    return {
        "lang": lang, "generated": "2026-11-26", "study": _study_section(study),
        "scope": {"min_group_size": 10, "mailboxes": 0, "message_rows": 0,
                  "messages_unique": 0, "rows_by_direction": {}, "bulk_rows": 0,
                  "period": None, "optouts": 2, "people_known": 0, "directory_people": 0,
                  "profiled": 0, "mailboxes_without_directory": 0,
                  "directory_without_mailbox": 0, "collected_not_profiled": 0,
                  "coverage_by_direction": [], "coverage_by_level": [],
                  "cells_suppressed": 0},
        "collection": {"runs": 0, "kinds": {}, "last_skipped": {}, "last_defects": {}},
        "features": {"sent_per_day": "Messages sent."}, "feature_names": ["sent_per_day"],
        "people_columns": {}, "message_columns": {"mailbox": "Owner pseudonym."},
        "rules": {"habits": [], "work_pattern": {}, "min_messages": 20, "min_active_days": 10},
        "profiles": {"tables": {}, "suppression": None}, "personas": None, "panel": None,
        "reveals": 0,
    }


def test_report_without_personas_or_panel(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    for lang, missing in (("fr", "Pas encore de personas"), ("en", "No panel yet")):
        html = render_audit(_context(study, lang))
        path = tmp_path / f"r-{lang}.html"
        path.write_text(html, encoding="utf-8")
        (tmp_path / "audit.css").write_text("")
        assert check_html(path) == []
        assert missing in html


def test_annexes_come_from_study_toml(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    html = render_annex("notice", _context(study, "fr"))
    assert "[à compléter]" in html  # no DPO in study.toml: the notice says it is missing
    assert "region.test" in html and "art. 6(1)(e)" in html
    cfg = study.root / "study.toml"
    cfg.write_text(cfg.read_text().replace(
        '[report]\n', '[report]\ndpo = "dpo@region.test"\ncontroller = "Région Test"\n'))
    from mailstudy.study import open_study

    study = open_study(study.root)
    for name in ("notice", "register", "dpia"):
        html = render_annex(name, _context(study, "en"))
        assert "<!DOCTYPE html>" in html
        assert "Région Test" in html or name == "dpia"
        assert str(study.min_group_size) in html
    assert "dpo@region.test" in render_annex("register", _context(study, "fr"))
    retention = study.section("privacy")["retention_until"]
    from mailstudy.i18n import fmt_date

    dpia = render_annex("dpia", _context(study, "fr"))
    assert fmt_date("fr", retention) in dpia and retention not in dpia  # "1 janvier 2028"
    assert "Généré le 26 novembre 2026" in dpia


def test_a_table_whose_rows_are_all_hidden_gets_no_chart(tmp_path: Path) -> None:
    from PIL import Image

    from reports.profiles import CHART_WIDTH_IN, render_group_chart

    df = pd.DataFrame({"habit": ["reactif", "classeur", "mobile"], "n_people": [None, 12, 30],
                       "suppressed": [True, False, False],
                       "sent_per_day_median": [None, 1.5, 2.0],
                       "sent_per_day_q1": [None, 1.0, 1.5], "sent_per_day_q3": [None, 2.0, 2.5]})
    png = render_group_chart(df, "habit", tmp_path / "by_habit.png")
    assert png is not None
    im = Image.open(png)
    assert abs(im.width / im.info["dpi"][0] - CHART_WIDTH_IN) < 0.05  # the column's width
    hidden = df.assign(suppressed=True, n_people=None)
    (tmp_path / "stale.png").write_bytes(png.read_bytes())
    assert render_group_chart(hidden, "habit", tmp_path / "stale.png") is None
    assert not (tmp_path / "stale.png").exists()  # no stale chart of an earlier release
