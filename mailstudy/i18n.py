"""Words, dates and numbers in the reader's language: one gettext catalogue per language.

Why a foundation module: the report, the persona sheets, the spreadsheets, the invitations and
the command line all speak to French readers (DCI agents, workshop organisers, the DPO, staff
representatives) and, on request, to English ones. Every wording lives in one translation
table per language, ``mailstudy/locale/<lang>.po`` (gettext, the ecosystem's convention), read
with Babel's pure-Python ``.po`` reader: nothing to compile, nothing downloaded. Dates and
numbers go through Babel (CLDR), never hand-written formats, so "2 décembre 2026", "9 h 30",
"4 577" and "35 %" (narrow no-break spaces) come out as French offices write them.

Usage (see docs/i18n.md)::

    from mailstudy.i18n import tr, label, fmt_date, fmt_pct
    tr("fr", "Nothing collected yet")      # a sentence, English msgid
    label("fr", "habit", "reactif")        # a code name, through its msgctxt
    fmt_date("fr", "2026-12-02")           # '2 décembre 2026'
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext as _gettext
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

LANGS = ("fr", "en")
DEFAULT_LANG = "fr"
LOCALES = {"fr": "fr_FR", "en": "en_GB"}
CATALOGUES = Path(__file__).parent / "locale"
#: Babel date patterns: "jeudi 14 janvier 2027, 9 h 30" / "Thursday 14 January 2027, 09:30".
DATETIME_PATTERN = {"fr": "EEEE d MMMM y, H 'h' mm", "en": "EEEE d MMMM y, HH:mm"}
TIME_PATTERN = {"fr": "H 'h' mm", "en": "HH:mm"}
DASH = "–"


def norm_lang(lang: str | None) -> str:
    """``lang`` if it is a supported language, else the default (French)."""
    lang = (lang or "").split("_")[0].split("-")[0].lower()
    return lang if lang in LANGS else DEFAULT_LANG


def cli_lang(env: Mapping[str, str] | None = None) -> str:
    """The command line's language from the POSIX locale variables (LC_ALL, then
    LC_MESSAGES, then LANG, as gettext reads them): French for ``fr_*``, else English."""
    env = os.environ if env is None else env
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var)
        if value:
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


# -- catalogues -------------------------------------------------------------------------------
@functools.cache
def catalogue(lang: str) -> dict[tuple[str | None, str], str]:
    """``(msgctxt, msgid) -> msgstr`` of ``locale/<lang>.po`` (empty translations left out)."""
    from babel.messages.pofile import read_po

    path = CATALOGUES / f"{norm_lang(lang)}.po"
    with path.open("rb") as f:
        cat = read_po(f, locale=LOCALES[norm_lang(lang)])
    out: dict[tuple[str | None, str], str] = {}
    for msg in cat:
        if msg.id and isinstance(msg.id, str) and msg.string:
            out[(msg.context, msg.id)] = str(msg.string)
    return out


def tr(lang: str | None, msgid: str, context: str | None = None, **fmt: Any) -> str:
    """``msgid`` (English) in ``lang``; the English text itself when no translation exists.
    Keyword arguments fill ``{name}`` placeholders after translation."""
    text = catalogue(norm_lang(lang)).get((context, msgid), msgid)
    return text.format(**fmt) if fmt else text


def label(lang: str | None, kind: str, code: Any) -> str:
    """The reader's name of a code (``habit``, ``work_pattern``, ``weekday``, ``feature``,
    ``direction``...): its catalogue entry under msgctxt ``kind``, else the code with its
    underscores as spaces (a label configured in study.toml and not in the catalogue)."""
    code = str(code)
    found = catalogue(norm_lang(lang)).get((kind, code))
    return found if found else code.replace("_", " ")


def column_doc(lang: str | None, english: str) -> str:
    """A schema column's definition in ``lang`` (msgctxt ``column``); the English
    definition of ``mailstudy/schema.py`` is the msgid, so an edited definition without a
    new translation shows in English and fails the catalogue test."""
    if norm_lang(lang) == "en":
        return english
    return catalogue(norm_lang(lang)).get(("column", english), english)


class Translations(_gettext.NullTranslations):
    """The catalogue as a ``gettext`` object (jinja2's i18n extension, ``gettext`` users)."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = norm_lang(lang)

    def gettext(self, message: str) -> str:
        return tr(self.lang, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return tr(self.lang, singular if n == 1 else plural)

    def pgettext(self, context: str, message: str) -> str:
        return tr(self.lang, message, context)


def translator(lang: str | None) -> Callable[..., str]:
    """``_ = translator("fr")``; then ``_("Nothing deleted")``."""
    lang = norm_lang(lang)
    return functools.partial(tr, lang)


# -- numbers and dates ------------------------------------------------------------------------
def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return False


def fmt_num(lang: str | None, v: Any, digits: int = 0) -> str:
    """A number with ``digits`` decimals: "4 577", "3,5" in French (CLDR via Babel)."""
    from babel.numbers import format_decimal

    if _missing(v):
        return DASH
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(float(v), format=pattern, locale=LOCALES[norm_lang(lang)])


def fmt_pct(lang: str | None, share: Any, digits: int = 0) -> str:
    """A 0-1 share as a percentage: "35 %" (narrow no-break space) in French, "35%"."""
    from babel.numbers import format_percent

    if _missing(share):
        return DASH
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "") + "\u00a0%"
    if norm_lang(lang) == "en":
        pattern = pattern.replace("\u00a0", "")
    text = format_percent(float(share), format=pattern, locale=LOCALES[norm_lang(lang)])
    return text.replace("\u00a0%", "\u202f%")


def _as_date(value: Any) -> dt.date | dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def fmt_date(lang: str | None, value: Any, form: str = "long") -> str:
    """A date as people write it: "2 décembre 2026" (``long``), "mercredi 2 décembre 2026"
    (``full``), the first of the month "1er janvier 2028" in French (CLDR writes "1",
    French usage and the Imprimerie nationale's rules write the ordinal). A value that is
    not a date is returned as given."""
    from babel.dates import format_date

    d = _as_date(value)
    if d is None:
        return str(value) if value not in (None, "") else DASH
    if isinstance(d, dt.datetime):
        d = d.date()
    lang = norm_lang(lang)
    text = format_date(d, form, locale=LOCALES[lang])
    if lang == "fr" and d.day == 1:
        text = re.sub(r"(?<!\d)1(?= )", "1er", text, count=1)
    return text


def fmt_datetime(lang: str | None, value: Any) -> str:
    """A date and time: "jeudi 14 janvier 2027, 9 h 30"."""

    d = _as_date(value)
    if d is None:
        return str(value) if value not in (None, "") else DASH
    if not isinstance(d, dt.datetime):
        return fmt_date(lang, d, "full")
    lang = norm_lang(lang)
    return f"{fmt_date(lang, d, 'full')}, {fmt_time(lang, d)}"


def fmt_time(lang: str | None, value: Any) -> str:
    """A time of day: "9 h 30" in French, "09:30" in English."""
    from babel.dates import format_time

    d = _as_date(value)
    if not isinstance(d, dt.datetime):
        try:
            t = dt.time.fromisoformat(str(value))
        except ValueError:
            return str(value)
    else:
        t = d.time()
    lang = norm_lang(lang)
    pattern = "H 'h'" if lang == "fr" and t.minute == 0 else TIME_PATTERN[lang]
    return format_time(t, pattern, locale=LOCALES[lang])


def weekday_names(lang: str | None, days: list[str] | tuple[str, ...],
                  width: str = "wide") -> list[str]:
    """``["mon", "tue"]`` -> ``["lundi", "mardi"]`` (CLDR names, study.toml's codes)."""
    from babel.dates import get_day_names

    codes = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    names = get_day_names(width, locale=LOCALES[norm_lang(lang)])
    return [names[codes.index(d)] if d in codes else str(d) for d in days]


def fmt_list(lang: str | None, items: list[str]) -> str:
    """"lundi, mardi et mercredi" (CLDR list patterns)."""
    from babel.lists import format_list

    return format_list([str(i) for i in items], locale=LOCALES[norm_lang(lang)]) \
        if items else DASH


def axis_formatter(lang: str | None, *, percent: bool = False, digits: int = 0) -> Any:
    """A matplotlib tick formatter in ``lang``: decimal commas, shares as "35 %"."""
    from matplotlib.ticker import FuncFormatter

    if percent:
        return FuncFormatter(lambda v, _pos: fmt_pct(lang, v, digits))
    def number(v: float, _pos: int) -> str:
        return fmt_num(lang, v, 0 if float(v).is_integer() else max(digits, 1))

    return FuncFormatter(number)
