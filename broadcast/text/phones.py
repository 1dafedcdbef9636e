"""Telephone numbers, hotlines and codes read digit by digit."""

from __future__ import annotations

import re

from .readings import digits
from .words import QTY_CUE, QTY_FOLLOW

_PHONE_CONTEXT = re.compile(
    r"电话|热线|专线|拨打|拨|致电|号码|手机|联系|举报|报警|咨询|客服|呼叫|求助|打"
)
_PHONE_AFTER = re.compile(r"热线|专线|电话|报警|急救|火警|求助|客服")

# Well-known short numbers; plus 123xx government hotlines and 95xxx bank/service numbers.
# The carriers' 100xx service numbers are here too, except the round 10000 (China
# Telecom), which is far more often a quantity: it is read digit by digit only next to a
# phone word (拨打10000, 10000客服), like any other 5+ digit number.
_HOTLINES = frozenset(
    {"110", "114", "119", "120", "122", "999", "12110", "12117", "12121", "96110", "12306"}
    | {"10086", "10010", "10099", "10001", "10011", "10015", "10016", "10050", "10060"}
)
_HOTLINE_PATTERN = re.compile(r"123[0-9]{2}|95[0-9]{3}")

_LANDLINE = re.compile(
    r"(?<![0-9])(?:[(（] ?(0[0-9]{2,3}) ?[)）] ?|(0[0-9]{2,3}) ?[-－—–] ?)"
    r"([0-9]{7,8})(?: ?(?:[-－]|转) ?([0-9]{1,5}))?(?![0-9])"
)
_SERVICE = re.compile(r"(?<![0-9])([48]00)[- ]?([0-9]{3})[- ]?([0-9]{4})(?![0-9])")
_MOBILE = re.compile(
    r"(?<![0-9])(?:(\+?86)[ -]?)?(1[3-9][0-9])[ -]?([0-9]{4})[ -]?([0-9]{4})(?![0-9])"
)
_PHONE_CANDIDATE = re.compile(r"(?<![0-9.])([0-9]{3,})(?![0-9]|\.[0-9]| ?[:%‰])")

# A code is read digit by digit after the word that names it (卡号尾号3391, 工号20318,
# 车牌冀A12345, 验证码是652031); letters stay as they are. Not when a measure word
# follows (验证码是6位数字).
_CODE_WORDS = (
    "尾号|编号|卡号|账号|帐号|验证码|校验码|单号|订单号|工号|学号|车牌号?|号牌|邮编|邮政编码|"
    "身份证号?|证件号|案号|文号|批次号?|批号|房号|房间号?|门牌号?|序列号|流水号|合同号|"
    "密码|口令|代码|编码|票号|准考证号|登记号|许可证号|警号|座位号|型号"
)
_CODE = re.compile(
    rf"({_CODE_WORDS})(码|码号|号码|号)?( ?(?:是|为|：|:|共)? ?(?:[\u4e00-\u9fff](?=[A-Z]))?)"
    r"([A-Za-z]*[0-9][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)"
)
# A court case number: （2024）冀0523民初123号 (year, court code, kind, serial number).
_CASE_NUMBER = re.compile(
    r"([（(〔\[])((?:19|20)[0-9]{2})([)）〕\]][\u4e00-\u9fff]{0,3})([0-9]{2,6})"
    r"([\u4e00-\u9fff]{1,5})([0-9]{1,6})号"
)
# A room number: 501室, 1203房间 (a door plate, not an amount).
_ROOM = re.compile(r"(?<![0-9.])([0-9]{3,4})(?=室|房间|号房)")
# A standard or model number: capitals (GB/T, ISO, JGJ) then digits, a year after a dash
# (GB/T 9704-2012 → GB/T 九七零四杠二零一二).
_STANDARD = re.compile(
    r"(?<![A-Za-z0-9])(?!RMB|CNY|USD|EUR|HKD|GBP)([A-Z]{2,4}(?:/[A-Z])?)( ?)([0-9]{3,})(?:[-—]((?:19|20)[0-9]{2}))?(?![0-9])"
)
_CODE_NOT = re.compile(r" ?(?:位|个|次|张|种|天|年|元|万|人|份|名|分钟|小时|秒|岁|条|项)")


def read_phones(t: str, one: str) -> str:
    """Landlines, 400/800 numbers and mobiles, read in groups."""
    t = _LANDLINE.sub(lambda m: _landline(m, one), t)
    t = _SERVICE.sub(lambda m: "，".join(digits(g, one) for g in m.groups()), t)
    return _MOBILE.sub(lambda m: _mobile(m, one), t)


def read_codes(t: str, one: str) -> str:
    """Codes named by the word before them, case and room numbers, standards: digit by digit."""
    t = _CASE_NUMBER.sub(lambda m: _case_number(m, one), t)
    t = _ROOM.sub(lambda m: digits(m.group(1), one), t)
    t = _STANDARD.sub(lambda m: _standard(m, one), t)
    return _CODE.sub(lambda m: _code(m, one), t)


def _case_number(m: re.Match[str], one: str) -> str:
    year, court, number = m.group(2), m.group(4), m.group(6)
    return (
        m.group(1)
        + digits(year)
        + m.group(3)
        + digits(court, one)
        + m.group(5)
        + digits(number, one)
        + "号"
    )


def _standard(m: re.Match[str], one: str) -> str:
    out = m.group(1) + m.group(2) + digits(m.group(3), one)
    if m.group(4):
        out += "杠" + digits(m.group(4))
    return out


def read_hotlines(t: str, one: str) -> str:
    """Hotlines and phone numbers in a phone context, digit by digit; counts stay."""
    return _PHONE_CANDIDATE.sub(lambda m: _phone_candidate(m, one), t)


def _code(m: re.Match[str], one: str) -> str:
    token = m.group(4)
    if token.isdigit() and len(token) <= 2 and _CODE_NOT.match(m.string, m.end()):
        return m.group()
    spoken = re.sub(r"[0-9]+", lambda d: digits(d.group(), one), token).replace("-", "杠")
    return m.group(1) + (m.group(2) or "") + m.group(3) + spoken


def _landline(m: re.Match[str], one: str) -> str:
    area = m.group(1) or m.group(2)
    out = digits(area, one) + "，" + digits(m.group(3), one)
    if m.group(4):
        out += "，转" + digits(m.group(4), one)
    return out


def _mobile(m: re.Match[str], one: str) -> str:
    prefix = "加八六，" if m.group(1) and m.group(1).startswith("+") else ""
    if m.group(1) and not prefix:
        prefix = "八六，"
    return prefix + "，".join(digits(g, one) for g in m.groups()[1:])


def is_hotline(s: str) -> bool:
    """A well-known short number (110, 12315, 95588), as a whole token."""
    if s in _HOTLINES:
        return True
    return bool(_HOTLINE_PATTERN.fullmatch(s)) and not s.endswith("00")


def _phone_candidate(m: re.Match[str], one: str) -> str:
    """A 3+ digit run: read digit by digit if it is a hotline or phone number."""
    s, (start, end), text = m.group(1), m.span(1), m.string
    if QTY_FOLLOW.match(text, end) or (start and text[start - 1] in QTY_CUE):
        return s
    if is_hotline(s):
        return digits(s, one)
    if len(s) < 5:  # real phone numbers have 5+ digits; 3-4 digit ones are hotlines above
        return s
    before = re.split(r"[，,。！？；!?;\n]", text[max(0, start - 12) : start])[-1]
    after = re.split(r"[，,。！？；!?;\n]", text[end : end + 8])[0]
    if _PHONE_CONTEXT.search(before) or _PHONE_AFTER.search(after):
        return digits(s, one)
    return s
