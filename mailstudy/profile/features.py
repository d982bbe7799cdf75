"""Per-mailbox features of one Arrow batch, vectorised (bincount over mailbox codes).

Every feature follows its definition in :data:`mailstudy.schema.FEATURES`.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class _Columns:
    """One batch's columns as numpy, one entry per stored copy (row)."""

    mailbox_code: np.ndarray  # int64 code of the row's mailbox in ``mailbox_names``
    mailbox_names: list[str]
    owner_in_to: np.ndarray
    owner_in_cc: np.ndarray
    sent_direction: np.ndarray
    is_draft: np.ndarray
    is_junk: np.ndarray
    in_inbox: np.ndarray
    is_filed: np.ndarray  # archive or other folder
    message_id: np.ndarray  # uint64, 0 when missing
    in_reply_to: np.ndarray
    folder_id: np.ndarray
    local_us: np.ndarray
    local_valid: np.ndarray
    utc_us: np.ndarray
    utc_valid: np.ndarray
    is_bulk: np.ndarray
    seen_known: np.ndarray
    unseen: np.ndarray
    is_mobile: np.ndarray
    n_recipients: np.ndarray
    n_external: np.ndarray
    has_attachment: np.ndarray
    text_kb: np.ndarray
    is_reply: np.ndarray
    is_forward: np.ndarray

    @property
    def n_mailboxes(self) -> int:
        return len(self.mailbox_names)

    @property
    def mailbox_salt(self) -> np.ndarray:
        """Per row, a mailbox-specific value to XOR into ids so keys never match across
        mailboxes."""
        return self.mailbox_code.astype(np.uint64) * _MIX

    def count(self, mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Per mailbox, the number (or the sum of ``weights``) of the rows in ``mask``."""
        return np.bincount(self.mailbox_code[mask],
                           weights=None if weights is None else weights[mask],
                           minlength=self.n_mailboxes)


def _flag(column: pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow column as numpy, nulls false."""
    return _np(column, False).astype(bool)


def _read_columns(table: pa.Table) -> _Columns:
    encoded = pc.dictionary_encode(table["mailbox"]).combine_chunks()
    mailbox_code = encoded.indices.to_numpy().astype(np.int64)
    role = table["folder_role"]
    local_us, local_valid = _ts(table["date_local"])
    utc_us, utc_valid = _ts(table["date_utc"])
    seen_known = ~pc.is_null(table["seen"]).to_numpy(zero_copy_only=False)
    n_recipients = (_np(table["n_to"], 0) + _np(table["n_cc"], 0) + _np(table["n_bcc"], 0)
                    ).astype(np.float64)
    return _Columns(
        mailbox_code=mailbox_code,
        mailbox_names=encoded.dictionary.to_pylist(),
        owner_in_to=_owner_in(table["to"], mailbox_code, encoded.dictionary),
        owner_in_cc=_owner_in(table["cc"], mailbox_code, encoded.dictionary),
        sent_direction=_flag(pc.equal(table["direction"], "sent")),
        is_draft=_flag(pc.equal(role, "drafts")),
        is_junk=_flag(pc.equal(role, "junk")),
        in_inbox=_flag(pc.equal(role, "inbox")),
        is_filed=_flag(pc.is_in(role, pa.array(["archive", "other"]))),
        message_id=_id64(table["message_id"]),
        in_reply_to=_id64(table["in_reply_to"]),
        folder_id=_id64(table["folder_id"]),
        local_us=local_us, local_valid=local_valid, utc_us=utc_us, utc_valid=utc_valid,
        is_bulk=_flag(table["is_bulk"]),
        seen_known=seen_known,
        unseen=seen_known & ~_np(table["seen"], True).astype(bool),
        is_mobile=_flag(pc.is_in(table["client_family"],
                                 pa.array(["mobile_ios", "mobile_android"]))),
        n_recipients=n_recipients,
        n_external=_np(table["n_external"], 0).astype(np.float64),
        has_attachment=_np(table["n_attachments"], 0) > 0,
        text_kb=_np(table["text_bytes"], 0).astype(np.float64) / 1024.0,
        is_reply=_flag(table["is_reply"]),
        is_forward=_flag(table["is_forward"]),
    )


def _first_copies(cols: _Columns, is_message: np.ndarray) -> np.ndarray:
    """One row per (mailbox, message, direction): copies in several folders count once."""
    key = cols.message_id ^ cols.mailbox_salt ^ cols.sent_direction.astype(np.uint64)
    first = np.zeros(len(cols.mailbox_code), dtype=bool)
    first[is_message] = _first(key[is_message])
    return is_message & first


def _mailbox_day_keys(mailbox_code: np.ndarray, day: np.ndarray) -> np.ndarray:
    """One int64 per (mailbox, day): the mailbox code above bit 24 (``key >> 24``)."""
    return (mailbox_code << 24) | (day + (1 << 23))


def _days(cols: _Columns, counted: np.ndarray, day: np.ndarray, cfg: ProfileConfig
          ) -> tuple[np.ndarray, np.ndarray, np.busdaycalendar]:
    """Per mailbox, the active days and the working days of the observed period (at least
    one); and the study's calendar over the years of the batch."""
    n_mailboxes = cols.n_mailboxes
    dated = counted & cols.local_valid
    active_keys = pd.unique(_mailbox_day_keys(cols.mailbox_code[dated], day[dated]))
    active_days = np.bincount((active_keys >> 24).astype(np.int64), minlength=n_mailboxes)
    first_day = np.full(n_mailboxes, np.iinfo(np.int64).max)
    last_day = np.full(n_mailboxes, np.iinfo(np.int64).min)
    if dated.any():
        bounds = pd.Series(day[dated]).groupby(cols.mailbox_code[dated]).agg(["min", "max"])
        first_day[bounds.index.to_numpy()] = bounds["min"].to_numpy()
        last_day[bounds.index.to_numpy()] = bounds["max"].to_numpy()
    has_period = first_day <= last_day
    workdays = np.zeros(n_mailboxes, dtype=np.float64)
    if not has_period.any():
        return active_days, workdays, cfg.calendar(2000, 2000)
    first_year = int(np.datetime64(int(first_day[has_period].min()), "D").astype(object).year)
    last_year = int(np.datetime64(int(last_day[has_period].max()), "D").astype(object).year)
    calendar = cfg.calendar(first_year, last_year)
    period_start = first_day[has_period].astype("datetime64[D]")
    period_end = (last_day[has_period] + 1).astype("datetime64[D]")
    workdays[has_period] = np.maximum(
        np.busday_count(period_start, period_end, busdaycal=calendar), 1)
    return active_days, workdays, calendar


def _sent_times(cols: _Columns, sent_dated: np.ndarray, day: np.ndarray,
                calendar: np.busdaycalendar, cfg: ProfileConfig
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row: sent on a working day, before working hours, after them; per mailbox: the
    median span in hours from the first to the last message sent in a day."""
    minute = (cols.local_us % _US_DAY) // _US_MIN
    on_workday = np.zeros(len(cols.mailbox_code), dtype=bool)
    span_h = np.full(cols.n_mailboxes, np.nan)
    if sent_dated.any():
        on_workday[sent_dated] = np.is_busday(day[sent_dated].astype("datetime64[D]"),
                                              busdaycal=calendar)
        day_keys = _mailbox_day_keys(cols.mailbox_code[sent_dated], day[sent_dated])
        day_bounds = pd.Series(cols.local_us[sent_dated]).groupby(day_keys).agg(["min", "max"])
        hours = (day_bounds["max"].to_numpy() - day_bounds["min"].to_numpy()) / 3.6e9
        span_h = _median_by((day_bounds.index.to_numpy() >> 24).astype(np.int64), hours,
                            cols.n_mailboxes)
    before_hours = minute < cfg.work_start
    after_hours = minute >= cfg.work_end
    return on_workday, before_hours, after_hours, span_h


def _replies(cols: _Columns, is_sent: np.ndarray, is_received: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replies: a sent message whose In-Reply-To is a received message of the same mailbox.

    Returns the received rows addressed to the owner (To, not bulk), those of them replied to,
    and per mailbox the median reply delay in hours."""
    salt = cols.mailbox_salt
    received_with_id = is_received & (cols.message_id != 0)
    received_key = cols.message_id[received_with_id] ^ salt[received_with_id]
    sent_answering = is_sent & (cols.in_reply_to != 0)
    answered_key = cols.in_reply_to[sent_answering] ^ salt[sent_answering]
    to_owner = is_received & ~cols.is_bulk & cols.owner_in_to
    replied = np.zeros(len(cols.mailbox_code), dtype=bool)
    replied[to_owner] = np.isin(cols.message_id[to_owner] ^ salt[to_owner], answered_key)
    delay_h = np.full(cols.n_mailboxes, np.nan)
    if sent_answering.any() and received_with_id.any():
        delay_h = _median_reply_delay(cols, received_with_id, received_key, sent_answering,
                                      answered_key)
    return to_owner, replied, delay_h


def _median_reply_delay(cols: _Columns, received_with_id: np.ndarray, received_key: np.ndarray,
                        sent_answering: np.ndarray, answered_key: np.ndarray) -> np.ndarray:
    """Per mailbox, the median hours from a message's first received copy to its reply
    (replies without a date, or dated before the message, are left out)."""
    never = np.iinfo(np.int64).max
    first_received = pd.Series(np.where(cols.utc_valid[received_with_id],
                                        cols.utc_us[received_with_id], never)
                               ).groupby(received_key).min()
    sent = pd.DataFrame({"key": answered_key, "utc_us": cols.utc_us[sent_answering],
                         "valid": cols.utc_valid[sent_answering],
                         "mailbox": cols.mailbox_code[sent_answering]})
    sent = sent[sent["valid"]]
    received_at = first_received.reindex(sent["key"].to_numpy()).to_numpy()
    matched = ~np.isnan(received_at) & (received_at != never)
    delay_h = (sent["utc_us"].to_numpy()[matched] - received_at[matched]) / 3.6e9
    not_before = delay_h >= 0
    return _median_by(sent["mailbox"].to_numpy()[matched][not_before], delay_h[not_before],
                      cols.n_mailboxes)


def batch_features(table: pa.Table, cfg: ProfileConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """Features of every mailbox in one Arrow batch; also the batch's message ids (for the
    organisation's deduplicated total)."""
    cols = _read_columns(table)
    count = cols.count
    is_message = ~(cols.is_draft | cols.is_junk)
    counted = _first_copies(cols, is_message)
    is_sent = counted & cols.sent_direction
    is_received = counted & ~cols.sent_direction
    day = cols.local_us // _US_DAY
    active_days, workdays, calendar = _days(cols, counted, day, cfg)
    sent_dated = is_sent & cols.local_valid
    on_workday, before_hours, after_hours, span_h = _sent_times(cols, sent_dated, day,
                                                                calendar, cfg)
    outside_hours = ~on_workday | before_hours | after_hours
    to_owner, replied, delay_h = _replies(cols, is_sent, is_received)
    # folders and filing (every stored copy counts here)
    received_stored = ~cols.sent_direction & (cols.in_inbox | cols.is_filed)
    folder_count = np.bincount(cols.mailbox_code[_first(cols.folder_id ^ cols.mailbox_salt)],
                               minlength=cols.n_mailboxes).astype(np.float64)
    n_sent, n_sent_dated, n_received = count(is_sent), count(sent_dated), count(is_received)
    sent_replies = is_sent & cols.is_reply
    feats = pd.DataFrame({
        "person": cols.mailbox_names,
        "n_messages": count(counted).astype(np.int64),
        "active_days": active_days.astype(np.int64),
        "sent_per_day": _div(n_sent, workdays),
        "received_per_day": _div(count(is_received & ~cols.is_bulk), workdays),
        "after_hours_share": _div(count(sent_dated & outside_hours), n_sent_dated),
        "weekend_share": _div(count(sent_dated & ~on_workday), n_sent_dated),
        "workday_span_h": span_h,
        "reply_delay_h": delay_h,
        "reply_rate": _div(count(replied), count(to_owner)),
        "cc_share": _div(count(is_received & cols.owner_in_cc & ~cols.owner_in_to), n_received),
        "recipients_per_sent": _div(count(is_sent, cols.n_recipients), n_sent),
        "reply_all_rate": _div(count(sent_replies & (cols.n_recipients > 1)),
                               count(sent_replies)),
        "external_share": _div(count(is_sent, cols.n_external),
                               count(is_sent, cols.n_recipients)),
        "attachment_rate": _div(count(is_sent & cols.has_attachment), n_sent),
        "sent_text_kb": _median_by(cols.mailbox_code[is_sent], cols.text_kb[is_sent],
                                   cols.n_mailboxes),
        "unread_share": _div(count(is_received & cols.unseen),
                             count(is_received & cols.seen_known)),
        "filing_rate": _div(count(received_stored & cols.is_filed), count(received_stored)),
        "folder_count": folder_count,
        "bulk_share": _div(count(is_received & cols.is_bulk), n_received),
        "mobile_share": _div(count(is_sent & cols.is_mobile), n_sent),
        "forward_rate": _div(count(is_sent & cols.is_forward), n_sent),
        "_n_sent": n_sent.astype(np.int64),
        "_before": _div(count(sent_dated & before_hours), n_sent_dated),
        "_after": _div(count(sent_dated & after_hours), n_sent_dated),
        "_within": _div(count(sent_dated & ~before_hours & ~after_hours), n_sent_dated),
    })
    return feats, cols.message_id[is_message & (cols.message_id != 0)]
