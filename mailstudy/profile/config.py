"""Profile configuration: working hours and days, thresholds, and the habit rules.

Habit labels are rules on the features, configurable in ``[profile.habits]`` as
``label = "feature >= value and feature < value or ..."`` (``and`` binds tighter than ``or``;
a missing feature never satisfies a clause). Viva Insights' working-pattern class uses the
share of sent messages before, within and after working hours (all days), thresholds in
``[profile.work_pattern]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mailstudy import holidays as hol
from mailstudy import schema
from mailstudy.study import Study, StudyError, config_int

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
#: the profile stage's default memory budget, in MB (``[profile] memory_mb``)
DEFAULT_MEMORY_MB = 1024
# Measured with benchmarks/bench_profile.py: the interpreter with pandas, pyarrow and numpy,
# and the peak resident bytes per byte of Parquet in a batch (Arrow buffers, numpy columns,
# the temporaries of the features).
_BASE_MB = 300
_RSS_PER_PARQUET_BYTE = 7.0
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ProfileError(StudyError):
    """The profile cannot be built as configured; the message says what to fix."""


def _minutes(hhmm: str) -> int:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(hhmm).strip())
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59:
        raise ProfileError("[time] expects HH:MM, got {hhmm!r}", hhmm=hhmm)
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
                    raise ProfileError("[profile.habits] {label}: cannot read {cl!r}; write "
                                       "'feature >= number' joined by and/or, with a feature "
                                       "among: {feats}",
                                       label=label, cl=cl, feats=", ".join(sorted(feats)))
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
    #: the stage's memory budget (``[profile] memory_mb``): sets the batch size and DuckDB's
    #: limit, whatever the number of rows or people
    memory_mb: int = DEFAULT_MEMORY_MB
    #: Parquet bytes read per batch (``[profile] batch_mb``); None: derived from memory_mb
    batch_bytes: int | None = None

    @property
    def batch_budget(self) -> int:
        """Parquet bytes per batch: ``batch_bytes`` when set, else what ``memory_mb`` holds
        once the interpreter and libraries are counted (0: one mailbox per batch)."""
        if self.batch_bytes is not None:
            return max(int(self.batch_bytes), 0)
        usable = (self.memory_mb - _BASE_MB) * 2**20
        return max(int(usable / _RSS_PER_PARQUET_BYTE), 0)

    @property
    def duckdb_memory_mb(self) -> int:
        """DuckDB's limit for the distinct-message count: it runs after the batches, whose
        memory is free by then."""
        return max(int((self.memory_mb - _BASE_MB) * 0.8), 64)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | Study | ProfileConfig | None) -> ProfileConfig:
        if isinstance(cfg, ProfileConfig):
            return cfg
        if isinstance(cfg, Study):
            mgs = cfg.min_group_size
            cfg = cfg.config
        else:
            cfg = cfg or {}
            mgs = config_int(cfg.get("privacy", {}).get("min_group_size", 10),
                             "privacy.min_group_size")
        t, p = cfg.get("time", {}), cfg.get("profile", {})
        days = [str(d).lower()[:3] for d in t.get("workdays", _DAYS[:5])]
        bad = [d for d in days if d not in _DAYS]
        if bad:
            raise ProfileError("[time] workdays: unknown day(s) {bad}; use "
                               "{days}", bad=", ".join(bad), days=", ".join(_DAYS))
        out = cls(
            workdays=days, work_start=_minutes(t.get("work_start", "08:00")),
            work_end=_minutes(t.get("work_end", "19:00")),
            public_holidays=str(t.get("public_holidays", "FR")),
            extra_holidays=[str(x) for x in t.get("extra_holidays", [])],
            min_messages=config_int(p.get("min_messages", 20), "[profile] min_messages"),
            min_active_days=config_int(p.get("min_active_days", 10),
                                       "[profile] min_active_days"),
            habits={**DEFAULT_HABITS, **dict(p.get("habits", {}))},
            work_pattern={**DEFAULT_WORK_PATTERN, **dict(p.get("work_pattern", {}))},
            min_group_size=mgs, memory_mb=config_int(p.get("memory_mb", DEFAULT_MEMORY_MB),
                                                     "[profile] memory_mb"),
            batch_bytes=int(p["batch_mb"] * 2**20) if "batch_mb" in p else None,
        )
        if out.memory_mb <= 0:
            raise ProfileError("[profile] memory_mb must be a positive number of megabytes")
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
            raise ProfileError("[time] {exc}", exc=exc) from exc
        return np.busdaycalendar(weekmask=self.weekmask,
                                 holidays=np.array(days, dtype="datetime64[D]"))

    def rules(self) -> list[Rule]:
        return [Rule.parse(k, v, schema.FEATURE_NAMES) for k, v in self.habits.items() if v]

