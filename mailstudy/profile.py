"""Per-person usage profiles from pseudonymised messages, and group profiles safe to publish.

``build_people`` streams the messages dataset partition by partition (whole mailboxes, grouped
into batches of about ``[profile] batch_mb`` of Parquet, 128 by default) so memory stays
bounded by the batch, not the organisation; within a batch everything is vectorised numpy
(bincount over mailbox codes) and the address lists are reduced in Arrow to two booleans (is
the owner in To, in Cc) before any Python object exists. Every feature follows its
definition in :data:`mailstudy.schema.FEATURES`.

Conventions the definitions leave open, decided here once:
- Per-person counts use the person's own mailbox, deduplicated on (message_id, direction), so a
  copy kept in two folders counts once; drafts and junk are not messages sent or received.
  Organisation totals deduplicate on message_id across mailboxes.
- The observed period of a person runs from the first to the last day with a message; working
  days are the study's workdays minus public and extra holidays (at least one).
- Times of day use ``date_local`` (the study's wall clock); delays use ``date_utc``.
- ``filing_rate`` and ``folder_count`` look at stored copies (a message filed in two folders
  counts in both); filing excludes trash and junk. ``unread_share`` ignores messages whose read
  flag is unknown.
- A statistic with no denominator (no sent message, say) is missing, never zero.

Habit labels are rules on the features, configurable in ``[profile.habits]`` as
``label = "feature >= value and feature < value or ..."`` (``and`` binds tighter than ``or``;
a missing feature never satisfies a clause). Viva Insights' working-pattern class uses the
share of sent messages before, within and after working hours (all days), thresholds in
``[profile.work_pattern]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from anonymise import disclosure
from mailstudy import holidays as hol
from mailstudy import schema
from mailstudy.intake.directory import load_directory
from mailstudy.optout import load_optouts as read_optouts
from mailstudy.store import atomic_write_table
from mailstudy.study import Study, StudyError
from mailstudy.text import UNKNOWN

PEOPLE_FILE = "people.parquet"
NO_HABIT = "aucune"

#: Columns of MESSAGES that profile reads (the benchmark reads exactly these with pandas).
NEEDED_COLUMNS = [
    "mailbox", "direction", "folder_role", "folder_id", "message_id", "in_reply_to",
    "date_utc", "date_local", "is_bulk", "seen", "client_family", "n_to", "n_cc", "n_bcc",
    "n_external", "n_attachments", "text_bytes", "is_reply", "is_forward", "to", "cc",
]

DEFAULT_HABITS: dict[str, str] = {
    "mobile": "mobile_share >= 0.3",
    "hors_horaires": "after_hours_share >= 0.2",
    "classeur": "filing_rate >= 0.5 and folder_count >= 10",
    "boite_debordante": "unread_share >= 0.3",
    "copie_systematique": "recipients_per_sent >= 4 or reply_all_rate >= 0.6",
    "reactif": "reply_delay_h <= 1",
    "gros_volume": "received_per_day >= 60",
}
DEFAULT_WORK_PATTERN: dict[str, float] = {
    "absent_min_sent": 5,  # fewer sent messages over the period -> absent
    "standard_min_within": 0.70,  # Viva: > 70% of activity within working hours
    "overnight_max_within": 0.30,  # Viva: < 30% within working hours
    "always_on_min_each": 0.15,  # Viva: > 15% before and > 15% after working hours
}
WORK_PATTERNS = ("absent", "extended_morning", "extended_evening", "overnight", "standard",
                 "always_on")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_US_DAY = 86_400_000_000
_US_MIN = 60_000_000
_MIX = np.uint64(0x9E3779B97F4A7C15)


class ProfileError(StudyError):
    """The profile cannot be built as configured; the message says what to fix."""


# -- configuration ---------------------------------------------------------------------------
def _minutes(hhmm: str) -> int:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(hhmm).strip())
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59:
        raise ProfileError(f"[time] expects HH:MM, got {hhmm!r}")
    return int(m.group(1)) * 60 + int(m.group(2))


@dataclass
class Rule:
    """A habit rule: OR of ANDs of ``feature op number`` clauses."""

    label: str
    text: str
    clauses: list[list[tuple[str, str, float]]]

    _OPS = {">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less,
            "==": np.equal}

    @classmethod
    def parse(cls, label: str, text: str, features: Iterable[str]) -> Rule:
        feats = set(features)
        ors = []
        for alt in re.split(r"\s+or\s+", text.strip()):
            ands = []
            for cl in re.split(r"\s+and\s+", alt):
                m = re.fullmatch(r"\s*([a-z_]+)\s*(>=|<=|==|>|<)\s*(-?[\d.]+)\s*", cl)
                if not m or m.group(1) not in feats:
                    raise ProfileError(f"[profile.habits] {label}: cannot read {cl!r}; write "
                                       "'feature >= number' joined by and/or, with a feature "
                                       f"among: {', '.join(sorted(feats))}")
                ands.append((m.group(1), m.group(2), float(m.group(3))))
            ors.append(ands)
        return cls(label, text, ors)

    def apply(self, df: pd.DataFrame) -> np.ndarray:
        out = np.zeros(len(df), dtype=bool)
        for ands in self.clauses:
            ok = np.ones(len(df), dtype=bool)
            for feat, op, val in ands:
                x = df[feat].to_numpy(dtype=float)
                with np.errstate(invalid="ignore"):
                    ok &= np.where(np.isnan(x), False, self._OPS[op](x, val))
            out |= ok
        return out


@dataclass
class ProfileConfig:
    """Everything ``build_people`` needs from study.toml, with the study's defaults."""

    workdays: list[str] = field(default_factory=lambda: list(_DAYS[:5]))
    work_start: int = 8 * 60
    work_end: int = 19 * 60
    public_holidays: str = "FR"
    extra_holidays: list[str] = field(default_factory=list)
    min_messages: int = 20
    min_active_days: int = 10
    habits: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_HABITS))
    work_pattern: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WORK_PATTERN))
    min_group_size: int = 10
    batch_bytes: int = 128 * 2**20  # Parquet bytes read per batch: bounds memory

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | Study | ProfileConfig | None) -> ProfileConfig:
        if isinstance(cfg, ProfileConfig):
            return cfg
        if isinstance(cfg, Study):
            mgs = cfg.min_group_size
            cfg = cfg.config
        else:
            cfg = cfg or {}
            mgs = int(cfg.get("privacy", {}).get("min_group_size", 10))
        t, p = cfg.get("time", {}), cfg.get("profile", {})
        days = [str(d).lower()[:3] for d in t.get("workdays", _DAYS[:5])]
        bad = [d for d in days if d not in _DAYS]
        if bad:
            raise ProfileError(f"[time] workdays: unknown day(s) {', '.join(bad)}; use "
                               f"{', '.join(_DAYS)}")
        out = cls(
            workdays=days, work_start=_minutes(t.get("work_start", "08:00")),
            work_end=_minutes(t.get("work_end", "19:00")),
            public_holidays=str(t.get("public_holidays", "FR")),
            extra_holidays=[str(x) for x in t.get("extra_holidays", [])],
            min_messages=int(p.get("min_messages", 20)),
            min_active_days=int(p.get("min_active_days", 10)),
            habits={**DEFAULT_HABITS, **dict(p.get("habits", {}))},
            work_pattern={**DEFAULT_WORK_PATTERN, **dict(p.get("work_pattern", {}))},
            min_group_size=mgs, batch_bytes=int(p.get("batch_mb", 128) * 2**20),
        )
        if out.work_end <= out.work_start:
            raise ProfileError("[time] work_end must be after work_start")
        out.rules()  # validate early
        return out

    @property
    def weekmask(self) -> str:
        return "".join("1" if d in self.workdays else "0" for d in _DAYS)

    def calendar(self, first_year: int, last_year: int) -> np.busdaycalendar:
        try:
            days = hol.holidays(range(first_year, last_year + 1), self.public_holidays,
                                self.extra_holidays)
        except ValueError as exc:
            raise ProfileError(f"[time] {exc}") from exc
        return np.busdaycalendar(weekmask=self.weekmask,
                                 holidays=np.array(days, dtype="datetime64[D]"))

    def rules(self) -> list[Rule]:
        return [Rule.parse(k, v, schema.FEATURE_NAMES) for k, v in self.habits.items() if v]


# -- reading ---------------------------------------------------------------------------------
def _id64(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """uint64 of string ids; nulls -> 0. Pseudonyms ('m' + 16 hex) are parsed, not hashed."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    nulls = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else None
    filled = pc.fill_null(arr, "x0000000000000000") if arr.null_count else arr
    filled = filled.cast(pa.string())
    lens = pc.utf8_length(filled).to_numpy(zero_copy_only=False)
    if (lens == 17).all():
        offs = np.frombuffer(filled.buffers()[1], dtype=np.int32)[filled.offset:]
        data = np.frombuffer(filled.buffers()[2], dtype=np.uint8)
        chars = data[offs[0]:offs[0] + 17 * n].reshape(n, 17)[:, 1:]
        vals = _HEX[chars]
        if (vals != 255).all():
            v = np.zeros(n, dtype=np.uint64)
            for i in range(16):
                v = (v << np.uint64(4)) | vals[:, i].astype(np.uint64)
            if nulls is not None:
                v[nulls] = 0
            return v
    v = pd.util.hash_array(np.asarray(filled.to_pylist(), dtype=object)).astype(np.uint64)
    if nulls is not None:
        v[nulls] = 0
    return v


_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate("0123456789abcdef"):
    _HEX[ord(_c)] = _i
    _HEX[ord(_c.upper())] = _i


def _owner_in(lists: pa.ChunkedArray | pa.Array, g: np.ndarray,
              names: pa.Array) -> np.ndarray:
    """Row mask: does the row's list hold the row's owner? Pure Arrow/numpy: list items are
    coded against the batch's mailbox dictionary and compared with the row's code."""
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    n = len(lists)
    out = np.zeros(n, dtype=bool)
    if n == 0:
        return out
    flat = pc.list_flatten(lists)
    if len(flat) == 0:
        return out
    parent = pc.list_parent_indices(lists).to_numpy()
    code = pc.fill_null(pc.index_in(flat, value_set=names), -1).to_numpy()
    out[parent[code == g[parent]]] = True
    return out


def _first(key: np.ndarray) -> np.ndarray:
    """Mask of the first occurrence of each key (hash-based, order kept)."""
    return ~pd.Series(key, copy=False).duplicated().to_numpy()


def _fragments_by_mailbox(dataset: ds.FileSystemDataset
                          ) -> list[tuple[str, list[ds.Fragment], int]]:
    """(mailbox, its files, their size in bytes), by mailbox. Sizes come from one stat per
    file: opening 5,000 Parquet footers just to count rows would cost seconds."""
    frags = list(dataset.get_fragments())
    sizes = [i.size for i in dataset.filesystem.get_file_info([f.path for f in frags])]
    groups: dict[str, tuple[list[ds.Fragment], list[int]]] = {}
    for frag, size in zip(frags, sizes, strict=True):
        mb = ds.get_partition_keys(frag.partition_expression).get("mailbox")
        if mb is None:
            raise ProfileError("the messages dataset is not partitioned by mailbox")
        g = groups.setdefault(str(mb), ([], [0]))
        g[0].append(frag)
        g[1][0] += int(size or 0)
    return [(mb, f, n[0]) for mb, (f, n) in sorted(groups.items())]


def iter_message_batches(path: Path | str,
                         batch_bytes: int = 128 * 2**20) -> Iterator[pa.Table]:
    """Arrow tables of the needed columns, whole mailboxes at a time, about ``batch_bytes`` of
    Parquet files per batch (0: one mailbox per batch).

    A batch never splits a mailbox (a bigger mailbox is a batch alone); its files are read
    together by Arrow's threaded scanner, the mailbox column coming from each file's hive
    partition.
    """
    path = Path(path)
    if not path.exists():
        return
    target = schema.arrow_schema("messages")
    dataset = ds.dataset(path, schema=target, format="parquet", partitioning="hive")
    pending: list[ds.Fragment] = []
    size = 0

    def read(frags: list[ds.Fragment]) -> pa.Table:
        sub = ds.FileSystemDataset(frags, target, dataset.format, dataset.filesystem)
        return sub.to_table(columns=NEEDED_COLUMNS)

    for _mb, frags, nbytes in _fragments_by_mailbox(dataset):
        if pending and size + nbytes > batch_bytes:
            yield read(pending)
            pending, size = [], 0
        pending.extend(frags)
        size += nbytes
    if pending:
        yield read(pending)


def _frames_to_tables(frames: Iterable[pd.DataFrame]) -> Iterator[pa.Table]:
    target = schema.arrow_schema("messages")
    fields = [target.field(c) for c in NEEDED_COLUMNS]
    for df in frames:
        schema.check(df, "messages")
        yield pa.Table.from_pandas(df[NEEDED_COLUMNS], schema=pa.schema(fields),
                                   preserve_index=False)


# -- per-mailbox features --------------------------------------------------------------------
def _np(col: pa.ChunkedArray, fill: Any = None) -> np.ndarray:
    if fill is not None and col.null_count:
        col = pc.fill_null(col, fill)
    return col.to_numpy()


def _ts(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """int64 microseconds and a validity mask."""
    c = col.cast(pa.timestamp("us", tz=col.type.tz)) if col.type.unit != "us" else col
    valid = ~pc.is_null(c).to_numpy(zero_copy_only=False)
    v = pc.fill_null(c.cast(pa.int64()), 0).to_numpy()
    return v, valid


def _median_by(codes: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    out = np.full(size, np.nan)
    if len(codes):
        med = pd.Series(values).groupby(codes).median()
        out[med.index.to_numpy()] = med.to_numpy()
    return out


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def batch_features(t: pa.Table, cfg: ProfileConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """Features of every mailbox in one Arrow batch; also the batch's message ids (for the
    organisation's deduplicated total)."""
    enc = pc.dictionary_encode(t["mailbox"]).combine_chunks()
    g = enc.indices.to_numpy().astype(np.int64)
    names = enc.dictionary.to_pylist()
    G = len(names)
    in_to = _owner_in(t["to"], g, enc.dictionary)
    in_cc = _owner_in(t["cc"], g, enc.dictionary)
    sent_dir = _np(pc.equal(t["direction"], "sent"), False).astype(bool)
    role = t["folder_role"]
    drafts = _np(pc.equal(role, "drafts"), False).astype(bool)
    junk = _np(pc.equal(role, "junk"), False).astype(bool)
    inbox = _np(pc.equal(role, "inbox"), False).astype(bool)
    filed = _np(pc.is_in(role, pa.array(["archive", "other"])), False).astype(bool)
    mid = _id64(t["message_id"])
    irt = _id64(t["in_reply_to"])
    fid = _id64(t["folder_id"])
    t_loc, loc_ok = _ts(t["date_local"])
    t_utc, utc_ok = _ts(t["date_utc"])
    bulk = _np(t["is_bulk"], False).astype(bool)
    seen_known = ~pc.is_null(t["seen"]).to_numpy(zero_copy_only=False)
    unseen = seen_known & ~_np(t["seen"], True).astype(bool)
    client = t["client_family"]
    mobile = _np(pc.is_in(client, pa.array(["mobile_ios", "mobile_android"])), False)
    mobile = mobile.astype(bool)
    n_rcpt = (_np(t["n_to"], 0) + _np(t["n_cc"], 0) + _np(t["n_bcc"], 0)).astype(np.float64)
    n_ext = _np(t["n_external"], 0).astype(np.float64)
    attach = _np(t["n_attachments"], 0) > 0
    text_kb = _np(t["text_bytes"], 0).astype(np.float64) / 1024.0
    is_reply = _np(t["is_reply"], False).astype(bool)
    is_fwd = _np(t["is_forward"], False).astype(bool)

    gmix = g.astype(np.uint64) * _MIX
    # one row per (mailbox, message, direction): copies in several folders count once
    msg = ~(drafts | junk)
    key = mid ^ gmix ^ sent_dir.astype(np.uint64)
    first = np.zeros(len(g), dtype=bool)
    first[msg] = _first(key[msg])
    M = msg & first
    S = M & sent_dir
    R = M & ~sent_dir

    def cnt(mask: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(g[mask], weights=None if w is None else w[mask], minlength=G)

    n_messages = cnt(M)
    # days and period
    day = t_loc // _US_DAY
    dated = M & loc_ok
    dkey = (g[dated] << 24) | (day[dated] + (1 << 23))
    ukeys = pd.unique(dkey)
    active_days = np.bincount((ukeys >> 24).astype(np.int64), minlength=G)
    first_day = np.full(G, np.iinfo(np.int64).max)
    last_day = np.full(G, np.iinfo(np.int64).min)
    if dated.any():
        s = pd.Series(day[dated]).groupby(g[dated]).agg(["min", "max"])
        first_day[s.index.to_numpy()] = s["min"].to_numpy()
        last_day[s.index.to_numpy()] = s["max"].to_numpy()
    has_period = first_day <= last_day
    workdays = np.zeros(G, dtype=np.float64)
    if has_period.any():
        y0 = int(np.datetime64(int(first_day[has_period].min()), "D").astype(object).year)
        y1 = int(np.datetime64(int(last_day[has_period].max()), "D").astype(object).year)
        cal = cfg.calendar(y0, y1)
        a = first_day[has_period].astype("datetime64[D]")
        b = (last_day[has_period] + 1).astype("datetime64[D]")
        workdays[has_period] = np.maximum(np.busday_count(a, b, busdaycal=cal), 1)
    else:
        cal = cfg.calendar(2000, 2000)
    # sent-side time features
    Sd = S & loc_ok
    minute = (t_loc % _US_DAY) // _US_MIN
    busday = np.zeros(len(g), dtype=bool)
    if Sd.any():
        busday[Sd] = np.is_busday(day[Sd].astype("datetime64[D]"), busdaycal=cal)
    before = minute < cfg.work_start
    after = minute >= cfg.work_end
    outside = ~busday | before | after
    n_sent = cnt(S)
    n_sent_d = cnt(Sd)
    span = np.full(G, np.nan)
    if Sd.any():
        sk = (g[Sd] << 24) | (day[Sd] + (1 << 23))
        sp = pd.Series(t_loc[Sd]).groupby(sk).agg(["min", "max"])
        hours = (sp["max"].to_numpy() - sp["min"].to_numpy()) / 3.6e9
        span = _median_by((sp.index.to_numpy() >> 24).astype(np.int64), hours, G)
    # replies: a sent message whose In-Reply-To is a received message of the same mailbox
    Rk = R & (mid != 0)
    recv_key = mid[Rk] ^ gmix[Rk]
    Sr = S & (irt != 0)
    sent_irt_key = irt[Sr] ^ gmix[Sr]
    to_me = R & ~bulk & in_to
    replied = np.zeros(len(g), dtype=bool)
    replied[to_me] = np.isin(mid[to_me] ^ gmix[to_me], sent_irt_key)
    delay = np.full(G, np.nan)
    if Sr.any() and Rk.any():
        recv_first = pd.Series(np.where(utc_ok[Rk], t_utc[Rk], np.iinfo(np.int64).max)
                               ).groupby(recv_key).min()
        sent_df = pd.DataFrame({"k": sent_irt_key, "t": t_utc[Sr], "ok": utc_ok[Sr],
                                "g": g[Sr]})
        sent_df = sent_df[sent_df["ok"]]
        rt = recv_first.reindex(sent_df["k"].to_numpy()).to_numpy()
        good = ~np.isnan(rt) & (rt != np.iinfo(np.int64).max)
        d_h = (sent_df["t"].to_numpy()[good] - rt[good]) / 3.6e9
        keep = d_h >= 0
        delay = _median_by(sent_df["g"].to_numpy()[good][keep], d_h[keep], G)
    # folders and filing (every stored copy counts here)
    received_rows = ~sent_dir & (inbox | filed)
    folder_count = np.bincount(g[_first(fid ^ gmix)], minlength=G).astype(np.float64)
    n_recv = cnt(R)
    replies = S & is_reply
    pattern_within = cnt(Sd & ~before & ~after)
    feats = pd.DataFrame({
        "person": names,
        "n_messages": n_messages.astype(np.int64),
        "active_days": active_days.astype(np.int64),
        "sent_per_day": _div(n_sent, workdays),
        "received_per_day": _div(cnt(R & ~bulk), workdays),
        "after_hours_share": _div(cnt(Sd & outside), n_sent_d),
        "weekend_share": _div(cnt(Sd & ~busday), n_sent_d),
        "workday_span_h": span,
        "reply_delay_h": delay,
        "reply_rate": _div(cnt(replied), cnt(to_me)),
        "cc_share": _div(cnt(R & in_cc & ~in_to), n_recv),
        "recipients_per_sent": _div(cnt(S, n_rcpt), n_sent),
        "reply_all_rate": _div(cnt(replies & (n_rcpt > 1)), cnt(replies)),
        "external_share": _div(cnt(S, n_ext), cnt(S, n_rcpt)),
        "attachment_rate": _div(cnt(S & attach), n_sent),
        "sent_text_kb": _median_by(g[S], text_kb[S], G),
        "unread_share": _div(cnt(R & unseen), cnt(R & seen_known)),
        "filing_rate": _div(cnt(received_rows & filed), cnt(received_rows)),
        "folder_count": folder_count,
        "bulk_share": _div(cnt(R & bulk), n_recv),
        "mobile_share": _div(cnt(S & mobile), n_sent),
        "forward_rate": _div(cnt(S & is_fwd), n_sent),
        "_n_sent": n_sent.astype(np.int64),
        "_before": _div(cnt(Sd & before), n_sent_d),
        "_after": _div(cnt(Sd & after), n_sent_d),
        "_within": _div(pattern_within, n_sent_d),
    })
    return feats, mid[msg & (mid != 0)]


def work_pattern(feats: pd.DataFrame, wp: Mapping[str, float]) -> pd.Series:
    """Viva's per-person working-pattern class from the before/within/after shares."""
    b, a, w = (feats[c].to_numpy(dtype=float) for c in ("_before", "_after", "_within"))
    each = float(wp["always_on_min_each"])
    out = np.where(b >= a, "extended_morning", "extended_evening").astype(object)
    out = np.where(w > float(wp["standard_min_within"]), "standard", out)
    out = np.where(w < float(wp["overnight_max_within"]), "overnight", out)
    out = np.where((b > each) & (a > each), "always_on", out)
    out = np.where((feats["_n_sent"].to_numpy() < float(wp["absent_min_sent"])) | np.isnan(w),
                   "absent", out)
    return pd.Series(out, index=feats.index, name="work_pattern")


def _habits(feats: pd.DataFrame, rules: list[Rule]) -> list[list[str]]:
    hits = np.column_stack([r.apply(feats) for r in rules]) if rules else \
        np.zeros((len(feats), 0), dtype=bool)
    labels = [r.label for r in rules]
    return [[labels[j] for j in np.flatnonzero(row)] for row in hits]


# -- the stage -------------------------------------------------------------------------------
def build_people(messages: Path | str | Iterable[pd.DataFrame], directory_df: pd.DataFrame,
                 config: Mapping[str, Any] | Study | ProfileConfig | None = None,
                 *, optouts: Iterable[str] = ()) -> tuple[pd.DataFrame, dict[str, int]]:
    """One row per person with enough data (PEOPLE contract), and the counts of the others.

    ``messages`` is the hive-partitioned dataset folder, or an iterable of per-mailbox
    DataFrames with the MESSAGES columns. Counts name who was left out and why:
    below the thresholds, opted out, mailboxes without a directory row, directory people
    without a mailbox; and the organisation's totals (messages deduplicated on message_id).
    """
    cfg = ProfileConfig.from_config(config)
    batches: Iterable[pa.Table]
    if isinstance(messages, str | Path):
        batches = iter_message_batches(messages, cfg.batch_bytes)
    else:
        batches = _frames_to_tables(messages)
    parts, ids, rows = [], [], 0
    for t in batches:
        if len(t) == 0:
            continue
        rows += len(t)
        f, m = batch_features(t, cfg)
        parts.append(f)
        ids.append(m)
    feats = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame({"person": pd.Series(dtype=object),
                                **{c: pd.Series(dtype="int64")
                                   for c in ("n_messages", "active_days", "_n_sent")},
                                **{c: pd.Series(dtype="float64") for c in
                                   [*schema.FEATURE_NAMES, "_before", "_after", "_within"]}}))
    feats = feats.groupby("person", sort=True).first().reset_index() \
        if feats["person"].duplicated().any() else feats
    all_ids = pd.unique(np.concatenate(ids)) if ids else np.zeros(0)
    d = directory_df if directory_df is not None else pd.DataFrame(columns=["person"])
    d = d.drop_duplicates("person")
    d_people = set(d["person"])
    mb_people = set(feats["person"])
    opt = {p for p in d_people | mb_people if p in optouts}
    counts: dict[str, int] = {
        "rows": int(rows),
        "messages_unique": int(len(all_ids)),
        "mailboxes": len(mb_people),
        "directory_people": len(d_people),
        "directory_without_mailbox": len(d_people - mb_people - opt),
        "mailbox_without_directory": len(mb_people - d_people - opt),
        "opted_out": len(mb_people & opt),
    }
    feats = feats[~feats["person"].isin(opt)]
    few_msg = feats["n_messages"] < cfg.min_messages
    few_days = feats["active_days"] < cfg.min_active_days
    counts["below_min_messages"] = int(few_msg.sum())
    counts["below_min_active_days"] = int((few_days & ~few_msg).sum())
    feats = feats[~(few_msg | few_days)].reset_index(drop=True)
    feats["work_pattern"] = pd.Series(work_pattern(feats, cfg.work_pattern).to_numpy(),
                                      index=feats.index, dtype=object)
    feats["habits"] = pd.Series(_habits(feats, cfg.rules()), index=feats.index, dtype=object)
    cols = ["person", "level", "level_rank", "direction", "service", "roles"]
    dd = d[[c for c in cols if c in d.columns]]
    people = feats.merge(dd, on="person", how="left")
    people["level"] = people.get("level", pd.Series(index=people.index, dtype=object)
                                 ).fillna(UNKNOWN).astype(object)
    people["level_rank"] = people.get("level_rank", pd.Series(index=people.index, dtype=float)
                                      ).fillna(-1).astype("int16")
    for c in ("direction", "service"):
        people[c] = people.get(c, pd.Series(index=people.index, dtype=object)
                               ).fillna(UNKNOWN).astype(object)
    if "roles" not in people:
        people["roles"] = None
    people["roles"] = pd.Series([list(r) if isinstance(r, list | np.ndarray) else []
                                 for r in people["roles"]], index=people.index, dtype=object)
    people = people[schema.names("people")]
    counts["people"] = len(people)
    counts["people_without_directory"] = int((~people["person"].isin(d_people)).sum())
    return schema.check(people, "people"), counts


# -- group profiles --------------------------------------------------------------------------
GROUPINGS = ("level", "direction", "habit", "level_habit", "work_pattern")
TOTAL_LABEL = "Total"


def _stats(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """n_people and, per feature, median, quartiles, IQR and the count of values."""
    feats = schema.FEATURE_NAMES
    if by:
        grp = df.groupby(by, sort=False, observed=True)
        out = grp["person"].nunique().rename("n_people").to_frame()
        q1, med, q3 = (grp[feats].quantile(q) for q in (0.25, 0.5, 0.75))
        cnt = grp[feats].count()
    else:
        out = pd.DataFrame({"n_people": [df["person"].nunique()]})
        q1, med, q3 = (df[feats].quantile(q).to_frame().T for q in (0.25, 0.5, 0.75))
        cnt = df[feats].count().to_frame().T
    cols = {}
    for f in feats:
        cols[f"{f}_median"] = med[f].to_numpy(dtype=float)
        cols[f"{f}_q1"] = q1[f].to_numpy(dtype=float)
        cols[f"{f}_q3"] = q3[f].to_numpy(dtype=float)
        cols[f"{f}_iqr"] = cols[f"{f}_q3"] - cols[f"{f}_q1"]
        cols[f"{f}_n"] = cnt[f].to_numpy(dtype=float)
    out = pd.concat([out, pd.DataFrame(cols, index=out.index)], axis=1)
    return out.reset_index(drop=not by)


def _linked(people: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """Cells of every combination of ``dims`` and their margins (TOTAL)."""
    frames = []
    n = len(dims)
    for mask in range(2 ** n):
        keep = [d for i, d in enumerate(dims) if not mask & (1 << i)]
        s = _stats(people, keep)
        for d in dims:
            if d not in keep:
                s[d] = disclosure.TOTAL
        frames.append(s)
    return pd.concat(frames, ignore_index=True)


@dataclass
class GroupProfiles:
    tables: dict[str, pd.DataFrame]
    suppression: pd.DataFrame  # one row per linked structure: cells, primary, secondary...

    @property
    def n_suppressed(self) -> int:
        return int(self.suppression[["primary", "secondary"]].to_numpy().sum())


def _complete(cells: pd.DataFrame, dims: list[str],
              values: Mapping[str, Iterable[str]]) -> pd.DataFrame:
    """Every combination of ``values`` as a row, empty ones with n_people 0.

    Why: listing only the non-empty combinations, even hidden, would tell that a one-person
    group (the DGS, say) has a given habit. With every combination listed, a hidden cell may
    as well be empty.
    """
    grid = pd.MultiIndex.from_product([list(dict.fromkeys(values[d])) for d in dims],
                                      names=dims).to_frame(index=False)
    as_obj = {d: object for d in dims}
    out = grid.astype(as_obj).merge(cells.astype(as_obj), on=dims, how="left")
    out["n_people"] = out["n_people"].fillna(0).astype("int64")
    ncols = [c for c in out.columns if c.endswith("_n")]
    out[ncols] = out[ncols].fillna(0)
    return out


def group_profiles(people: pd.DataFrame, min_group_size: int,
                   habit_labels: Iterable[str] = ()) -> GroupProfiles:
    """Group tables by level, direction, habit, level x habit and working pattern.

    Each table has ``n_people`` and median, quartiles and IQR of every feature. Cells under
    ``min_group_size`` people are hidden with their complements (level x habit is linked to
    the level and habit tables as its margins, every table to the grand total), and any
    statistic resting on fewer than ``min_group_size`` values is blanked. Habit and
    working-pattern tables list every label (``habit_labels``, plus "aucune"), empty or not.
    """
    people = people.copy()
    people[schema.FEATURE_NAMES] = people[schema.FEATURE_NAMES].astype("float64")
    people["habit"] = [list(h) if len(h) else [NO_HABIT] for h in people["habits"]]
    exploded = people.explode("habit")
    habits = [*habit_labels, *sorted(set(exploded["habit"].dropna())), NO_HABIT]
    levels = list(people["level"].unique())
    structures = {
        "level_habit": (exploded, ["level", "habit"]),
        "direction": (people, ["direction"]),
        "work_pattern": (people, ["work_pattern"]),
    }
    released: dict[str, pd.DataFrame] = {}
    summary = []
    stat_cols = [f"{f}_{s}" for f in schema.FEATURE_NAMES for s in ("median", "q1", "q3", "iqr")]
    for name, (df, dims) in structures.items():
        # level x habit: the level margin counts people, not (person, habit) rows
        if name == "level_habit":
            cells = pd.concat([
                _complete(_stats(df, dims), dims, {"level": levels, "habit": habits}),
                _stats(people, ["level"]).assign(habit=disclosure.TOTAL),
                _complete(_stats(df, ["habit"]), ["habit"], {"habit": habits}
                          ).assign(level=disclosure.TOTAL),
                _stats(people, []).assign(level=disclosure.TOTAL, habit=disclosure.TOTAL),
            ], ignore_index=True)
        elif name == "work_pattern":
            cells = pd.concat([
                _complete(_stats(df, dims), dims, {"work_pattern": WORK_PATTERNS}),
                _stats(df, []).assign(work_pattern=disclosure.TOTAL)], ignore_index=True)
        else:
            cells = _linked(df, dims)
        res = disclosure.suppress_linked(cells, dims, "n_people", min_group_size)
        cells = disclosure.apply_suppression(cells, res, ["n_people", *stat_cols])
        stat_n = {f"{f}_{s}": f"{f}_n" for f in schema.FEATURE_NAMES
                  for s in ("median", "q1", "q3", "iqr")}
        cells, blanked = disclosure.mask_small_stats(cells, stat_n, min_group_size)
        cells = cells.drop(columns=list(set(stat_n.values())))
        summary.append({"structure": name, "cells": len(cells), "primary": res.n_primary,
                        "secondary": res.n_secondary, "blanked_statistics": blanked})
        released[name] = cells
    tables: dict[str, pd.DataFrame] = {}
    rank = people.groupby("level")["level_rank"].first().to_dict()

    def finish(df: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
        df = df.copy()
        for d in dims:
            df[d] = df[d].replace(disclosure.TOTAL, TOTAL_LABEL)
        order = [c for c in [*dims, "n_people", "suppressed"]]
        df = df[order + [c for c in df.columns if c not in order]]
        if "level" in dims:
            df["_r"] = df["level"].map(lambda x: rank.get(x, 99) if x != TOTAL_LABEL else 999)
            df.loc[df["_r"] < 0, "_r"] = 98
            df = df.sort_values(["_r", *[d for d in dims if d != "level"]]).drop(columns="_r")
        else:
            df["_t"] = df[dims[0]] == TOTAL_LABEL
            df = df.sort_values(["_t", dims[0]]).drop(columns="_t")
        return df.reset_index(drop=True)

    lh = released["level_habit"]
    tables["level"] = finish(lh[lh["habit"] == disclosure.TOTAL].drop(columns="habit"),
                             ["level"])
    tables["habit"] = finish(lh[lh["level"] == disclosure.TOTAL].drop(columns="level"),
                             ["habit"])
    tables["level_habit"] = finish(lh[(lh["level"] != disclosure.TOTAL)
                                      & (lh["habit"] != disclosure.TOTAL)], ["level", "habit"])
    tables["direction"] = finish(released["direction"], ["direction"])
    tables["work_pattern"] = finish(released["work_pattern"], ["work_pattern"])
    return GroupProfiles(tables, pd.DataFrame(summary))


# -- I/O edges -------------------------------------------------------------------------------
@dataclass
class ProfileResult:
    people: pd.DataFrame
    counts: dict[str, int]
    groups: GroupProfiles
    files: list[Path]


def write_people(study: Study, people: pd.DataFrame) -> Path:
    dest = study.data / PEOPLE_FILE
    dest.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(people, schema=schema.arrow_schema("people"),
                                 preserve_index=False)
    atomic_write_table(table, dest)
    return dest


def load_people(study: Study) -> pd.DataFrame:
    p = study.data / PEOPLE_FILE
    if not p.exists():
        raise StudyError("no data/people.parquet yet: run 'mailstudy profile' first")
    return schema.check(pq.read_table(p).to_pandas(), "people")


def run_profile(study: Study, *, lang: str | None = None,
                charts: bool = True) -> ProfileResult:
    """``mailstudy profile``: people table in ``data/``, group profiles in ``out/profiles/``.

    Needs no key: it reads only pseudonymised tables.
    """
    from reports import profiles as render

    cfg = ProfileConfig.from_config(study)
    directory = load_directory(study)
    people, counts = build_people(study.messages_dir, directory, cfg,
                                  optouts=read_optouts(study))
    write_people(study, people)
    groups = group_profiles(people, cfg.min_group_size, habit_labels=cfg.habits)
    out = study.out / "profiles"
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name, df in groups.tables.items():
        p = out / f"by_{name}.csv"
        df.to_csv(p, index=False, float_format="%.4g")
        files.append(p)
    p = out / "suppression.csv"
    groups.suppression.to_csv(p, index=False)
    files.append(p)
    if charts and len(people):
        files += render.render_group_charts(
            groups.tables, out, lang=lang or study.section("report").get("lang", "fr"))
    return ProfileResult(people, counts, groups, files)
