"""How a digit string is read aloud: digit by digit, cardinal, 两, decimals, amounts."""

from __future__ import annotations

import functools
from collections.abc import Callable

DIGIT_NAMES = "零一二三四五六七八九"


@functools.cache
def _an2cn() -> Callable[..., str]:
    # cn2an takes ~90 ms to import (it pulls in its cn2an parser); import it on first use
    # so that ``import broadcast.text`` stays cheap for the CLI.
    import cn2an

    return cn2an.an2cn


def digits(s: str, one: str = "一") -> str:
    """Read an ASCII digit string digit by digit (``110`` → 一一零 / 幺幺零)."""
    return "".join(one if c == "1" else DIGIT_NAMES[int(c)] for c in s if c.isdigit())


def cardinal(s: str) -> str:
    """Plain cardinal reading of an ASCII integer string, 二 not 两 (``2000`` → 二千)."""
    s = s.lstrip("0") or "0"
    if len(s) > 16:  # beyond 万亿亿: cn2an refuses, and nobody says it anyway
        return digits(s)
    return _an2cn()(s, "low")


def liang(reading: str) -> str:
    """Use 两 for a leading 二 before 千/万/亿 (两千, 两万, 两亿; but 二十, 二百, 十二)."""
    if len(reading) > 1 and reading[0] == "二" and reading[1] in "千万亿":
        return "两" + reading[1:]
    return reading


def decimal(int_part: str, frac: str) -> str:
    """``1.05`` → 一点零五."""
    return cardinal(int_part) + "点" + digits(frac)


def number_reading(s: str) -> str:
    """An unsigned decimal or integer string, thousands separators allowed."""
    s = s.replace(",", "")
    if "." in s:
        i, f = s.split(".", 1)
        return decimal(i, f)
    return cardinal(s)


def quantity(s: str, two: bool = True) -> str:
    """A count before a measure word: 两 where natural (两公斤, 两千米), trailing ``.0`` kept."""
    s = s.replace(",", "")
    if "." in s:
        return number_reading(s)
    if two and s.lstrip("0") == "2":
        return "两"
    return liang(cardinal(s))
