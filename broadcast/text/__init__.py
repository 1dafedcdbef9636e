"""Spoken-form text for the voice: number normalisation, lexicon, sentences, chunks.

Everything here is pure (no clock, no network); the only I/O is :func:`load_lexicon`
reading the pronunciation lexicon. The output of :func:`normalize` is exactly what the TTS
voice reads, and it never contains an Arabic digit: neural voices guess number readings
badly (``96110`` becomes 九万六千一百一十) and espeak-ng's pinyin voice cannot read digits.
:func:`for_engine` then adapts it to one engine (per-engine lexicon entries for Latin
words, and a warning for the ones an offline voice would still receive).

One module per kind of thing: ``readings`` (how digits are said), ``words`` (measure and
approximation words), ``lines`` (list markers), ``phones`` (phones, hotlines, codes),
``dates`` (dates, years, generations), ``units`` (units and currency), ``maths`` (signs,
ratios, clock times, ranges, percentages, fractions), ``normalize`` (the order of the
rules), ``lexicon`` and ``chunks``.
"""

from .chunks import chunk, split_sentences
from .lexicon import EngineText, Lexicon, for_engine, latin_words, load_lexicon
from .normalize import normalize

__all__ = [
    "EngineText",
    "Lexicon",
    "chunk",
    "for_engine",
    "latin_words",
    "load_lexicon",
    "normalize",
    "split_sentences",
]
