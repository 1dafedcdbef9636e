"""List markers at the start of a line: 1. 2、 （一） (1) ① read as 第一、; bullets dropped."""

from __future__ import annotations

import re

from .readings import cardinal

_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"

# 1. / 1、 / 1) / 1） / (1) / （1） / （一） / (一), then not a digit (1.5万元 is no marker).
_NUMBERED = re.compile(
    r"^(?:([0-9]{1,2})(?:[.．](?![0-9])|[、)）])|[(（]([0-9]{1,2}|[一二三四五六七八九十]{1,3})[)）]) ?"
)
_CIRCLED_RE = re.compile(f"[{_CIRCLED}] ?")
# A bullet: - • · ● ▪ ■ ◆ * followed by a space (or a non-digit for the round bullets).
_BULLET = re.compile(r"^(?:[-*+] |[•●▪■◆◇○□√·・] ?)(?=\S)")


def read_list_marker(line: str) -> str:
    """Read the list marker a line starts with as 第一、…, drop a bullet; ① anywhere."""
    line = _BULLET.sub("", line)
    m = _NUMBERED.match(line)
    if m:
        n = m.group(1) or m.group(2)
        rest = line[m.end() :]
        if not rest.startswith(("第", "、")):
            spoken = cardinal(n) if n.isdigit() else n
            line = f"第{spoken}、{rest}"
    return _CIRCLED_RE.sub(lambda c: f"第{cardinal(str(_CIRCLED.index(c.group()[0]) + 1))}、", line)
