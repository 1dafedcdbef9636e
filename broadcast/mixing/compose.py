"""pydub composes the programme: intro, voice, gaps, outro, fades and the ducked music bed.

The only module that imports pydub. Every input is decoded by ffmpeg into a float32
intermediate (TMPDIR) while its loudness is measured, then brought into pydub as int16,
pre-gained so that the voice sits HEADROOM_DB under the target (no clipping in int16, also
for inputs above full scale). pydub composes the programme in 10-s windows, overlaying the
ducked bed and, with an intro overlap, the intro's tail on the voice; each window goes to
an int16 file, so the programme is never held whole in memory. The voice's pieces are
joined once, by decoding them into one intermediate.

Ducking follows the voice's energy: per 10 ms, a step counts as speech when it is within
30 dB of the voice's loudness; speech steps are widened (100 ms ahead, 300 ms after) and
smoothed over 200 ms, so the bed dips to ``bed_duck_db`` under speech and rises to
``bed_pause_db`` in its pauses.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from broadcast.errors import MixError

from . import ffmpeg
from .loudness import BLK, Meter, pad_blocks, sample_peaks

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np
    from pydub import AudioSegment

    from . import MixSettings

HEADROOM_DB = 12.0
HEAD_S = 8  # seconds of voice handed early to decode()'s ``head``
_WINDOW_S = 10  # composition window
_DECLICK_MS = 10
_STEP = 14  # blocks per ducking step (~10 ms)


def _pydub():
    import warnings

    with warnings.catch_warnings():  # pydub imports audioop (deprecated in 3.11/3.12)
        warnings.simplefilter("ignore", DeprecationWarning)
        from pydub import AudioSegment
    return AudioSegment


@dataclass
class Decoded:
    raw: Path  # float32 interleaved at the programme rate/channels
    frames: int
    lufs: float
    energy: list[np.ndarray]  # K-weighted energy per BLK-frame block (float32), in pieces
    peaks: list[np.ndarray]  # sample peak per block, in pieces (joined where they are needed)


def decode(
    paths: Sequence[Path], raw: Path, rate: int, channels: int,
    head: Callable[[np.ndarray], object] | None = None,
) -> Decoded:  # fmt: skip
    """Decode and join ``paths`` into ``raw`` (one intermediate), measuring loudness and,
    per block, K-weighted energy and sample peak. ``head`` gets the first HEAD_S seconds
    as soon as they are decoded."""
    import numpy as np

    meter = Meter(rate, channels)
    energy, peaks, first = [], [], []
    rest_x, rest_w = np.zeros((0, channels), np.float32), np.zeros(0)
    with open(raw, "wb") as fh:
        for x in itertools.chain.from_iterable(ffmpeg.decode(p, rate, channels) for p in paths):
            fh.write(x)  # type: ignore[arg-type]  # ndarray is a buffer
            w = meter.feed(x)
            if head is not None:
                first.append(x)
                if meter.frames >= HEAD_S * rate:
                    head(np.concatenate(first)[: HEAD_S * rate])
                    head = None
            if len(rest_w):  # a piece ended off the block grid
                x, w = np.concatenate([rest_x, x]), np.concatenate([rest_w, w])
            n = len(w) // BLK * BLK
            energy.append(w[:n].reshape(-1, BLK).sum(axis=1).astype(np.float32))
            peaks.append(sample_peaks(x[:n]))
            rest_x, rest_w = x[n:], w[n:]
    if head is not None and first:  # a voice shorter than HEAD_S
        head(np.concatenate(first))
    energy.append(pad_blocks(rest_w).reshape(-1, BLK).sum(axis=1).astype(np.float32))
    peaks.append(sample_peaks(pad_blocks(rest_x)))
    names = "、".join(str(p) for p in paths)
    if meter.frames < 0.4 * rate:
        raise MixError(
            f"{names}: 声音太短（{meter.frames / rate:.1f} 秒，至少 0.4 秒），无法测量响度，"
            "请检查录音或语音合成结果"
        )
    lufs = meter.loudness()
    if not math.isfinite(lufs):
        raise MixError(f"{names}: 听不到声音（全是静音），请检查录音或语音合成结果")
    return Decoded(raw, meter.frames, lufs, energy, peaks)


def _int16(x: np.ndarray, gain: float) -> bytes:
    import numpy as np

    y = x * np.float32(gain * 32768.0)
    np.clip(np.rint(y, out=y), -32768, 32767, out=y)
    return y.astype("<i2").tobytes()


def _read(d: Decoded, start: int, count: int, channels: int) -> np.ndarray:
    import numpy as np

    with open(d.raw, "rb") as fh:
        fh.seek(start * 4 * channels)
        data = fh.read(count * 4 * channels)
    return np.frombuffer(data, dtype=np.float32).reshape(-1, channels)


def _duck_gains(voice: Decoded, s: MixSettings) -> np.ndarray:
    """Bed gain (linear, relative to its level in pauses) per _STEP blocks (~10 ms) of voice."""
    import numpy as np
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    energy = np.concatenate(voice.energy)
    n = len(energy) // _STEP * _STEP
    power = energy[:n].astype(np.float64).reshape(-1, _STEP).sum(axis=1) / (_STEP * BLK)
    with np.errstate(divide="ignore"):
        level = -0.691 + 10 * np.log10(power)
    speech = (level > voice.lufs - 30.0).astype(np.float64)
    speech = maximum_filter1d(speech, 41, origin=-10)  # 100 ms ahead, 300 ms after
    dip_db = s.bed_duck_db - s.bed_pause_db
    return uniform_filter1d(10 ** (speech * dip_db / 20), 20)


def compose(voice: Decoded, extras: dict[str, Decoded], s: MixSettings, out: IO[bytes]) -> int:
    """Write the programme to ``out`` as int16 frames; returns the frame where the voice starts.

    intro (faded out) + gap + voice (+ ducked bed under it) + gap + outro, composed by pydub
    window by window, so that only one window of the programme is in memory.
    """
    import numpy as np

    Segment = _pydub()
    rate, ch = s.sample_rate, s.channels
    fw = 2 * ch

    def level(d: Decoded, lu: float) -> float:
        return 10 ** ((s.loudness_lufs + lu - HEADROOM_DB - d.lufs) / 20)

    def segment(data: bytes) -> AudioSegment:
        return Segment(data=data, sample_width=2, frame_rate=rate, channels=ch)

    def whole(d: Decoded, lu: float) -> AudioSegment:
        return segment(_int16(_read(d, 0, d.frames, ch), level(d, lu)))

    gap = round(s.gap_ms * rate / 1000)
    overlap = round(s.intro_overlap_ms * rate / 1000)
    intro = b""
    voice_start = 0
    if (d := extras.get("intro")) is not None:
        fade = min(max(s.fade_ms, _DECLICK_MS), d.frames * 500 // rate)
        intro = whole(d, s.jingle_offset_lu).fade_in(_DECLICK_MS).fade_out(fade).raw_data
        voice_start = max(0, d.frames - overlap) if overlap > 0 else d.frames + gap
        voice_start = -(-voice_start // BLK) * BLK  # on the block grid, as voice.energy is
        out.write(intro[: voice_start * fw].ljust(voice_start * fw, b"\0"))
    voice_end = voice_start + voice.frames

    bed = extras.get("bed")
    if bed is not None:
        bed_pcm = np.frombuffer(whole(bed, s.bed_pause_db).raw_data, "<i2").reshape(-1, ch)
        duck = _duck_gains(voice, s)
        bed_fade = min(round(s.fade_ms * rate / 1000), voice.frames // 2)
    gain = level(voice, 0.0)
    step = _STEP * BLK
    window = _WINDOW_S * rate
    for a in range(voice_start, voice_end, window):
        b = min(voice_end, a + window)
        part = segment(_int16(_read(voice, a - voice_start, b - a, ch), gain))
        if a == voice_start:
            part = part.fade_in(_DECLICK_MS)
        if b == voice_end:
            part = part.fade_out(min(_DECLICK_MS, len(part)))
        if bed is not None:
            t = np.arange(a - voice_start, b - voice_start)
            env = np.interp(t, np.arange(len(duck)) * step + step / 2, duck)
            env *= np.clip(np.minimum(t + 0.5, voice.frames - t - 0.5) / max(bed_fade, 1), 0, 1)
            looped = bed_pcm[t % len(bed_pcm)] * env[:, None]
            part = part.overlay(segment(np.rint(looped).astype("<i2").tobytes()))
        if a * fw < len(intro):  # the intro's tail under the voice
            part = part.overlay(segment(intro[a * fw : b * fw]))
        out.write(part.raw_data.ljust((b - a) * fw, b"\0"))  # pydub's fades cut to whole ms
    if (d := extras.get("outro")) is not None:
        out.write(bytes(gap * fw))
        out.write(whole(d, s.jingle_offset_lu).fade_in(_DECLICK_MS).fade_out(_DECLICK_MS).raw_data)
    return voice_start


def frames(fh: IO[bytes], start: int, end: int, channels: int) -> np.ndarray:
    """float32 (frames, channels) of the programme file at its nominal level (HEADROOM_DB
    undone); frames outside the programme read as silence."""
    import numpy as np

    x = np.zeros((end - start, channels), dtype=np.float32)
    lo = max(0, start)
    fh.seek(lo * 2 * channels)
    pcm = np.frombuffer(fh.read((end - lo) * 2 * channels), "<i2").reshape(-1, channels)
    x[lo - start : lo - start + len(pcm)] = pcm
    x *= np.float32(10 ** (HEADROOM_DB / 20) / 32768)
    return x
