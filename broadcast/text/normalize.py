"""The spoken form of a whole script: every rule, in order, one line at a time.

Order (each step only sees the digits the previous ones left):

1. fold full-width / other Unicode digits to ASCII, and ``％：．／`` between digits;
2. the ``[replace]`` lexicon, on the text as written;
3. whitespace; then each line on its own (no rule crosses a line break):
4. a list marker at the start of the line (1. 2、 （一） ① → 第一、; - • dropped);
5. phones, then codes named by the word before them (尾号, 工号, 车牌 …), case, room and
   standard numbers, digit by digit;
6. dates (2024-06-26, 2019/06, 6/26 in a date context, 12·4), two-digit years and
   generations (78年出生, 80后), ordinals (第…);
7. signs and sums (± ≥ 3+5=8), currency (¥ $ €, 25.00元 → 二十五元), units (℃ kg m² km/h …);
8. hotlines as whole tokens (an approximation word after them does not matter);
9. ranges (至), ratios and scores (比) where the context says so, clock times;
10. four-digit years, percentages, fractions, dotted sequences;
11. every other number: decimals, negatives, quantities (with 两), long codes digit by
    digit; then any leftover digit, and a unit symbol with no number before it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from broadcast.errors import TextError

from .dates import read_dates, read_short_years, read_years
from .lexicon import apply_lexicon
from .lines import read_list_marker
from .maths import read_percents_fractions, read_ranges_and_clock, read_signs
from .phones import read_codes, read_hotlines, read_phones
from .readings import cardinal, decimal, digits, liang
from .units import read_currency, read_lone_symbols, read_units
from .words import QTY_CUE, QTY_FOLLOW, TWO_FOLLOW

_NON_ASCII_DIGIT = re.compile(r"(?![0-9])\d")
_ANY_DIGIT = re.compile(r"\d")  # Unicode Nd: ASCII, full-width, Arabic-Indic, …
_BETWEEN_DIGITS = re.compile(r"(?<=[0-9])\s*([：．∶／])\s*(?=[0-9])")
_BETWEEN_MAP = {"：": ":", "∶": ":", "．": ".", "／": "/"}
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_FULL_WIDTH = str.maketrans({"％": "%", "﹪": "%", "－": "-", "\u2212": "-"})
_ORDINAL = re.compile(
    r"第\s*([0-9]+)((?:\s*(?:[、和及或与]|(?:[-–~～至到]|—(?!—)))\s*(?:第\s*)?[0-9]+)*)"
)
_ORDINAL_TAIL = re.compile(r"\s*([、和及或与]|[-–~～至到]|—)\s*(第\s*)?([0-9]+)")
_NUMBER = re.compile(r"(?:(?<![A-Za-z0-9])([-−]))?(?<![0-9.])([0-9]+)(?:\.([0-9]+))?")
_LEFTOVER = re.compile(r"[0-9]+")


def normalize(text: str, lexicon: Mapping[str, str] | None = None, *, phone_one: str = "一") -> str:
    """Return exactly what the voice will read: lexicon applied, every number in words.

    ``phone_one`` is how 1 is read in telephone numbers, hotlines and other digit
    strings (``"一"``, the default, or ``"幺"`` as in broadcasting: 幺幺零). Years are
    always read with 一 (二零二一年). No rule joins text across a line break. The result
    contains no Arabic digit. Example: ``normalize("拨打12315来反映")`` → 拨打一二三一五来反映.
    """
    if phone_one not in ("一", "幺"):
        raise TextError(f'phone_one 只能是 "一" 或 "幺"，现在是 "{phone_one}"，请修改设置')
    t = fold(text)
    if lexicon:
        t = fold(apply_lexicon(t, lexicon))
    t = _whitespace(t)
    t = "\n".join(_line(line, phone_one) for line in t.split("\n"))
    if _ANY_DIGIT.search(t):  # postcondition; unreachable unless a rule above is broken
        raise TextError(f"文字规范化后仍有阿拉伯数字：{t[:60]}…，请把数字改写成汉字后重试")
    return t


def fold(text: str) -> str:
    """Full-width and other Unicode digits → ASCII; ``％：．／`` next to digits too."""
    t = _NON_ASCII_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), text)
    t = t.translate(_FULL_WIDTH)
    return _BETWEEN_DIGITS.sub(lambda m: _BETWEEN_MAP[m.group(1)], t)


def _whitespace(text: str) -> str:
    t = _ZERO_WIDTH.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    t = re.sub(r"[^\S\n]+", " ", t)  # spaces, tabs, U+3000, NBSP → one space
    t = re.sub(r" ?\n\s*", "\n", t)  # a paragraph break is one "\n"
    return t.strip()


def _line(t: str, one: str) -> str:
    """Every number rule on one line; order matters, each sees what the last one left."""
    t = read_list_marker(t)
    t = read_phones(t, one)
    t = read_codes(t, one)
    t = read_dates(t)
    t = read_short_years(t)
    t = _ORDINAL.sub(_ordinal, t)
    t = read_signs(t)
    t = read_currency(t)
    t = read_units(t)
    t = read_hotlines(t, one)
    t = read_ranges_and_clock(t)
    t = read_years(t)
    t = read_percents_fractions(t)
    t = _NUMBER.sub(lambda m: _number(m, one), t)
    t = _LEFTOVER.sub(lambda m: digits(m.group()), t)  # last resort, never a digit
    return read_lone_symbols(t)


def _ordinal(m: re.Match[str]) -> str:
    out = "第" + cardinal(m.group(1))
    for sep, di, num in _ORDINAL_TAIL.findall(m.group(2)):
        sep = sep if sep in "、和及或与至到" else "至"
        out += sep + ("第" if di else "") + cardinal(num)
    return out


def _number(m: re.Match[str], one: str) -> str:
    sign = "负" if m.group(1) else ""
    num, frac = m.group(2), m.group(3)
    if frac is not None:
        return sign + decimal(num, frac)
    text, end, start = m.string, m.end(), m.start(2)
    if QTY_FOLLOW.match(text, end):  # a quantity or date part: cardinal, 两 where natural
        if len(num.lstrip("0")) > 16:
            return sign + digits(num, one)
        if num.lstrip("0") == "2" and TWO_FOLLOW.match(text, end):
            return sign + "两"
        return sign + liang(cardinal(num))
    if not sign:
        cue = start > 0 and text[start - 1] in QTY_CUE
        latin = start > 0 and text[start - 1].isascii() and text[start - 1].isalpha()
        if latin and len(num) >= 3:
            return digits(num, one)  # GB18030, A320: model and standard codes
        if (len(num) > 1 and num[0] == "0") or len(num) > 8:
            return digits(num, one)  # codes, ID numbers, account numbers
        if len(num) >= 6 and not cue:
            return digits(num, one)  # 123456这种密码, 邮编 054000
    return sign + liang(cardinal(num))
