"""Profile: feature definitions on hand-built mailboxes, streaming, counts, group tables,
disclosure (checked with pycanon), and a run on a study copy without its key."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from anonymise.disclosure import TOTAL
from mailstudy import schema
from mailstudy.cli import app
from mailstudy.holidays import easter, french_holidays, holidays
from mailstudy.profile.config import ProfileConfig, ProfileError, Rule
from mailstudy.profile.groups import group_profiles
from mailstudy.profile.people import build_people, work_pattern
from mailstudy.study import init_study
from mailstudy.tabular import read_csv

LEVELS = ["DGS", "DGA", "directeur", "chef de service", "chef de projet / chargé de mission",
          "gestionnaire / assistant", "agent"]


def pid(i: int, kind: str = "p") -> str:
    return f"{kind}{i:016x}"


def row(mailbox: str, n: int, when: dt.datetime, **kw: object) -> dict:
    """One MESSAGES row with harmless defaults; ``n`` makes the message id."""
    mid = kw.pop("message_id", pid(n, "m"))
    d = dict(mailbox=mailbox, source="imap", item_id=pid(n, "i"), folder_id=pid(1, "f"),
             folder_role="inbox", folder_depth=0, message_id=mid, direction="received",
             sender=pid(999), to=[mailbox], cc=[], bcc=[], n_to=1, n_cc=0, n_bcc=0,
             n_internal=1, n_external=0, date_local=when, size_bytes=2000, text_bytes=1024,
             n_attachments=0, attachment_kinds=[], is_reply=False, is_forward=False,
             in_reply_to=None, thread_root=mid, subject_len=12, n_prefixes=0, is_bulk=False,
             client_family=None, importance="normal", seen=True, answered=False,
             flagged=False, defects=[], imap_uidvalidity=None, imap_uid=None)
    d.update(kw)
    return d


def frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["date_local"] = pd.to_datetime(df["date_local"]).astype("datetime64[us]")
    df["date_utc"] = (df["date_local"].dt.tz_localize("Europe/Paris")
                      .dt.tz_convert("UTC").astype("datetime64[us, UTC]"))
    return df[schema.names("messages")]


def write_dataset(df: pd.DataFrame, root: Path) -> Path:
    t = pa.Table.from_pandas(df, schema=schema.arrow_schema("messages"), preserve_index=False)
    pq.write_to_dataset(t, root, partition_cols=["mailbox"])
    return root


def synthetic(n_people: int, seed: int, per_person: int = 60) -> tuple[pd.DataFrame,
                                                                      pd.DataFrame]:
    """A small council: directory and messages whose behaviour depends on the level."""
    rng = np.random.default_rng(seed)
    rows, drows = [], []
    n = 0
    for i in range(n_people):
        p = pid(i)
        lvl = int(rng.choice(len(LEVELS), p=[.02, .04, .08, .16, .2, .3, .2]))
        drows.append({"person": p, "title": None, "category": None, "level": LEVELS[lvl],
                      "level_rank": lvl, "direction": f"D{rng.integers(0, 4)}",
                      "service": None, "roles": [], "manager": None, "fte": 1.0})
        mobile = rng.random() < 0.3
        late = rng.random() < 0.3
        for _ in range(per_person):
            n += 1
            day = dt.datetime(2026, 1, 5) + dt.timedelta(days=int(rng.integers(0, 60)))
            hour = int(rng.integers(19, 23) if late and rng.random() < .5 else
                       rng.integers(8, 18))
            when = day.replace(hour=hour, minute=int(rng.integers(0, 60)))
            if rng.random() < 0.4:
                rows.append(row(p, n, when, direction="sent", folder_role="sent",
                                to=[pid(int(rng.integers(0, n_people)))],
                                client_family="mobile_ios" if mobile else "outlook"))
            else:
                rows.append(row(p, n, when, seen=bool(rng.random() < 0.7),
                                folder_role="archive" if rng.random() < .3 else "inbox",
                                is_bulk=bool(rng.random() < .2)))
    return frame(rows), pd.DataFrame(drows)


def test_easter_and_french_holidays() -> None:
    assert [easter(y) for y in (2024, 2025, 2026)] == [
        dt.date(2024, 3, 31), dt.date(2025, 4, 20), dt.date(2026, 4, 5)]
    h = french_holidays(2026)
    assert len(h) == 11
    assert {dt.date(2026, 4, 6), dt.date(2026, 5, 14), dt.date(2026, 5, 25)} <= set(h)
    assert dt.date(2026, 4, 3) in holidays([2026], "FR-AM")
    assert dt.date(2026, 9, 1) in holidays([2026], "FR", ["2026-09-01"])
    with pytest.raises(ValueError):
        holidays([2026], "DE")


def test_features_follow_their_definitions(tmp_path: Path) -> None:
    me, other = pid(1), pid(2)
    mon = dt.datetime(2026, 3, 30)  # Monday; Easter Monday 6 April is a holiday
    rows = [
        # received at 9:00, replied at 11:00 (2 h), To me
        row(me, 1, mon.replace(hour=9), message_id=pid(1, "m")),
        row(me, 2, mon.replace(hour=11), direction="sent", folder_role="sent",
            in_reply_to=pid(1, "m"), is_reply=True, to=[other, "ext"], n_to=2, n_internal=1,
            n_external=1, n_attachments=1, client_family="mobile_ios", text_bytes=2048),
        # the same received message also filed in an archive folder: counts once
        row(me, 3, mon.replace(hour=9), message_id=pid(1, "m"), folder_role="archive",
            folder_id=pid(2, "f")),
        # received in Cc only, unread, never replied
        row(me, 4, mon.replace(day=31, hour=10), to=[other], cc=[me], n_cc=1, seen=False),
        # received bulk
        row(me, 5, mon.replace(day=31, hour=12), is_bulk=True, to=["ext"]),
        # sent at 20:30 on Tuesday (after hours), and on Easter Monday (non-working day)
        row(me, 6, mon.replace(day=31, hour=20, minute=30), direction="sent",
            folder_role="sent", to=[other], client_family="outlook", text_bytes=4096),
        row(me, 7, dt.datetime(2026, 4, 6, 10), direction="sent", folder_role="sent",
            to=[other], is_forward=True, text_bytes=0),
        # a draft and a junk message are not messages
        row(me, 8, mon.replace(hour=15), direction="sent", folder_role="drafts"),
        row(me, 9, mon.replace(hour=16), folder_role="junk"),
    ]
    df = frame(rows)
    cfg = ProfileConfig(min_messages=1, min_active_days=1)
    people, counts = build_people(write_dataset(df, tmp_path / "m"), None, cfg)
    p = people.iloc[0]
    assert p["n_messages"] == 6 and p["active_days"] == 3
    # period 30 March - 6 April: 5 working days (Easter Monday excluded)
    assert p["sent_per_day"] == pytest.approx(3 / 5)
    assert p["received_per_day"] == pytest.approx(2 / 5)
    assert p["after_hours_share"] == pytest.approx(2 / 3)
    assert p["weekend_share"] == pytest.approx(1 / 3)
    assert p["workday_span_h"] == pytest.approx(0.0)
    assert p["reply_delay_h"] == pytest.approx(2.0)
    assert p["reply_rate"] == pytest.approx(1.0)  # only message 1 was To me, non-bulk
    assert p["cc_share"] == pytest.approx(1 / 3)
    assert p["recipients_per_sent"] == pytest.approx(4 / 3)
    assert p["reply_all_rate"] == pytest.approx(1.0)
    assert p["external_share"] == pytest.approx(1 / 4)
    assert p["attachment_rate"] == pytest.approx(1 / 3)
    assert p["sent_text_kb"] == pytest.approx(2.0)
    assert p["unread_share"] == pytest.approx(1 / 3)
    assert p["filing_rate"] == pytest.approx(1 / 4)  # 1 archive copy of 4 received (no junk)
    assert p["folder_count"] == 2
    assert p["bulk_share"] == pytest.approx(1 / 3)
    assert p["mobile_share"] == pytest.approx(1 / 3)
    assert p["forward_rate"] == pytest.approx(1 / 3)
    assert counts["rows"] == 9 and counts["people_without_directory"] == 1
    assert p["level"] == "non renseigné" and p["direction"] == "non renseigné"


def test_streaming_gives_the_same_people_and_org_total_dedupes(tmp_path: Path) -> None:
    msgs, directory = synthetic(30, seed=3)
    # the same message in two mailboxes (sender's and recipient's copies)
    dup = msgs.iloc[[0]].copy()
    dup["mailbox"] = pid(1)
    msgs = pd.concat([msgs, dup], ignore_index=True)
    root = write_dataset(msgs, tmp_path / "m")
    cfg = ProfileConfig(min_messages=1, min_active_days=1, batch_bytes=10**12)
    big, c1 = build_people(root, directory, cfg)
    cfg.batch_bytes = 0  # one mailbox at a time
    small, c2 = build_people(root, directory, cfg)
    frames = (g for _, g in msgs.groupby("mailbox"))
    from_frames, c3 = build_people(frames, directory, cfg)
    pd.testing.assert_frame_equal(big, small)
    pd.testing.assert_frame_equal(big, from_frames)
    assert c1 == c2 == c3
    assert c1["rows"] == len(msgs) and c1["messages_unique"] == len(msgs) - 1


def test_thresholds_optouts_and_unmatched_are_counted(tmp_path: Path) -> None:
    msgs, directory = synthetic(12, seed=4, per_person=40)
    few = msgs["mailbox"] == pid(0)
    msgs = msgs[~few | (msgs.index % 10 == 0)]  # person 0 keeps ~4 messages
    directory = pd.concat([directory[directory["person"] != pid(1)],
                           directory.iloc[[0]].assign(person=pid(77))], ignore_index=True)
    cfg = ProfileConfig(min_messages=20, min_active_days=5)
    people, counts = build_people(write_dataset(msgs, tmp_path / "m"), directory, cfg,
                                  optouts=[pid(2)])
    assert counts["below_min_messages"] == 1
    assert counts["opted_out"] == 1
    assert counts["mailbox_without_directory"] == 1  # pid(1)
    assert counts["directory_without_mailbox"] == 1  # pid(77)
    assert set(people["person"]) == {pid(i) for i in range(3, 12)} | {pid(1)}
    assert people.set_index("person").loc[pid(1), "level_rank"] == -1


def test_empty_study_gives_empty_people(tmp_path: Path) -> None:
    people, counts = build_people(tmp_path / "nothing", None, ProfileConfig())
    assert people.empty and list(people.columns) == schema.names("people")
    assert counts["mailboxes"] == 0
    groups = group_profiles(people, 10)
    assert all(df["n_people"].isna().all() for df in groups.tables.values())
    # the command stops instead of writing pages of zeros, and says what to run first
    s = init_study(tmp_path / "s", ["region.fr"], key=bytes(32))
    r = CliRunner().invoke(app, ["profile", "--study", str(s.root)])
    assert r.exit_code == 2, r.output
    assert "nothing collected yet: run 'mailstudy collect files'" in r.output
    assert not (s.data / "people.parquet").exists() and not (s.out / "profiles").exists()


def test_work_pattern_classes() -> None:
    f = pd.DataFrame({"_before": [0.0, 0.2, 0.3, 0.0, 0.5, 0.1],
                      "_after": [0.1, 0.2, 0.0, 0.3, 0.3, 0.1],
                      "_within": [0.9, 0.6, 0.7, 0.7, 0.2, 0.8],
                      "_n_sent": [50, 50, 50, 50, 50, 2]})
    cfg = ProfileConfig()
    assert list(work_pattern(f, cfg.work_pattern)) == [
        "standard", "always_on", "extended_morning", "extended_evening", "always_on",
        "absent"]
    f.loc[4, "_after"] = 0.1
    assert work_pattern(f, cfg.work_pattern)[4] == "overnight"


def test_habit_rules_parse_and_refuse_unknown_features() -> None:
    r = Rule.parse("x", "mobile_share >= 0.5 and sent_per_day > 1 or unread_share >= .9",
                   schema.FEATURE_NAMES)
    df = pd.DataFrame({"mobile_share": [0.6, 0.6, np.nan, 0.1],
                       "sent_per_day": [2.0, 0.5, 3.0, 0.0],
                       "unread_share": [0.0, 0.0, 0.0, 0.95]})
    assert list(r.apply(df)) == [True, False, False, True]
    with pytest.raises(ProfileError, match="salary"):
        ProfileConfig.from_config({"profile": {"habits": {"x": "salary > 3"}}})


def released_people(people: pd.DataFrame, table: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """Microdata behind the released (non-suppressed, non-total) cells of a table."""
    shown = table[~table["suppressed"]]
    keys = {tuple(r) for r in shown[dims].itertuples(index=False)}
    return people[[tuple(r) in keys for r in people[dims].itertuples(index=False)]]


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_group_profiles_respect_min_group_size(tmp_path: Path) -> None:
    # pycanon pins pandas 2 / numpy 2.0 in its metadata: installed with --no-deps for tests
    anonymity = pytest.importorskip("pycanon.anonymity",
                                    reason="pip install --no-deps pycanon")
    msgs, directory = synthetic(150, seed=7, per_person=30)
    cfg = ProfileConfig(min_messages=5, min_active_days=3)
    people, _ = build_people(write_dataset(msgs, tmp_path / "m"), directory, cfg)
    k = 10
    g = group_profiles(people, k)
    assert g.n_suppressed > 0 and (g.suppression["secondary"] > 0).any()
    exploded = people.assign(habit=[list(h) or ["aucune"] for h in people["habits"]]
                             ).explode("habit")
    checks = {"level": (people, ["level"]), "direction": (people, ["direction"]),
              "work_pattern": (people, ["work_pattern"]), "habit": (exploded, ["habit"]),
              "level_habit": (exploded, ["level", "habit"])}
    for name, (micro, dims) in checks.items():
        t = g.tables[name]
        assert "n_people" in t.columns
        cells = t[~t[dims].eq("Total").any(axis=1)]
        shown = cells[~cells["suppressed"]]
        assert (shown["n_people"] >= k).all(), name
        assert cells.loc[cells["suppressed"], "n_people"].isna().all()
        # independent check: the people behind released cells are k-anonymous on the dims
        rel = released_people(micro, cells, dims)[dims].reset_index(drop=True).fillna("-")
        if len(rel):
            assert anonymity.k_anonymity(rel, dims) >= k, name
        # no statistic shown for a hidden cell
        stat_cols = [c for c in t.columns if c.endswith("_median")]
        assert t.loc[t["suppressed"], stat_cols].isna().all().all()
    # complementary suppression: no level row of level x habit with exactly one hidden cell
    # when the level's total is shown, and likewise per habit against the habit table
    lh, lv, hb = g.tables["level_habit"], g.tables["level"], g.tables["habit"]
    for lvl, part in lh.groupby("level"):
        total_hidden = bool(lv.loc[lv["level"] == lvl, "suppressed"].iloc[0])
        assert part["suppressed"].sum() + total_hidden != 1, lvl
    for hab, part in lh.groupby("habit"):
        total_hidden = bool(hb.loc[hb["habit"] == hab, "suppressed"].iloc[0])
        assert part["suppressed"].sum() + total_hidden != 1, hab
    assert TOTAL not in set(lh["level"])


def test_profile_runs_on_a_copy_without_secrets(tmp_path: Path) -> None:
    s = init_study(tmp_path / "s", ["region.fr"], key=bytes(32))
    msgs, directory = synthetic(40, seed=11, per_person=30)
    write_dataset(msgs, s.messages_dir)
    t = pa.Table.from_pandas(directory, schema=schema.arrow_schema("directory"),
                             preserve_index=False)
    pq.write_table(t, s.data / "directory.parquet")
    copy = tmp_path / "analyst"
    shutil.copytree(s.root, copy)
    shutil.rmtree(copy / "secrets")
    toml = copy / "study.toml"
    toml.write_text(toml.read_text().replace("min_messages = 20", "min_messages = 5")
                    .replace("min_active_days = 10", "min_active_days = 3"))
    r = CliRunner().invoke(app, ["profile", "--study", str(copy), "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert "people profiled: 40" in r.output and "suppressed" in r.output
    people = pq.read_table(copy / "data" / "people.parquet").to_pandas()
    schema.check(people, "people", extra_ok=False)
    out = copy / "out" / "profiles"
    for name in ("level", "direction", "habit", "level_habit", "work_pattern"):
        assert (out / f"by_{name}.csv").exists() and (out / f"by_{name}.png").exists()
        assert "n_people" in read_csv(out / f"by_{name}.csv").columns
    assert (out / "suppression.csv").exists()
    assert not (copy / "secrets").exists()


def people_frame(levels: list[str], habits: list[list[str]], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(levels)
    df = pd.DataFrame({"person": [pid(i) for i in range(n)], "level": levels,
                       "level_rank": [LEVELS.index(x) for x in levels],
                       "direction": "D", "service": "S", "roles": [[] for _ in range(n)],
                       "n_messages": 100, "active_days": 20,
                       **{f: rng.random(n) for f in schema.FEATURE_NAMES},
                       "habits": habits, "work_pattern": "standard"})
    return df[schema.names("people")]


def test_hidden_cells_do_not_reveal_that_a_small_group_has_a_habit() -> None:
    levels = ["DGS"] + ["agent"] * 30
    base = [["mobile"] if i % 2 else ["classeur"] for i in range(30)]
    views = []
    for dgs_habit in (["hors_horaires"], ["mobile"]):
        g = group_profiles(people_frame(levels, [dgs_habit, *base]), 10,
                           habit_labels=["mobile", "classeur", "hors_horaires"])
        lh = g.tables["level_habit"]
        views.append(lh.loc[lh["level"] == "DGS", ["habit", "n_people", "suppressed"]]
                     .reset_index(drop=True))
    pd.testing.assert_frame_equal(*views)
    assert set(views[0]["habit"]) == {"mobile", "classeur", "hors_horaires", "aucune"}
    assert views[0]["suppressed"].all()
