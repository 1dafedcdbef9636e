"""Sentences and TTS-sized chunks of spoken text."""

from __future__ import annotations

import re

from broadcast.errors import TextError

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
