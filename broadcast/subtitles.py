"""Subtitles (.srt) of a programme in the script's WRITTEN text, timed by the voice.

The voice reads the spoken form (幺幺九, 六月二十六日) and its cues carry that text with times.
A reader wants what the script says (119, 6月26日). So each written sentence is normalised on
its own, the spoken forms are aligned with the cues' text (difflib over the characters), and
each written sentence takes the time span its spoken form has in the audio. Long sentences are
cut at ，、：； (or, as a last resort, between characters, never inside a number or a Latin word)
into captions of at most two lines of 20 characters and at most 7 seconds, timed in proportion
to how long each piece is when spoken. Files are UTF-8 with a BOM and CRLF line ends, as
Windows players and editors expect.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tts import Cue

LINE_CHARS = 20
MAX_LINES = 2
MAX_SECONDS = 7.0
_SOFT = re.compile(r"[^，、：；,:;]+[，、：；,:;]*|[，、：；,:;]+")
_WORDISH = re.compile(r"[0-9A-Za-z.%:/\-+]")  # never cut between two of these
_BREAK_AFTER = "，、：；。！？,:;!?）)》”"


@dataclass(frozen=True)
class Caption:
    start: float
    end: float
    text: str  # one or two lines joined by "\n"


def captions(
    written: str, cues: Sequence[Cue], lexicon: Mapping[str, str] | None = None
) -> list[Caption]:
    """Captions in ``written`` text (what was given to :func:`broadcast.text.normalize`),
    timed by ``cues`` (the voice's sentences in spoken form, seconds from the speech start)."""
    from .text import split_sentences

    if not cues:
        return []
    sentences = [s for s in split_sentences(written) if s.strip()]
    spoken = [_spoken(s, lexicon) for s in sentences]
    timeline = _Timeline(cues, "".join(spoken))
    out: list[Caption] = []
    pos = 0
    for sentence, said in zip(sentences, spoken, strict=True):
        start, end = timeline.span(pos, pos + len(said))
        pos += len(said)
        if not said or end <= start:
            continue
        out += _cut(sentence, start, end, lexicon)
    return out


def _spoken(text: str, lexicon: Mapping[str, str] | None) -> str:
    """The spoken form without whitespace (the voice's cues are compared without it)."""
    from .errors import TextError
    from .text import normalize

    try:
        said = normalize(text, lexicon)
    except TextError:
        said = text
    return re.sub(r"\s+", "", said)


class _Timeline:
    """Maps a character offset of the joined spoken sentences to a time in the audio."""

    def __init__(self, cues: Sequence[Cue], joined: str):
        from difflib import SequenceMatcher

        self.starts: list[int] = []
        self.cues = list(cues)
        heard = ""
        for c in self.cues:
            self.starts.append(len(heard))
            heard += re.sub(r"\s+", "", c.text)
        self.length = len(heard)
        blocks = SequenceMatcher(None, joined, heard, autojunk=False).get_matching_blocks()
        # (offset in joined, offset in heard) anchors, from matching runs of characters
        self.anchors = [(0, 0)]
        for a, b, size in blocks:
            if size:
                self.anchors += [(a, b), (a + size, b + size)]
        self.anchors.append((len(joined), self.length))
        self.anchors.sort()
        self.keys = [a for a, _ in self.anchors]

    def _heard(self, pos: int) -> float:
        """Offset in the cues' text for ``pos`` in the joined spoken text (linear between anchors)."""
        i = bisect.bisect_right(self.keys, pos) - 1
        a0, b0 = self.anchors[max(i, 0)]
        if i + 1 >= len(self.anchors):
            return float(b0)
        a1, b1 = self.anchors[i + 1]
        return b0 + (b1 - b0) * ((pos - a0) / (a1 - a0) if a1 > a0 else 0.0)

    def _time(self, offset: float, end: bool) -> float:
        if not self.cues:
            return 0.0
        offset = min(max(offset, 0.0), float(self.length))
        i = (
            bisect.bisect_left(self.starts, offset) - 1
            if end
            else bisect.bisect_right(self.starts, offset) - 1
        )
        i = min(max(i, 0), len(self.cues) - 1)
        cue, first = self.cues[i], self.starts[i]
        size = (self.starts[i + 1] if i + 1 < len(self.starts) else self.length) - first
        share = min(max((offset - first) / size, 0.0), 1.0) if size else 1.0
        return cue.start + (cue.end - cue.start) * share

    def span(self, start: int, end: int) -> tuple[float, float]:
        return self._time(self._heard(start), False), self._time(self._heard(end), True)


def _cut(
    sentence: str, start: float, end: float, lexicon: Mapping[str, str] | None
) -> list[Caption]:
    """One sentence -> captions of at most 2×20 characters and 7 seconds."""
    limit = LINE_CHARS * MAX_LINES
    clauses = [m.group() for m in _SOFT.finditer(sentence)]
    weights = [max(len(_spoken(c, lexicon)), 1) for c in clauses]
    rate = (end - start) / sum(weights)  # seconds per spoken character
    pieces: list[tuple[str, int]] = []
    for clause, weight in zip(clauses, weights, strict=True):
        n = max(-(-len(clause) // limit), int(-(-(weight * rate) // MAX_SECONDS)), 1)
        for part in _split_even(clause, n):
            pieces.append((part, max(round(weight * len(part) / len(clause)), 1)))
    merged: list[tuple[str, int]] = []
    for text, weight in pieces:
        if merged:
            last, w = merged[-1]
            if len(last) + len(text) <= limit and (w + weight) * rate <= MAX_SECONDS:
                merged[-1] = (last + text, w + weight)
                continue
        merged.append((text, weight))
    out, t = [], start
    total = sum(w for _, w in merged)
    for i, (text, weight) in enumerate(merged):
        t_end = end if i == len(merged) - 1 else t + (end - start) * weight / total
        out.append(Caption(t, t_end, _lines(text.strip())))
        t = t_end
    return [c for c in out if c.text]


def _split_even(text: str, n: int) -> list[str]:
    """``text`` in ``n`` nearly equal parts, never cut inside a number or a Latin word."""
    if n <= 1:
        return [text]
    parts, rest = [], text
    for k in range(n, 1, -1):
        cut = _safe_cut(rest, round(len(rest) / k))
        parts.append(rest[:cut])
        rest = rest[cut:]
    return [p for p in [*parts, rest] if p]


def _safe_cut(text: str, at: int) -> int:
    """The position nearest ``at`` that is not between two characters of a number or word."""
    for d in range(len(text)):
        for pos in (at - d, at + d):
            if 0 < pos < len(text) and not (
                _WORDISH.match(text[pos - 1]) and _WORDISH.match(text[pos])
            ):
                return pos
    return at


def _lines(text: str) -> str:
    """One line up to 20 characters; else two, broken after punctuation near the middle."""
    if len(text) <= LINE_CHARS:
        return text
    lo, hi = max(1, len(text) - LINE_CHARS), min(LINE_CHARS, len(text) - 1)
    middle = len(text) / 2
    candidates = [p for p in range(lo, hi + 1) if text[p - 1] in _BREAK_AFTER] or [
        _safe_cut(text, round(middle))
    ]
    cut = min(candidates, key=lambda p: abs(p - middle))
    return f"{text[:cut].rstrip()}\n{text[cut:].lstrip()}"


# --- the file ---


def _timestamp(t: float) -> str:
    ms = max(0, round(t * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def write_srt(path: Path, caps: Sequence[Caption], offset: float) -> None:
    """SubRip file, UTF-8 with BOM and CRLF, written atomically; ``offset`` = the intro's length."""
    from .files import atomic_path

    blocks = [
        f"{i}\r\n{_timestamp(c.start + offset)} --> {_timestamp(c.end + offset)}\r\n"
        f"{c.text.replace(chr(10), chr(13) + chr(10))}\r\n"
        for i, c in enumerate(caps, 1)
    ]
    with atomic_path(path) as tmp:  # a full disk: no half file left behind
        tmp.write_bytes("\ufeff".encode() + "\r\n".join(blocks).encode("utf-8"))


_BLOCK = re.compile(
    r"(\d\d):(\d\d):(\d\d)[,.](\d{3}) --> (\d\d):(\d\d):(\d\d)[,.](\d{3})[^\n]*\n(.*?)(?:\n\s*\n|\Z)",
    re.S,
)


def read_srt(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) of each caption; the lines of a caption joined without a break."""
    text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")

    def sec(h: str, m: str, s: str, ms: str) -> float:
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    return [
        (sec(*b[:4]), sec(*b[4:8]), b[8].strip().replace("\n", "")) for b in _BLOCK.findall(text)
    ]
