"""Dates and years: 2024-06-26, 2024.6.26, 2019/06, 6/26, 12·4, 78年, 80后, 〔2024〕."""

from __future__ import annotations

import re

from .readings import cardinal, digits
from .words import QTY_FOLLOW

_YEAR4 = r"((?:1[89]|20)[0-9]{2})"
_MONTH = r"(0?[1-9]|1[0-2])"
_DAY = r"(0?[1-9]|[12][0-9]|3[01])"

_ISO_DATE = re.compile(
    rf"(?<![0-9.]){_YEAR4}([-/.])(0?[1-9]|1[0-2])\2(0?[1-9]|[12][0-9]|3[01])"
    r"(?![0-9]|\.[0-9])"
)
_ISO_DATE_LOOSE = rf"{_YEAR4}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12][0-9]|3[01])"
# A range of full dates: 2024.7.1—2024.8.31 (the dash becomes 至).
_ISO_RANGE = re.compile(
    rf"(?<![0-9.])({_ISO_DATE_LOOSE}) ?(?:[-～~]|—{{1,2}}) ?(?={_ISO_DATE_LOOSE})"
)
# Year and month: 2019/06, 2019-06, 2019.06 (the dot only with a two-digit month or a
# date word after it, so 2019.5万元 stays an amount).
_YEAR_MONTH = re.compile(
    rf"(?<![0-9./-]){_YEAR4}(?:([/-])(0?[1-9]|1[0-2])|\.(0[1-9]|1[0-2]))"
    r"(?![0-9]|[./-][0-9]| ?[万亿千百元%‰])"
)
# Month and day without a year. ``12·4`` (middle dot, bullet, katakana dot) is always a
# date; ``12.4`` only before a day/festival name (12.4国家宪法日, 3.12植树节), else it is a
# decimal; ``12/4`` before such a name, a date word (起, 当天, 上午…) or after
# 于/在/从/至/到 (截至), else a fraction.
_DOT_DATE = re.compile(rf"(?<![0-9.·•・]){_MONTH} ?[·•・] ?{_DAY}(?![0-9]| ?[·•・.][0-9])")
_POINT_DATE = re.compile(rf"(?<![0-9.]){_MONTH}\.{_DAY}(?![0-9]|\.[0-9])")
_SLASH_DATE = re.compile(rf"(?<![0-9./]){_MONTH}/{_DAY}(?![0-9/]|\.[0-9])")
# A day or festival name right after the number: up to 8 Han characters ending in 日 or
# 节 (国家宪法日, 国际禁毒日, 植树节, 国家宪法日当天), but not 今日/每日/… or 节约/节目/….
_FESTIVAL = re.compile(
    r" ?[\u4e00-\u9fff]{0,9}?(?:(?<![今昨明每当次近])日|节(?![约能水省目奏点制俭电课]))"
)
_DATE_WORD = re.compile(
    r" ?(?:起|前|以前|之前|当天|上午|下午|晚上|晚|早上|凌晨|中午|零时|[（(](?:星期|周)|"
    r"(?:[-—～~至到] ?)?[0-9]{1,2}/[0-9]{1,2}(?![0-9/]))"
)
# Two month/day pairs joined by a dash are a range of dates (6/1-6/30), not fractions.
_SLASH_RANGE = re.compile(rf"(?<![0-9./])({_MONTH}/{_DAY}) ?[-—～~] ?(?={_MONTH}/{_DAY}(?![0-9/]))")
_AFTER_SLASH_DATE = re.compile(r"(?<![0-9./])[0-9]{1,2}/[0-9]{1,2} ?[-—～~至到] ?$")
_DATE_PREP = ("于", "在", "从", "至", "到")
_CHANGE_VERB = set("增降减升高低少加达占大小多缩扩")  # 降至1/3, 提高到1/2: a fraction
_FRACTION_FOLLOW = re.compile(
    r" ?(?:的|以上|以下|左右|多|强|弱|倍|之|提高|增|降|减|上升|下降|扩大|缩小|升)"
)
_BRACKET_YEAR = re.compile(r"([〔\[【(（]) ?((?:1[89]|20)[0-9]{2}) ?([〕\]】)）])")
_YEAR_RANGE = re.compile(r"(?<![0-9.])([0-9]{4}) ?([至到]) ?([0-9]{4})(?= ?年)")
_BARE_YEAR_RANGE = re.compile(
    r"(?<![0-9.])((?:1[89]|20)[0-9]{2}) ?([至到]) ?((?:1[89]|20)[0-9]{2})(?![0-9.])"
)
_YEAR = re.compile(r"(?<![0-9.])([0-9]{4})(?= ?年)")
_YEAR_LIKE = re.compile(r"(?<![0-9.])((?:1[89]|20)[0-9]{2})(?= ?(?:版|级|届))")
# A two-digit year: 78年出生, 98年3月, 生于85年; a range 78至80年出生 too. Not a duration
# (判处10年, 10年以上).
_SHORT_YEAR_AFTER = (
    r"年(?= ?(?:[0-9]{1,2} ?月|出生|生人|生的|毕业|入伍|参军|参加工作|入学|结婚|离婚|"
    r"春|夏|秋|冬|初|底|末|那年|那会|的时候|时候|[到至](?:19|20)?[0-9]{2}年))"
)
_SHORT_YEAR = re.compile(
    rf"(?<![0-9.:：/-])([0-9]{{2}})(?:([至到])([0-9]{{2}}))?(?={_SHORT_YEAR_AFTER})"
)
_SHORT_YEAR_BEFORE = re.compile(
    r"(生于|出生于|出生在|生在)([0-9]{2})(?=年(?!代|龄|级|纪|限|内|以))"
)
# A generation: 80后, 00后, 95后 (digit by digit); 70年代 stays 七十年代.
_GENERATION = re.compile(
    r"(?<![0-9.:：/-])(?<![满超过第共约近])([0-9][05])(?=后(?![天年月日来面方果期续]))"
)


def read_dates(t: str) -> str:
    """Full dates, year-months, month-days and bracketed document years."""
    t = _ISO_RANGE.sub(lambda m: m.group(1) + "至", t)
    t = _ISO_DATE.sub(_iso_date, t)
    t = _YEAR_MONTH.sub(_year_month, t)
    t = _DOT_DATE.sub(_month_day, t)
    t = _POINT_DATE.sub(lambda m: _month_day(m) if _before_festival(m) else m.group(), t)
    t = _SLASH_RANGE.sub(lambda m: m.group(1) + "至", t)
    t = _SLASH_DATE.sub(_slash_date, t)
    return _BRACKET_YEAR.sub(lambda m: m.group(1) + digits(m.group(2)) + m.group(3), t)


def read_short_years(t: str) -> str:
    """Two-digit years (78年出生 → 七八年) and generations (80后 → 八零后)."""
    t = _SHORT_YEAR.sub(_short_year, t)
    t = _SHORT_YEAR_BEFORE.sub(lambda m: m.group(1) + digits(m.group(2)), t)
    return _GENERATION.sub(lambda m: digits(m.group(1)), t)


def read_years(t: str) -> str:
    """Four-digit years before 年 (and 版/级/届) and year ranges, digit by digit."""
    t = _YEAR_RANGE.sub(lambda m: digits(m.group(1)) + m.group(2) + digits(m.group(3)), t)
    t = _BARE_YEAR_RANGE.sub(_bare_year_range, t)
    t = _YEAR.sub(lambda m: digits(m.group(1)), t)
    return _YEAR_LIKE.sub(lambda m: digits(m.group(1)), t)


def _short_year(m: re.Match[str]) -> str:
    out = digits(m.group(1))
    if m.group(3):
        out += m.group(2) + digits(m.group(3))
    return out


def _iso_date(m: re.Match[str]) -> str:
    return f"{digits(m.group(1))}年{cardinal(m.group(3))}月{cardinal(m.group(4))}日"


def _year_month(m: re.Match[str]) -> str:
    return f"{digits(m.group(1))}年{cardinal(m.group(3) or m.group(4))}月"


def _month_day(m: re.Match[str]) -> str:
    return f"{cardinal(m.group(1))}月{cardinal(m.group(2))}日"


def _before_festival(m: re.Match[str]) -> bool:
    text, end = m.string, m.end()
    return not QTY_FOLLOW.match(text, end) and bool(_FESTIVAL.match(text, end))


def _slash_date(m: re.Match[str]) -> str:
    """``12/4`` is a date before a festival name or date word, or after 于/在/…."""
    if _before_festival(m):
        return _month_day(m)
    text, start = m.string, m.start()
    before = text[start - 1] if start else ""
    if before not in _DATE_PREP:
        if _DATE_WORD.match(text, m.end()) or _AFTER_SLASH_DATE.search(text, 0, start):
            return _month_day(m)  # 6/26起, 6/1至6/30
        return m.group()
    if before in "至到" and start > 1 and text[start - 2] in _CHANGE_VERB:
        return m.group()  # 降至1/3, 增加到1/2 (截至 stays a date)
    proper = int(m.group(1)) < int(m.group(2))
    if proper and _FRACTION_FOLLOW.match(text, m.end()):
        return m.group()  # 在1/3的村民中, 从1/3提高到1/2
    return _month_day(m)


def _bare_year_range(m: re.Match[str]) -> str:
    if QTY_FOLLOW.match(m.string, m.end()):  # 1900至2000人 is a count range
        return m.group()
    return digits(m.group(1)) + m.group(2) + digits(m.group(3))
