"""Per-mailbox features of one Arrow batch, vectorised (bincount over mailbox codes).

Every feature follows its definition in :data:`mailstudy.schema.FEATURES`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mailstudy.profile.batches import _first, _id64, _np, _owner_in, _ts
from mailstudy.profile.config import ProfileConfig

_US_DAY = 86_400_000_000
_US_MIN = 60_000_000
_MIX = np.uint64(0x9E3779B97F4A7C15)


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
