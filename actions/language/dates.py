"""Dates in the ways patients write them.

`parse_date(text, today, date_order)` returns the date and whether it is an
estimate (its latest plausible day: "in August" is August 31), or None. The
site's `date_order` (MDY or DMY) decides an ambiguous slash date.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from dateutil.easter import easter
from dateutil.relativedelta import MO, TH, relativedelta

from actions.language.numbers import NUMBER_WORDS
from actions.language.words import has, normalize

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS.update({"sept": 9, "febuary": 2, "feburary": 2, "janurary": 1, "agust": 8, "augest": 8, "septmber": 9,
               "octber": 10, "novmber": 11, "decmber": 12})
MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
LIFETIME_DAYS = 130 * 366
SEASONS = {"spring": (3, 5), "summer": (6, 8), "fall": (9, 11), "autumn": (9, 11), "winter": (12, 2)}
VAGUE_WORDS = re.compile(r"\b(about|around|roughly|maybe|approximately|approx|like|or so|some|almost|nearly|ish|probably|i think)\b")
COUNT_WORDS = {"a": 1, "an": 1, "one": 1, "a few": 3, "few": 3, "a couple of": 2, "couple of": 2, "a couple": 2,
               "couple": 2, "several": 3, "half a": 0.5}
COUNT_RE = r"(\d+|a few|a couple of|a couple|couple of|couple|several|few|an|a|" + "|".join(
    sorted((w for w in NUMBER_WORDS if w != "zero"), key=len, reverse=True)) + r")"
UNIT_RE = r"(days?|weeks?|wks?|months?|mos?|mths?|years?|yrs?)"


def last_day(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def minus_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(y, m + 1, min(day.day, calendar.monthrange(y, m + 1)[1]))


def count_of(word: str) -> float:
    if word.isdigit():
        return int(word)
    return COUNT_WORDS.get(word) or NUMBER_WORDS.get(word, 0)


def unit_of(word: str) -> str:
    if word.startswith(("d",)):
        return "day"
    if word.startswith("w"):
        return "week"
    if word.startswith("m"):
        return "month"
    return "year"


def date_ago(n: float, unit: str, today: dt.date) -> dt.date | None:
    """`n` days, weeks, months or years before today; None when that is more than a lifetime ago
    ("200000 weeks ago" is not a date anyone took a medicine on)."""
    days = n * {"day": 1, "week": 7, "month": 30.5, "year": 365.25}[unit]
    if not 0 <= days <= LIFETIME_DAYS:
        return None
    if unit in ("day", "week"):
        return today - dt.timedelta(days=round(days))
    return minus_months(today, round(n if unit == "month" else n * 12))


def numeric_date(t: str, date_order: str, today: dt.date | None = None) -> tuple[dt.date, bool] | None:
    m = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", t)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3])), False
        except ValueError:
            return None
    m = re.search(r"\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b", t)
    if m:
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        if y < 100:
            y += 2000 if today is None or 2000 + y <= today.year else 1900
        month, day = (a, b) if date_order == "MDY" else (b, a)
        if month > 12 and day <= 12:   # "28/10/2026": only one order makes a date
            month, day = day, month
        try:
            return dt.date(y, month, day), False
        except ValueError:
            return None
    m = re.search(r"\b(\d{1,2})/(\d{4})\b", t)
    if m and 1 <= int(m[1]) <= 12:
        return last_day(int(m[2]), int(m[1])), True
    m = re.search(r"\b(\d{1,2})/(\d{1,2})\b", t)
    if m and today is not None:
        a, b = int(m[1]), int(m[2])
        month, day = (a, b) if date_order == "MDY" else (b, a)
        if month > 12 and day <= 12:
            month, day = day, month
        try:
            d = dt.date(today.year, month, day)
        except ValueError:
            return None
        return (d if d <= today else d.replace(year=today.year - 1)), False
    return None


def named_date(t: str, today: dt.date) -> tuple[dt.date, bool] | None:
    m = (re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?({MONTH_RE})\b\.?,?(?: (\d{{4}}))?", t)
         or re.search(rf"\b({MONTH_RE})\b\.?,? (\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*(?:weeks?|days?|months?|years?|wks?|doses?|infusions?|times?))"
                      rf",?(?: (\d{{4}}))?", t))
    if m:
        if m.group(1).isdigit():
            day, month, year = int(m[1]), MONTHS[m[2]], m[3]
        else:
            month, day, year = MONTHS[m[1]], int(m[2]), m[3]
        try:
            if year:
                return dt.date(int(year), month, day), False
            d = dt.date(today.year, month, day)
            return (d if d <= today else dt.date(today.year - 1, month, day)), False
        except ValueError:
            return None
    m = re.search(rf"\b(?:(early|beginning of|start of|mid|middle of|late|end of) ?-?)?({MONTH_RE})\b\.?,? ?(\d{{4}})?", t)
    if m and (m.group(1) or m.group(3) or re.search(rf"\b(in|last|this past|past|since|during|around|about|back in|early|late|mid|end of)\s+(?:-?\s*)?{re.escape(m.group(2))}\b", t) or t.strip() == m.group(2)):
        month = MONTHS[m[2]]
        if m.group(3):
            year = int(m[3])
        else:
            year = today.year if month <= today.month else today.year - 1
            if re.search(rf"\blast {re.escape(m.group(2))}\b", t) and month == today.month:
                year -= 1
        part = m.group(1) or ""
        if part in ("early", "beginning of", "start of"):
            day = dt.date(year, month, 10)
        elif part in ("mid", "middle of"):
            day = dt.date(year, month, 20)
        else:
            day = last_day(year, month)
        return min(day, today), True
    return None


def season_end(t: str, today: dt.date) -> dt.date | None:
    m = re.search(r"\b(spring|summer|fall|autumn|winter)\b(?: of)?(?: (\d{4}))?", t)
    if not m:
        return None
    first, last = SEASONS[m[1]]
    if m[2]:
        year = int(m[2]) + (1 if last < first else 0)
    else:
        year = today.year
        end = last_day(year, last) if last >= first else last_day(year, last)
        if dt.date(year, first, 1) > today and last >= first:
            year -= 1
        elif last < first and dt.date(year - 1, first, 1) > today:
            year -= 1
        if re.search(r"\blast (spring|summer|fall|autumn|winter)\b", t) and dt.date(year, first if last >= first else 1, 1) <= today <= (end if last >= first else last_day(year, last)):
            year -= 1
    return min(last_day(year, last), today)


def parse_date(text: str, today: dt.date, date_order: str = "MDY") -> tuple[dt.date, bool] | None:
    """A date and whether it is an estimate (its latest plausible day), or None."""
    t = normalize(text)
    vague = bool(VAGUE_WORDS.search(t))
    if has(t, "today") or has(t, "this morning"):
        return today, False
    if re.search(r"\bday before yesterday\b", t):
        return today - dt.timedelta(days=2), False
    if has(t, "yesterday"):
        return today - dt.timedelta(days=1), False
    m = re.search(r"\b(a|one|two|\d+) fortnights? ago\b", t)
    if m:
        return today - dt.timedelta(days=14 * int(count_of(m[1]) or 1)), False
    if re.search(r"\bweek before last\b", t):
        return today - dt.timedelta(days=14), True
    days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    m = re.search(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday) (?:of )?last week\b", t)
    if m:
        monday_last_week = today - dt.timedelta(days=today.weekday() + 7)
        return monday_last_week + dt.timedelta(days=days.index(m[1])), False
    m = re.search(r"\b(last|this past|past|on|this) (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", t) \
        or re.search(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?: just gone| gone)?$", t)
    if m:
        name = m.groups()[-1]
        target = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"].index(name)
        back = (today.weekday() - target) % 7 or 7
        return today - dt.timedelta(days=back), False
    m = re.search(r"\b(?:on )?the (\d{1,2})(?:st|nd|rd|th)? of (this|last) month\b", t)
    if m:
        base = today if m[2] == "this" else minus_months(today, 1)
        try:
            d = base.replace(day=int(m[1]))
        except ValueError:
            return None
        return (d, False) if d <= today else None
    m = re.search(r"\b(half a)\s+" + UNIT_RE + r"\s+(?:ago|back)\b", t) or \
        re.search(COUNT_RE + r"\s*(?:and a half\s+)?" + UNIT_RE + r"\s+(?:ago|back|before)\b", t)
    if m:
        n = count_of(m[1]) + (0.5 if "and a half" in m.group(0) else 0)
        unit = unit_of(m[2])
        estimate = vague or unit in ("month", "year") or n != int(n) or \
            m[1] in ("a few", "few", "a couple of", "a couple", "couple of", "couple", "several")
        day = date_ago(n, unit, today)
        return (day, estimate) if day else None
    if has(t, "last week"):
        return today - dt.timedelta(days=7), True
    holiday = holiday_date(t, today)
    if holiday:
        # "on thanksgiving", "the day before halloween" is a day; "around easter", "till christmas" an estimate
        return holiday, vague or not re.search(r"\b(?:on|the day (?:before|after))\b", t)
    m = re.search(r"\b(early|mid|middle of|late|end of|beginning of|start of) (this year|last year|(?:19|20)\d\d)\b", t)
    if m:
        year = today.year if m[2] == "this year" else today.year - 1 if m[2] == "last year" else int(m[2])
        month = {"early": 3, "beginning of": 3, "start of": 3, "mid": 7, "middle of": 7}.get(m[1], 12)
        day = min(last_day(year, month), today)
        return day, True
    m = re.search(r"\b(a|one|two|\d+) (year|month)s? and a half ago\b", t)
    if m:
        n = (count_of(m[1]) or 1) + 0.5
        day = date_ago(n, m[2], today)
        return (day, True) if day else None
    m = re.search(r"\b((?:19|20)\d\d) ?(?:-|to|through|until|till) ?((?:19|20)\d\d)\b", t)
    if m and int(m[2]) <= today.year:      # "infliximab 2017-2020": it ended in 2020
        return min(dt.date(int(m[2]), 12, 31), today), True
    m = re.search(r"\b(" + MONTH_RE + r")\.? '(\d\d)\b", t)
    if m:                                   # "jan '25"
        year = 2000 + int(m[2])
        if year <= today.year:
            return min(last_day(year, MONTHS[m[1]]), today), True
    m = re.search(r"\b(first|second|third|fourth|last) week of (" + MONTH_RE + r")\b", t)
    if m:
        month = MONTHS[m[2]]
        year = today.year if month <= today.month else today.year - 1
        end = {"first": 7, "second": 14, "third": 21, "fourth": 28}.get(m[1], last_day(year, month).day)
        return min(dt.date(year, month, end), today), True
    if has(t, "last month"):
        return last_day(*minus_months(today, 1).timetuple()[:2]), True
    if has(t, "last year"):
        return dt.date(today.year - 1, 12, 31), True
    found = numeric_date(t, date_order, today) or named_date(t, today)
    if found:
        return found[0], found[1] or vague
    m = re.search(r"\b(?:in|back in|since|during|of|stopped(?: in)?|ended(?: in)?|quit(?: in)?|finished(?: in)?|"
                  r"year)\s+((?:19|20)\d\d)\b", t) or \
        re.fullmatch(r"((?:19|20)\d\d)", t)
    if m and int(m[1]) <= today.year:
        return min(dt.date(int(m[1]), 12, 31), today), True
    return None


def holiday_date(t: str, today: dt.date) -> dt.date | None:
    """The last past date of a US holiday named in the text ("around easter", "before thanksgiving last
    year"), or None."""
    days = {
        r"christmas eve|xmas eve": lambda y: dt.date(y, 12, 24),
        r"new year'?s? eve": lambda y: dt.date(y, 12, 31),
        r"christmas|xmas": lambda y: dt.date(y, 12, 25),
        r"thanksgiving": lambda y: dt.date(y, 11, 1) + relativedelta(weekday=TH(4)),
        r"easter": easter,
        r"memorial day": lambda y: dt.date(y, 5, 31) + relativedelta(weekday=MO(-1)),
        r"labou?r day": lambda y: dt.date(y, 9, 1) + relativedelta(weekday=MO(1)),
        r"(?:the )?(?:4th|fourth) of july|july (?:4th|4|fourth)|independence day": lambda y: dt.date(y, 7, 4),
        r"new year'?s?(?: day| eve)?": lambda y: dt.date(y, 1, 1),
        r"halloween": lambda y: dt.date(y, 10, 31),
        r"valentine'?s?(?: day)?": lambda y: dt.date(y, 2, 14),
    }
    for pattern, day_of in days.items():
        if re.search(r"\b(?:" + pattern + r")\b", t):
            year = today.year - 1 if re.search(r"\blast (?:year|" + pattern + r")\b|\b(?:" + pattern +
                                               r") last year\b", t) else today.year
            shift = -1 if re.search(r"\bday before\b", t) else 1 if re.search(r"\bday after\b", t) else 0
            day = day_of(year) + dt.timedelta(days=shift)
            if day > today:
                day = day_of(year - 1) + dt.timedelta(days=shift)
            return day
    return None


def fuzzy_date(text: str, today: dt.date) -> dt.date | None:
    """Last resort for phrasings our rules miss (English only: never reads "no" as a date)."""
    t = normalize(text)
    if not re.search(r"\d{1,4}[/.\-]\d{1,2}|\b(" + MONTH_RE + r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", t):
        return None  # bare numbers are not dates (dateparser would read "0" or "12" as one)
    import dateparser
    parsed = dateparser.parse(t, languages=["en"], settings={
        "RELATIVE_BASE": dt.datetime(today.year, today.month, today.day),
        "PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False, "STRICT_PARSING": False})
    return parsed.date() if parsed else None


