"""Units and currency after numbers and ranges: 38℃, -7℃, 40kg, 60km/h, ¥8000, 25.00元."""

from __future__ import annotations

import re

from .readings import number_reading, quantity

# kg is read 公斤, not 千克: by ear 三千克 is either 3 kg or 3,000 g, 三公斤 is not.
# One place to change it.
KILOGRAM = "公斤"

# Written unit → spoken unit. Longest first in the pattern, so km² wins over km and m.
UNITS: dict[str, str] = {
    "℃": "摄氏度",
    "°C": "摄氏度",
    "° C": "摄氏度",
    "℉": "华氏度",
    "°F": "华氏度",
    "°": "度",
    "kg": KILOGRAM,
    "KG": KILOGRAM,
    "Kg": KILOGRAM,
    "mg": "毫克",
    "μg": "微克",
    "g": "克",
    "t": "吨",
    "km²": "平方公里",
    "km2": "平方公里",
    "m²": "平方米",
    "㎡": "平方米",
    "m2": "平方米",
    "cm²": "平方厘米",
    "m³": "立方米",
    "m3": "立方米",
    "cm³": "立方厘米",
    "km/h": "公里每小时",
    "km/H": "公里每小时",
    "m/s": "米每秒",
    "km": "公里",
    "cm": "厘米",
    "mm": "毫米",
    "m": "米",
    "mL": "毫升",
    "ml": "毫升",
    "ML": "毫升",
    "L": "升",
    "l": "升",
    "kWh": "千瓦时",
    "kwh": "千瓦时",
    "KWH": "千瓦时",
    "kW": "千瓦",
    "kw": "千瓦",
    "KW": "千瓦",
    "W": "瓦",
    "kV": "千伏",
    "V": "伏",
    "mA": "毫安",
    "mAh": "毫安时",
    "Hz": "赫兹",
    "dB": "分贝",
    "h": "小时",
    "min": "分钟",
    "ms": "毫秒",
    "s": "秒",
    "TB": "太字节",
    "GB": "吉字节",
    "MB": "兆字节",
    "KB": "千字节",
    "kb": "千字节",
}
TEMPERATURE = ("摄氏度", "华氏度", "度")

_NUM = r"[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?"
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_UNIT = re.compile(
    rf"(?:(?<![A-Za-z0-9.])([-−]))?(?<![0-9.,])({_NUM})([万千亿]?)"
    rf"(?: ?(?:[-－～~—]|至|到) ?(?:([-−])|(?<=[至到])(零下))?({_NUM})([万千亿]?))?"
    rf" ?({_UNIT_ALT})(?![A-Za-z²³0-9])"
)

# A rate: 二十毫克/一百毫升, 三元/斤, 五元/kg, 七十五微克/m³ → …每….
_PER = re.compile(r"(?<=[克升米吨斤时秒度元角分次人天个件户])/(?=[\u4e00-\u9fff])")
_PER_UNIT = re.compile(rf"(?<=[\u4e00-\u9fff])/ ?({_UNIT_ALT})(?![A-Za-z²³0-9])")
_LONE_WORDS = {
    "℃": "摄氏度",
    "℉": "华氏度",
    "㎡": "平方米",
    "¥": "元",
    "￥": "元",
    "€": "欧元",
    "£": "英镑",
    "‰": "千分号",
}
_LONE = re.compile("[" + "".join(_LONE_WORDS) + "]")

# Currency written before the amount, and codes written after it.
_CURRENCY_BEFORE = {
    "HK$": "港元",
    "HKD": "港元",
    "US$": "美元",
    "USD": "美元",
    "$": "美元",
    "¥": "元",
    "￥": "元",
    "RMB": "元",
    "CNY": "元",
    "€": "欧元",
    "EUR": "欧元",
    "£": "英镑",
    "GBP": "英镑",
}
_CURRENCY_AFTER = {"RMB": "元", "CNY": "元", "USD": "美元", "EUR": "欧元", "HKD": "港元"}
_BEFORE_ALT = "|".join(re.escape(c) for c in sorted(_CURRENCY_BEFORE, key=len, reverse=True))
_AFTER_ALT = "|".join(sorted(_CURRENCY_AFTER, key=len, reverse=True))
_CURRENCY = re.compile(
    rf"(?:(?<![A-Za-z0-9.])([-−]))?({_BEFORE_ALT}) ?({_NUM})"
    rf"(?: ?(?:[-～~—]|至|到) ?(?:{_BEFORE_ALT})? ?({_NUM}))?([万千亿]*)"
    r"( ?(?:元|块)(?:人民币)?|美元|欧元|英镑|港元|港币)?"
)
_CODE_AFTER = re.compile(rf"(?<![0-9.,])({_NUM})([万千亿]*) ?({_AFTER_ALT})(?![A-Za-z])")
# An amount in 元 with decimals: trailing zeros are not read (25.00元 → 二十五元, 0.50元 →
# 零点五元, 12.05元 → 十二点零五元), the way 1.5万元 is read 一点五万元.
_YUAN = re.compile(r"(?<![0-9.,])([0-9]+(?:,[0-9]{3})*\.[0-9]+) ?元")


def read_currency(t: str) -> str:
    """Currency symbols and codes around amounts; no trailing zeros read (25.00元)."""
    t = _CURRENCY.sub(_currency, t)
    t = _CODE_AFTER.sub(lambda m: _money(m.group(1), m.group(2)) + _CURRENCY_AFTER[m.group(3)], t)
    return _YUAN.sub(lambda m: _money(m.group(1), "") + "元", t)


def read_units(t: str) -> str:
    """Unit symbols after a number or a range of numbers; 毫克/一百毫升 → 毫克每一百毫升."""
    t = _UNIT.sub(_unit, t)
    t = _PER_UNIT.sub(lambda m: "每" + UNITS[m.group(1)], t)
    return _PER.sub("每", t)


def read_lone_symbols(t: str) -> str:
    """A unit or currency symbol with no number before it (a line that starts with ℃)."""
    return _LONE.sub(lambda m: _LONE_WORDS[m.group()], t)


def _currency(m: re.Match[str]) -> str:
    sign = "负" if m.group(1) else ""
    name = _CURRENCY_BEFORE[m.group(2)]
    first, second, scale, written = m.group(3), m.group(4), m.group(5), m.group(6)
    if written and written.strip() in ("美元", "欧元", "英镑", "港元", "港币"):
        name = written.strip()
    out = sign + _money(first, scale if not second else "")
    if second:
        out += "至" + _money(second, scale)
    return out + name


def _money(num: str, scale: str) -> str:
    """``25.00`` → 二十五, ``0.50`` → 零点五, ``2`` → 两 (trailing zeros are not read)."""
    num = num.replace(",", "")
    if "." in num:
        i, f = num.split(".", 1)
        f = f.rstrip("0")
        return (number_reading(f"{i}.{f}") if f else quantity(i)) + scale
    return quantity(num) + scale


def _unit(m: re.Match[str]) -> str:
    sign1, first, scale1, sign2, below2, second, scale2, symbol = m.groups()
    spoken = UNITS[symbol]
    hot = spoken in TEMPERATURE
    minus = "零下" if hot else "负"
    two = not hot and not spoken.endswith("字节")
    out = (minus if sign1 else "") + quantity(first, two) + scale1
    if second is not None:
        out += "至" + (minus if sign2 else below2 or "") + quantity(second, two) + scale2
    return out + spoken
