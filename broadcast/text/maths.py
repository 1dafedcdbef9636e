"""Signs, sums, comparisons, ratios, clock times, ranges, percentages and fractions."""

from __future__ import annotations

import re

from .readings import cardinal, number_reading

_NUM = r"[0-9]+(?:\.[0-9]+)?"
# A sum written out: 3+5=8, 10-4=6, 2×3=6, 6÷2=3 (- is 减 only inside a sum with =).
_EQUATION = re.compile(rf"(?<![0-9.])({_NUM}(?: ?[-+×÷*xX] ?{_NUM})+) ?= ?(-?{_NUM})(?![0-9])")
_OPERATOR = {"+": "加", "-": "减", "×": "乘", "*": "乘", "x": "乘", "X": "乘", "÷": "除以"}
_OPERATOR_SPLIT = re.compile(r" ?([-+×÷*xX]) ?")
# Comparisons and ± before a number (年龄≥60岁, ±0.5); + × ÷ between numbers.
_COMPARE = {"≥": "大于等于", "≤": "小于等于", "≠": "不等于", "±": "正负", "=": "等于"}
_COMPARE_RE = re.compile(r" ?([≥≤≠±=]) ?(?=[-−]?[0-9])")
_LESS_MORE = re.compile(r"(?<=[0-9A-Za-z%\u4e00-\u9fff]) ?([<>＜＞]) ?(?=[-−]?[0-9])")
_BETWEEN = re.compile(r"(?<=[0-9]) ?(\+) ?(?=[0-9])|(?<=[0-9A-Za-z²³%]) ?([×÷*]) ?(?=[0-9])")
_PLUS_SIGN = re.compile(r"(?<![0-9A-Za-z])\+(?=[0-9])")

_CONNECTOR = re.compile(r"(?<=[0-9%‰年月日号])\s*(?:[-–~～]|—(?!—))\s*(?=[0-9]|[-−][0-9])")
_TIME = re.compile(
    r"(?<![0-9.:])([01]?[0-9]|2[0-4]):([0-5][0-9])(?::([0-5][0-9]))?(?![0-9]|:[0-9])"
)
_RATIO = re.compile(r"(?<![0-9.])([0-9]+(?:\.[0-9]+)?):([0-9]+(?:\.[0-9]+)?)(?![0-9])")
# A colon between numbers is a ratio or a score, not a clock time, next to these words.
_RATIO_BEFORE = re.compile(r"比例|比分|比值|配比|比率|兑|稀释|混合|赔率|战胜|击败")
_RATIO_AFTER = re.compile(
    r"^ ?(?:的?(?:比例|比分|配比|比值)|兑|稀释|混合|调配|配制|获胜|战胜|击败|取胜|胜|负|领先|落后|"
    r"的比)"
)
_PERCENT_RANGE = re.compile(
    r"(?<![0-9.])([0-9]+(?:\.[0-9]+)?)\s*([至到])\s*([0-9]+(?:\.[0-9]+)?)\s*([%‰])"
)
_PERCENT = re.compile(r"(?:(?<![A-Za-z0-9])(-))?(?<![0-9.])([0-9]+(?:\.[0-9]+)?)\s*([%‰])")
_FRACTION = re.compile(r"(?:(?<![A-Za-z0-9])(-))?(?<![0-9./])([0-9]+)/([0-9]+)(?![0-9/])")
_DOTTED = re.compile(r"(?<![0-9.])[0-9]+(?:\.[0-9]+){2,}(?![0-9])")
_THOUSANDS = re.compile(r"(?<![0-9.,])[0-9]{1,3}(?:,[0-9]{3})+(?![0-9]|,[0-9])")


def read_signs(t: str) -> str:
    """Sums and comparisons in words (3+5=8 → 三加五等于八; ≥60 → 大于等于六十)."""
    t = _EQUATION.sub(_equation, t)
    t = _COMPARE_RE.sub(lambda m: _COMPARE[m.group(1)], t)
    t = _LESS_MORE.sub(lambda m: "小于" if m.group(1) in "<＜" else "大于", t)
    t = _BETWEEN.sub(lambda m: _OPERATOR[m.group(1) or m.group(2)], t)
    return _PLUS_SIGN.sub("正", t)


def read_ranges_and_clock(t: str) -> str:
    """Thousands separators, ranges (至), ratios and clock times."""
    t = _THOUSANDS.sub(lambda m: m.group().replace(",", ""), t)
    t = _CONNECTOR.sub("至", t)
    t = _RATIO.sub(_ratio_in_context, t)
    t = _TIME.sub(_time, t)
    return _RATIO.sub(_ratio, t)


def read_percents_fractions(t: str) -> str:
    """Percent and per-mille, fractions (with a sign), dotted sequences (1.2.3)."""
    t = _PERCENT_RANGE.sub(_percent_range, t)
    t = _PERCENT.sub(_percent, t)
    t = _FRACTION.sub(_fraction, t)
    return _DOTTED.sub(lambda m: "点".join(cardinal(p) for p in m.group().split(".")), t)


def _equation(m: re.Match[str]) -> str:
    parts = _OPERATOR_SPLIT.split(m.group(1))
    out = "".join(_OPERATOR[p] if i % 2 else number_reading(p) for i, p in enumerate(parts))
    result = m.group(2)
    sign = "负" if result.startswith("-") else ""
    return out + "等于" + sign + number_reading(result.lstrip("-"))


def _ratio(m: re.Match[str]) -> str:
    return number_reading(m.group(1)) + "比" + number_reading(m.group(2))


def _ratio_in_context(m: re.Match[str]) -> str:
    text = m.string
    before = re.split(r"[，,。！？；!?;]", text[max(0, m.start() - 10) : m.start()])[-1]
    if _RATIO_BEFORE.search(before) or _RATIO_AFTER.match(text[m.end() : m.end() + 6]):
        return _ratio(m)
    return m.group()


def _time(m: re.Match[str]) -> str:
    hour, minute, second = int(m.group(1)), m.group(2), m.group(3)
    out = ("两" if hour == 2 else cardinal(str(hour))) + "点"
    if minute != "00" or (second and second != "00"):
        out += _clock_part(minute) + "分"
    if second and second != "00":
        out += _clock_part(second) + "秒"
    return out


def _clock_part(two_digits: str) -> str:
    """Minutes/seconds: 05 → 零五, 30 → 三十, 00 → 零."""
    if two_digits[0] == "0":
        return "零" + ("零一二三四五六七八九"[int(two_digits[1])] if two_digits[1] != "0" else "")
    return cardinal(two_digits)


def _percent_range(m: re.Match[str]) -> str:
    head = "百分之" if m.group(4) == "%" else "千分之"
    return head + number_reading(m.group(1)) + m.group(2) + number_reading(m.group(3))


def _percent(m: re.Match[str]) -> str:
    head = "百分之" if m.group(3) == "%" else "千分之"
    return ("负" if m.group(1) else "") + head + number_reading(m.group(2))


def _fraction(m: re.Match[str]) -> str:
    sign = "负" if m.group(1) else ""
    return sign + cardinal(m.group(3)) + "分之" + cardinal(m.group(2))
