"""Spoken-form text for the voice: number normalisation, lexicon, sentences, chunks.

Everything here is pure (no clock, no network); the only I/O is :func:`load_lexicon`
reading the pronunciation lexicon. The output of :func:`normalize` is exactly what the TTS
voice (edge-tts or espeak-ng) reads, and it never contains an Arabic digit: neural voices
guess number readings badly (``96110`` becomes 九万六千一百一十) and espeak-ng's pinyin
voice cannot read digits at all.

Pipeline of :func:`normalize` (order matters, each step only sees digits left by the
previous ones):

1. fold full-width / other Unicode digits to ASCII, and ``％：．`` between digits;
2. the lexicon (see the comment at :func:`_apply_lexicon` for why it comes first);
3. whitespace;
4. telephone numbers (landline, 400/800, mobile), ISO dates, month·day dates (``12·4``;
   ``12.4`` and ``12/4`` only in a date context), bracketed document years, ordinals
   (第…), hotlines and numbers next to 电话/热线/拨打/…;
5. thousands separators, ranges (``-～—`` between numbers → 至), clock times, ratios,
   years (4 digits before 年), percentages, fractions, dotted sequences;
6. every other number: decimals, negatives, quantities (with 两), codes digit by digit;
7. anything left: digit by digit, then the no-digit postcondition is checked.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path

from broadcast.errors import TextError

__all__ = ["chunk", "load_lexicon", "normalize", "split_sentences"]

# --------------------------------------------------------------------------- readings

_DIGIT_NAMES = "零一二三四五六七八九"


@functools.cache
def _an2cn() -> Callable[..., str]:
    # cn2an takes ~90 ms to import (it pulls in its cn2an parser); import it on first use
    # so that ``import broadcast.text`` stays cheap for the CLI.
    import cn2an

    return cn2an.an2cn


def _digits(s: str, one: str = "一") -> str:
    """Read an ASCII digit string digit by digit (``110`` → 一一零 / 幺幺零)."""
    return "".join(one if c == "1" else _DIGIT_NAMES[int(c)] for c in s if c.isdigit())


def _cardinal(s: str) -> str:
    """Plain cardinal reading of an ASCII integer string, 二 not 两 (``2000`` → 二千)."""
    s = s.lstrip("0") or "0"
    if len(s) > 16:  # beyond 万亿亿: cn2an refuses, and nobody says it anyway
        return _digits(s)
    return _an2cn()(s, "low")


def _liang(reading: str) -> str:
    """Use 两 for a leading 二 before 千/万/亿 (两千, 两万, 两亿; but 二十, 二百, 十二)."""
    if len(reading) > 1 and reading[0] == "二" and reading[1] in "千万亿":
        return "两" + reading[1:]
    return reading


def _decimal(int_part: str, frac: str) -> str:
    return _cardinal(int_part) + "点" + _digits(frac)


# --------------------------------------------------------------------------- word lists

# After the number 2, these make it 两 (两个, 两次, 两万, 两年); 二 stays for 二月, 二日,
# 二号, 二楼, 二年级, 二分之一 and in ordinals (第二).
_TWO_WORDS = (
    "小时|分钟|公里|公斤|千克|千米|平方米|平方公里|立方米|个月|季度|星期|周岁|"
    "万|千|亿|百|个|人|次|名|户|件|起|条|份|元|块|角|毛|岁|天|年(?!级)|位|项|类|种|场|"
    "批|支|套|本|册|张|台|辆|所|家|座|间|处|篇|部|段|句|页|倍|遍|轮|届|门|只|头|棵|株|"
    "吨|亩|斤|米|周|秒|分(?!之)|宗|笔|例|首|单|艘|架|枚|颗|根|把|盏|封|口|对|双|副|"
    "声|步|趟|顿|回|点|成|杯|瓶|袋|箱|包|片|粒"
)
_TWO_FOLLOW = re.compile(rf"\s*(?:{_TWO_WORDS})")

# A number followed by one of these is a quantity / date part / ordinal, never a phone
# number or code (``110人``, ``12345元``, ``2000余份``, ``4日``).
_QTY_FOLLOW = re.compile(
    rf"\s*(?:{_TWO_WORDS}|[余多来几号楼层栋级班月日时分条款项章节编届期%‰度℃克升厘寸尺里])"
)

# Immediately before a number, these mean "a count", not a hotline (共有120, 约110).
_QTY_CUE = set("第共约达计超近逾有增减")

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

# --------------------------------------------------------------------------- regexes

_NON_ASCII_DIGIT = re.compile(r"(?![0-9])\d")
_ANY_DIGIT = re.compile(r"\d")  # Unicode Nd: ASCII, full-width, Arabic-Indic, …
_BETWEEN_DIGITS = re.compile(r"(?<=[0-9])\s*([：．∶／])\s*(?=[0-9])")
_BETWEEN_MAP = {"：": ":", "∶": ":", "．": ".", "／": "/"}
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")

_LANDLINE = re.compile(
    r"(?<![0-9])(?:[(（]\s*(0[0-9]{2,3})\s*[)）]\s*|(0[0-9]{2,3})\s*[-－—–]\s*)"
    r"([0-9]{7,8})(?:\s*(?:[-－]|转)\s*([0-9]{1,5}))?(?![0-9])"
)
_SERVICE = re.compile(r"(?<![0-9])([48]00)[-\s]?([0-9]{3})[-\s]?([0-9]{4})(?![0-9])")
_MOBILE = re.compile(
    r"(?<![0-9])(?:(\+?86)[\s-]?)?(1[3-9][0-9])[\s-]?([0-9]{4})[\s-]?([0-9]{4})(?![0-9])"
)
_ISO_DATE = re.compile(
    r"(?<![0-9.])((?:1[89]|20)[0-9]{2})([-/.])(0?[1-9]|1[0-2])\2(0?[1-9]|[12][0-9]|3[01])"
    r"(?![0-9]|\.[0-9])"
)
# Month and day without a year. ``12·4`` (middle dot, bullet, katakana dot) is always a
# date; ``12.4`` only before a day/festival name (12.4国家宪法日, 3.12植树节), else it is a
# decimal; ``12/4`` before such a name or after 于/在/从/至/到 (截至), else a fraction.
# A full-width ``．`` is folded to ``.`` first (it is also a decimal point: １．５万元).
_MONTH = r"(0?[1-9]|1[0-2])"
_DAY = r"(0?[1-9]|[12][0-9]|3[01])"
_DOT_DATE = re.compile(rf"(?<![0-9.·•・]){_MONTH}\s?[·•・]\s?{_DAY}(?![0-9]|\s?[·•・.][0-9])")
_POINT_DATE = re.compile(rf"(?<![0-9.]){_MONTH}\.{_DAY}(?![0-9]|\.[0-9])")
_SLASH_DATE = re.compile(rf"(?<![0-9./]){_MONTH}/{_DAY}(?![0-9/]|\.[0-9])")
# A day or festival name right after the number: up to 8 Han characters ending in 日 or
# 节 (国家宪法日, 国际禁毒日, 植树节, 国家宪法日当天), but not 今日/每日/… or 节约/节目/….
_FESTIVAL = re.compile(
    r"\s?[\u4e00-\u9fff]{0,7}?(?:(?<![今昨明每当次近])日|节(?![约能水省目奏点制俭电课]))"
)
_DATE_PREP = ("于", "在", "从", "至", "到")
_CHANGE_VERB = set("增降减升高低少加达占大小多缩扩")  # 降至1/3, 提高到1/2: a fraction
_FRACTION_FOLLOW = re.compile(
    r"\s?(?:的|以上|以下|左右|多|强|弱|倍|之|提高|增|降|减|上升|下降|扩大|缩小|升)"
)
_BRACKET_YEAR = re.compile(r"([〔\[【(（])\s*((?:1[89]|20)[0-9]{2})\s*([〕\]】)）])")
_ORDINAL = re.compile(
    r"第\s*([0-9]+)((?:\s*(?:[、和及或与]|(?:[-–~～至到]|—(?!—)))\s*(?:第\s*)?[0-9]+)*)"
)
_ORDINAL_TAIL = re.compile(r"\s*([、和及或与]|[-–~～至到]|—)\s*(第\s*)?([0-9]+)")
_PHONE_CANDIDATE = re.compile(r"(?<![0-9.])([0-9]{3,})(?![0-9]|\.[0-9]|\s*[:%‰])")
_THOUSANDS = re.compile(r"(?<![0-9.,])[0-9]{1,3}(?:,[0-9]{3})+(?![0-9]|,[0-9])")
_CONNECTOR = re.compile(r"(?<=[0-9%‰年月日号])\s*(?:[-–~～]|—(?!—))\s*(?=[0-9])")
_TIME = re.compile(
    r"(?<![0-9.:])([01]?[0-9]|2[0-4]):([0-5][0-9])(?::([0-5][0-9]))?(?![0-9]|:[0-9])"
)
_RATIO = re.compile(r"(?<![0-9.])([0-9]+):([0-9]+)(?![0-9])")
_YEAR_RANGE = re.compile(r"(?<![0-9.])([0-9]{4})\s*([至到])\s*([0-9]{4})(?=\s*年)")
_BARE_YEAR_RANGE = re.compile(
    r"(?<![0-9.])((?:1[89]|20)[0-9]{2})\s*([至到])\s*((?:1[89]|20)[0-9]{2})(?![0-9.])"
)
_YEAR = re.compile(r"(?<![0-9.])([0-9]{4})(?=\s*年)")
_YEAR_LIKE = re.compile(r"(?<![0-9.])((?:1[89]|20)[0-9]{2})(?=\s*(?:版|级|届))")
_PERCENT_RANGE = re.compile(
    r"(?<![0-9.])([0-9]+(?:\.[0-9]+)?)\s*([至到])\s*([0-9]+(?:\.[0-9]+)?)\s*([%‰])"
)
_PERCENT = re.compile(r"(?:(?<![A-Za-z0-9])(-))?(?<![0-9.])([0-9]+(?:\.[0-9]+)?)\s*([%‰])")
_FRACTION = re.compile(r"(?<![0-9./])([0-9]+)/([0-9]+)(?![0-9/])")
_DOTTED = re.compile(r"(?<![0-9.])[0-9]+(?:\.[0-9]+){2,}(?![0-9])")
_NUMBER = re.compile(r"(?:(?<![A-Za-z0-9])([-−]))?(?<![0-9.])([0-9]+)(?:\.([0-9]+))?")
_LEFTOVER = re.compile(r"[0-9]+")


# --------------------------------------------------------------------------- normalize


def normalize(text: str, lexicon: Mapping[str, str] | None = None, *, phone_one: str = "一") -> str:
    """Return exactly what the voice will read: lexicon applied, every number in words.

    ``phone_one`` is how 1 is read in telephone numbers, hotlines and other digit
    strings (``"一"``, the default, or ``"幺"`` as in broadcasting: 幺幺零). Years are
    always read with 一 (二零二一年). The result contains no Arabic digit.
    """
    if phone_one not in ("一", "幺"):
        raise TextError(f'phone_one 只能是 "一" 或 "幺"，现在是 "{phone_one}"，请修改设置')
    t = _fold(text)
    if lexicon:
        t = _fold(_apply_lexicon(t, lexicon))
    t = _whitespace(t)
    t = _numbers(t, phone_one)
    if _ANY_DIGIT.search(t):  # postcondition; unreachable unless a rule above is broken
        raise TextError(f"文字规范化后仍有阿拉伯数字：{t[:60]}…，请把数字改写成汉字后重试")
    return t


def _fold(text: str) -> str:
    """Full-width and other Unicode digits → ASCII; ``％：．／`` next to digits too."""
    t = _NON_ASCII_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), text)
    t = t.replace("％", "%").replace("﹪", "%").replace("－", "-").replace("\u2212", "-")
    return _BETWEEN_DIGITS.sub(lambda m: _BETWEEN_MAP[m.group(1)], t)


def _apply_lexicon(text: str, lexicon: Mapping[str, str]) -> str:
    # The lexicon runs BEFORE number normalisation, on the text as written:
    # * staff copy entries straight from the script, including ones with digits that the
    #   number rules would otherwise read in their own way ("3·15" = "三一五", "5G" = …);
    #   after normalisation such keys could never match;
    # * the replacement is a single left-to-right pass with the longest key winning, so a
    #   replacement is never itself replaced again (no cascades between entries);
    # * the spoken values go through number normalisation afterwards, so a value that
    #   contains digits still cannot leak a digit to the voice.
    # The price: an entry cannot target our own number readings (e.g. 两千 → …); to change
    # how one number is read, add an entry for the number as written instead.
    table = {_fold(k): v for k, v in lexicon.items() if k}
    if not table:
        return text
    pattern = re.compile("|".join(re.escape(k) for k in sorted(table, key=len, reverse=True)))
    return pattern.sub(lambda m: table[m.group()], text)


def _whitespace(text: str) -> str:
    t = _ZERO_WIDTH.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    t = re.sub(r"[^\S\n]+", " ", t)  # spaces, tabs, U+3000, NBSP → one space
    t = re.sub(r" ?\n\s*", "\n", t)  # a paragraph break is one "\n"
    return t.strip()


def _numbers(t: str, one: str) -> str:
    t = _LANDLINE.sub(lambda m: _landline(m, one), t)
    t = _SERVICE.sub(lambda m: "，".join(_digits(g, one) for g in m.groups()), t)
    t = _MOBILE.sub(lambda m: _mobile(m, one), t)
    t = _ISO_DATE.sub(_iso_date, t)
    t = _DOT_DATE.sub(_month_day, t)
    t = _POINT_DATE.sub(lambda m: _month_day(m) if _before_festival(m) else m.group(), t)
    t = _SLASH_DATE.sub(_slash_date, t)
    t = _BRACKET_YEAR.sub(lambda m: m.group(1) + _digits(m.group(2)) + m.group(3), t)
    t = _ORDINAL.sub(_ordinal, t)
    t = _PHONE_CANDIDATE.sub(lambda m: _phone_candidate(m, one), t)
    t = _THOUSANDS.sub(lambda m: m.group().replace(",", ""), t)
    t = _CONNECTOR.sub("至", t)
    t = _TIME.sub(_time, t)
    t = _RATIO.sub(lambda m: _cardinal(m.group(1)) + "比" + _cardinal(m.group(2)), t)
    t = _YEAR_RANGE.sub(lambda m: _digits(m.group(1)) + m.group(2) + _digits(m.group(3)), t)
    t = _BARE_YEAR_RANGE.sub(_bare_year_range, t)
    t = _YEAR.sub(lambda m: _digits(m.group(1)), t)
    t = _YEAR_LIKE.sub(lambda m: _digits(m.group(1)), t)
    t = _PERCENT_RANGE.sub(_percent_range, t)
    t = _PERCENT.sub(_percent, t)
    t = _FRACTION.sub(lambda m: _cardinal(m.group(2)) + "分之" + _cardinal(m.group(1)), t)
    t = _DOTTED.sub(lambda m: "点".join(_cardinal(p) for p in m.group().split(".")), t)
    t = _NUMBER.sub(lambda m: _number(m, one), t)
    return _LEFTOVER.sub(lambda m: _digits(m.group()), t)  # last resort, never a digit


def _landline(m: re.Match[str], one: str) -> str:
    area = m.group(1) or m.group(2)
    out = _digits(area, one) + "，" + _digits(m.group(3), one)
    if m.group(4):
        out += "，转" + _digits(m.group(4), one)
    return out


def _mobile(m: re.Match[str], one: str) -> str:
    prefix = "加八六，" if m.group(1) and m.group(1).startswith("+") else ""
    if m.group(1) and not prefix:
        prefix = "八六，"
    return prefix + "，".join(_digits(g, one) for g in m.groups()[1:])


def _iso_date(m: re.Match[str]) -> str:
    return f"{_digits(m.group(1))}年{_cardinal(m.group(3))}月{_cardinal(m.group(4))}日"


def _month_day(m: re.Match[str]) -> str:
    return f"{_cardinal(m.group(1))}月{_cardinal(m.group(2))}日"


def _before_festival(m: re.Match[str]) -> bool:
    text, end = m.string, m.end()
    return not _QTY_FOLLOW.match(text, end) and bool(_FESTIVAL.match(text, end))


def _slash_date(m: re.Match[str]) -> str:
    """``12/4`` is a date before a festival name or after 于/在/从/至/到, else a fraction."""
    if _before_festival(m):
        return _month_day(m)
    text, start = m.string, m.start()
    before = text[start - 1] if start else ""
    if before not in _DATE_PREP:
        return m.group()
    if before in "至到" and start > 1 and text[start - 2] in _CHANGE_VERB:
        return m.group()  # 降至1/3, 增加到1/2 (截至 stays a date)
    proper = int(m.group(1)) < int(m.group(2))
    if proper and _FRACTION_FOLLOW.match(text, m.end()):
        return m.group()  # 在1/3的村民中, 从1/3提高到1/2
    return _month_day(m)


def _ordinal(m: re.Match[str]) -> str:
    out = "第" + _cardinal(m.group(1))
    for sep, di, num in _ORDINAL_TAIL.findall(m.group(2)):
        sep = sep if sep in "、和及或与至到" else "至"
        out += sep + ("第" if di else "") + _cardinal(num)
    return out


def _is_hotline(s: str) -> bool:
    if s in _HOTLINES:
        return True
    return bool(_HOTLINE_PATTERN.fullmatch(s)) and not s.endswith("00")


def _phone_candidate(m: re.Match[str], one: str) -> str:
    """A 3+ digit run: read digit by digit if it is a hotline or phone number."""
    s, (start, end), text = m.group(1), m.span(1), m.string
    if _QTY_FOLLOW.match(text, end) or (start and text[start - 1] in _QTY_CUE):
        return s
    if _is_hotline(s):
        return _digits(s, one)
    if len(s) < 5:  # real phone numbers have 5+ digits; 3-4 digit ones are hotlines above
        return s
    before = re.split(r"[，,。！？；!?;\n]", text[max(0, start - 12) : start])[-1]
    after = re.split(r"[，,。！？；!?;\n]", text[end : end + 8])[0]
    if _PHONE_CONTEXT.search(before) or _PHONE_AFTER.search(after):
        return _digits(s, one)
    return s


def _time(m: re.Match[str]) -> str:
    hour, minute, second = int(m.group(1)), m.group(2), m.group(3)
    out = ("两" if hour == 2 else _cardinal(str(hour))) + "点"
    if minute != "00" or (second and second != "00"):
        out += _clock_part(minute) + "分"
    if second and second != "00":
        out += _clock_part(second) + "秒"
    return out


def _clock_part(two_digits: str) -> str:
    """Minutes/seconds: 05 → 零五, 30 → 三十, 00 → 零."""
    if two_digits[0] == "0":
        return "零" + (_DIGIT_NAMES[int(two_digits[1])] if two_digits[1] != "0" else "")
    return _cardinal(two_digits)


def _bare_year_range(m: re.Match[str]) -> str:
    if _QTY_FOLLOW.match(m.string, m.end()):  # 1900至2000人 is a count range
        return m.group()
    return _digits(m.group(1)) + m.group(2) + _digits(m.group(3))


def _number_reading(s: str) -> str:
    if "." in s:
        i, f = s.split(".", 1)
        return _decimal(i, f)
    return _cardinal(s)


def _percent_range(m: re.Match[str]) -> str:
    head = "百分之" if m.group(4) == "%" else "千分之"
    return head + _number_reading(m.group(1)) + m.group(2) + _number_reading(m.group(3))


def _percent(m: re.Match[str]) -> str:
    head = "百分之" if m.group(3) == "%" else "千分之"
    return ("负" if m.group(1) else "") + head + _number_reading(m.group(2))


def _number(m: re.Match[str], one: str) -> str:
    sign = "负" if m.group(1) else ""
    digits, frac = m.group(2), m.group(3)
    if frac is not None:
        return sign + _decimal(digits, frac)
    text, end, start = m.string, m.end(), m.start(2)
    if _QTY_FOLLOW.match(text, end):  # a quantity or date part: cardinal, 两 where natural
        if len(digits.lstrip("0")) > 16:
            return sign + _digits(digits, one)
        if digits.lstrip("0") == "2" and _TWO_FOLLOW.match(text, end):
            return sign + "两"
        return sign + _liang(_cardinal(digits))
    if not sign:
        cue = start > 0 and text[start - 1] in _QTY_CUE
        latin = start > 0 and text[start - 1].isascii() and text[start - 1].isalpha()
        if latin and len(digits) >= 3:
            return _digits(digits, one)  # GB18030, A320: model and standard codes
        if (len(digits) > 1 and digits[0] == "0") or len(digits) > 8:
            return _digits(digits, one)  # codes, ID numbers, account numbers
        if len(digits) >= 6 and not cue:
            return _digits(digits, one)  # 123456这种密码, 邮编 054000
    return sign + _liang(_cardinal(digits))


# --------------------------------------------------------------------------- lexicon

_TYPE_NAMES = {
    "int": "数字",
    "float": "数字",
    "bool": "真假值",
    "dict": "表",
    "list": "列表",
    "datetime": "日期时间",
    "date": "日期",
    "time": "时间",
}

_TOML_HINTS = (
    ("Illegal character '\\n'", "引号没有配对，这一行的字符串没有结束"),
    ("Unterminated string", "引号没有配对，这一行的字符串没有结束"),
    ("Expected '=' after a key", "缺少等号，或原文没有用英文双引号括起来"),
    ("Cannot overwrite a value", "同一个词条写了两次，请删掉重复的一行"),
    ("Cannot declare", "同一个表（方括号那一行）写了两次，请删掉重复的一行"),
    ("Invalid value", "读法要用英文双引号括起来"),
    ("Expected ']'", "方括号没有配对"),
    ("Invalid initial character for a key", "原文要用英文双引号括起来"),
)


def load_lexicon(path: Path | str) -> dict[str, str]:
    """Read the pronunciation lexicon: a TOML file with ``[replace]`` "written" = "spoken".

    Raises :class:`TextError` (message in Chinese, naming the file, line and key) when the
    file is missing, unreadable, not TOML, has other top-level keys, or a non-text value.
    """
    path = Path(path)
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TextError(
            f"{name}: 找不到读音词典文件。请检查 config.toml 里词典的路径，"
            "或新建这个文件（可以复制项目文件夹里的 lexicon.toml 示例）"
        ) from None
    except OSError as e:
        raise TextError(
            f"{name}: 无法读取读音词典（{e.strerror}），请检查文件是否存在、权限是否正确"
        ) from None
    try:
        source = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TextError(
            f"{name}: 文件不是 UTF-8 编码，请用记事本“另存为”并选择 UTF-8 编码后再试"
        ) from None
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as e:
        raise TextError(_toml_error(name, source, e)) from None

    for key in data:
        if key != "replace":
            raise TextError(
                f"{name}: 不认识的设置项“{key}”。读音词典里只能有 [replace] 表，"
                "请删掉这一项，或把词条写到 [replace] 下面"
            )
    table = data.get("replace", {})
    if not isinstance(table, dict):
        raise TextError(
            f'{name}: replace 必须是一个表：先写一行 [replace]，再每行写一个 "原文" = "读法"'
        )
    result: dict[str, str] = {}
    for key, value in table.items():
        if not isinstance(value, str):
            kind = _TYPE_NAMES.get(type(value).__name__, type(value).__name__)
            raise TextError(
                f"{name}: [replace] 里“{key}”的读法不是文字（是{kind}），"
                f'请用英文双引号把读法括起来，例如 "{key}" = "读法"'
            )
        if not key.strip():
            raise TextError(f'{name}: [replace] 里有一个空的原文（""），请删掉这一行')
        if not value.strip():
            raise TextError(f"{name}: [replace] 里“{key}”的读法是空的，请填上读法或删掉这一行")
        result[key] = value
    return result


def _toml_error(name: str, source: str, e: tomllib.TOMLDecodeError) -> str:
    msg = str(e)
    found = re.search(r"\(at line (\d+), column (\d+)\)\s*$", msg)
    reason = re.sub(r"\s*\(at (?:line \d+, column \d+|end of document)\)\s*$", "", msg)
    hint = next((h for k, h in _TOML_HINTS if reason.startswith(k)), "")
    advice = hint + "。" if hint else ""
    advice += '请检查引号、等号和方括号：每个词条写成 "原文" = "读法"，两边都用英文双引号'
    if found:
        line, col = int(found.group(1)), int(found.group(2))
        lines = source.splitlines()
        shown = lines[line - 1].strip()[:40] if 0 < line <= len(lines) else ""
        where = f"第{line}行第{col}列"
        content = f"（这一行是：{shown}）" if shown else ""
        return f"{name}: {where}: TOML 语法错误 {reason}{content}。{advice}"
    return f"{name}: 文件末尾: TOML 语法错误 {reason}。{advice}"


# --------------------------------------------------------------------------- sentences

_CLOSERS = "”’」』）)》〉】\"'\\]"
_SENTENCE = re.compile(
    rf"[^\n。！？；!?;]+(?:[。！？；!?;]+[{_CLOSERS}]*)?|[。！？；!?;]+[{_CLOSERS}]*|\n+"
)
_SOFT_BREAK = re.compile(r"[^，、：,:]+[，、：,:]*|[，、：,:]+")


def _sentence_spans(text: str) -> list[str]:
    """Consecutive pieces covering ``text`` exactly; each ends a sentence or is newlines."""
    return [m.group() for m in _SENTENCE.finditer(text)]


def split_sentences(text: str) -> list[str]:
    """Sentences ending at 。！？； (or ! ? ;, with closing quotes) or a newline.

    The end punctuation stays with its sentence; surrounding whitespace and empty
    sentences are dropped.
    """
    return [s.strip() for s in _sentence_spans(text) if s.strip()]


def _xml_bytes(s: str) -> int:
    """UTF-8 size after XML escaping, as edge-tts sends it (quotes counted, to be safe)."""
    return (
        len(s.encode("utf-8"))
        + 4 * s.count("&")
        + 3 * (s.count("<") + s.count(">"))
        + 5 * (s.count('"') + s.count("'"))
    )


def chunk(text: str, max_chars: int = 1000, max_bytes: int = 3000) -> list[str]:
    """Cut ``text`` into pieces of whole sentences for one TTS request each.

    Each piece has at most ``max_chars`` characters and at most ``max_bytes`` UTF-8 bytes
    after XML escaping (edge-tts allows 4,096 per request and only splits at newlines or
    spaces). A sentence that is too long is cut at ，、：, and as a last resort anywhere.
    Pieces are stripped and never empty; joined they give back ``text`` except for
    whitespace at the cut points.
    """
    if max_chars < 1 or max_bytes < 6:
        raise TextError(
            f"分段长度设置不合理（max_chars={max_chars}, max_bytes={max_bytes}），"
            "请把 max_chars 设为至少 1、max_bytes 设为至少 6"
        )

    def size(s: str) -> tuple[int, int]:
        return len(s), _xml_bytes(s)

    def fits(s: str) -> bool:
        n, b = size(s)
        return n <= max_chars and b <= max_bytes

    units: list[str] = []
    for span in _sentence_spans(text):
        if fits(span):
            units.append(span)
            continue
        for part in (m.group() for m in _SOFT_BREAK.finditer(span)):
            if fits(part):
                units.append(part)
            else:
                units.extend(_hard_cut(part, max_chars, max_bytes))

    pieces: list[str] = []
    current, n_chars, n_bytes = "", 0, 0
    for unit in units:
        c, b = size(unit)
        if current and (n_chars + c > max_chars or n_bytes + b > max_bytes):
            pieces.append(current)
            current, n_chars, n_bytes = "", 0, 0
        current += unit
        n_chars += c
        n_bytes += b
    pieces.append(current)
    return [p.strip() for p in pieces if p.strip()]


def _hard_cut(s: str, max_chars: int, max_bytes: int) -> list[str]:
    out: list[str] = []
    start, n_chars, n_bytes = 0, 0, 0
    for i, ch in enumerate(s):
        b = _xml_bytes(ch)
        if n_chars + 1 > max_chars or n_bytes + b > max_bytes:
            out.append(s[start:i])
            start, n_chars, n_bytes = i, 0, 0
        n_chars += 1
        n_bytes += b
    out.append(s[start:])
    return [p for p in out if p]
