"""Programme audio: speech + jingles + optional music bed -> a broadcast-loudness file.

``master`` is the entry point. The stage is split by job: ``compose`` (pydub: the
programme's timeline), ``loudness`` (BS.1770 meter, 8x true peak), ``limiter`` (true-peak
limiter and make-up solver), ``ffmpeg`` (probe, decode, encode with read-back),
``mastering`` (the loop that ties them). numpy, scipy and pydub are imported inside
functions, so importing this package stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .compose import AudioSegment


@dataclass(frozen=True)
class MixSettings:
    """How a programme is mastered. Levels in LUFS/LU/dB, times in milliseconds."""

    loudness_lufs: float = -16.0
    true_peak_dbtp: float = -1.0
    sample_rate: int = 44100
    channels: int = 1
    format: str = "mp3"  # mp3 | wav | ogg | m4a
    bitrate: str = "128k"
    intro: Path | None = None
    outro: Path | None = None
    bed: Path | None = None  # music bed under the voice
    bed_duck_db: float = -22.0  # bed loudness relative to the voice while it speaks …
    bed_pause_db: float = -12.0  # … and in its pauses
    fade_ms: int = 400
    gap_ms: int = 600  # silence between intro and voice, and voice and outro
    intro_overlap_ms: int = 0  # >0: the voice starts this long before the intro ends
    jingle_offset_lu: float = 0.0  # intro/outro loudness relative to the voice


@dataclass(frozen=True)
class MixResult:
    path: Path
    duration_s: float
    lufs: float  # integrated loudness of the written file (BS.1770-4)
    true_peak_dbtp: float  # 8x-oversampled true peak of the written file
    intro_s: float  # where the voice starts


def master(voice, out: Path, settings: MixSettings, tags: Mapping[str, str] = {}) -> MixResult:
    """Master speech (one file or pieces to join) into a broadcast-ready programme at ``out``,
    tagged with ``tags`` (title, artist, album, date: ID3v2.3 in an mp3)."""
    from .mastering import master as _master

    return _master(voice, out, settings, tags)


def measure(path: Path) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP) of an audio file."""
    from .mastering import measure as _measure

    return _measure(path)


def probe_duration(path: Path) -> float:
    """Duration in seconds as reported by ffprobe; MixError if it holds no audio stream."""
    from .ffmpeg import probe

    return probe(Path(path))["duration"]


def decode_any(path: Path) -> AudioSegment:
    """Decode mp3/m4a/wav/ogg/… into a pydub AudioSegment (short clips: all in RAM)."""
    from .compose import decode_any as _decode_any

    return _decode_any(path)


__all__ = ["MixResult", "MixSettings", "decode_any", "master", "measure", "probe_duration"]
