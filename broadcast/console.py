"""Plain-text tables that line up with Chinese characters (two columns wide each)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any


def width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def cut(s: str, limit: int) -> str:
    """Shorten ``s`` to at most ``limit`` display columns, ending with … when cut."""
    if width(s) <= limit:
        return s
    out, w = "", 0
    for c in s:
        cw = width(c)
        if w + cw > limit - 1:
            break
        out, w = out + c, w + cw
    return out + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces; the header underlined."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(width(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        return "  ".join(c + " " * (widths[i] - width(c)) for i, c in enumerate(r)).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def did_you_mean(value: str, known: Iterable[str]) -> str:
    """'（是否为“青石村”？）' when a known name is close to ``value``, else ''."""
    import difflib

    hint = difflib.get_close_matches(value, list(known), n=1, cutoff=0.3)
    return f"（是否为“{hint[0]}”？）" if hint else ""


def villages_text(villages: Sequence[str] | str, all_villages: Sequence[str] | None = None) -> str:
    """'全部村' for "all" (or for every one of ``all_villages``), else the names joined with 、."""
    if villages == "all" or (all_villages is not None and list(villages) == list(all_villages)):
        return "全部村"
    return "、".join(villages)
