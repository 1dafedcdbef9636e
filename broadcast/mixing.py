"""Programme mastering: speech + jingles + optional music bed → broadcast-loudness audio file.

This is the only module that imports pydub; pydub, numpy and scipy are imported inside the
functions so that ``import broadcast.mixing`` stays cheap.

Design (measured on the development machine, see ``bench/production.py``):

* **Streaming, not pydub, for the programme itself.** A 30-minute 44.1 kHz mono programme is
  79 M samples: 159 MB as int16, 318 MB as float32, 635 MB as float64, and pydub copies the
  whole segment on every operation. ``master`` therefore never holds the programme in memory:
  every input (speech pieces, intro, outro, bed) is decoded by ffmpeg straight into a raw
  float32 intermediate file at the target rate (lossless; in ``TMPDIR``) and all later passes
  read those files in 64 k-frame chunks. Peak RSS is a few tens of MB above the interpreter
  with numpy/scipy loaded, independent of programme length. pydub is used only by
  :func:`decode_any`, the convenience decoder for short clips.
* **Loudness** is BS.1770-4 integrated loudness, computed blockwise (K-weighting biquads with
  carried filter state, 100-ms energy segments, 400-ms gating blocks with 75 % overlap,
  absolute and relative gates), bit-for-bit the same algorithm and block boundaries as
  pyloudnorm (validated in the tests; pyloudnorm agrees with ffmpeg's ``ebur128``).
* **True peak** is measured on 4× oversampled audio: three fractional-delay phases of a
  Kaiser-windowed sinc interpolator (24 taps per phase) plus the original samples.
* **Limiter.** Pass 1 renders the mix once at nominal gains and keeps two small arrays per
  32-frame block (0.7 ms): the 4×-oversampled peak and the K-weighted energy. The limiter
  gain curve is computed on those blocks — lookahead (attack) 5 ms, hold 20 ms, release
  60 dB/s, smoothed by a moving average so it never rises above the gain a peak requires —
  and the programme's post-limiter loudness is *predicted* from the block energies. Because
  re-gaining and re-limiting only touches these arrays, the "limiter lowered the loudness →
  re-gain → re-limit" loop is iterated to convergence in milliseconds. Pass 2 renders the mix
  with the interpolated gain curve straight into the ffmpeg encoder (which encodes on the
  other core while Python mixes).
* **Verification.** The encoded temporary file is decoded again and measured (loudness and
  true peak of what listeners will actually hear; lossy codecs add ~0.5-1 dB of overshoot).
  If it misses the ceiling or the loudness window, the ceiling/gain is corrected and the
  programme re-rendered (at most 3 attempts). Only then is it fsynced and renamed over
  ``out`` — a crash or error never leaves a half-written programme.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from broadcast.errors import MixError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np
    from pydub import AudioSegment

log = logging.getLogger(__name__)

# ffmpeg muxer, codec arguments, accepted file suffixes, true-peak margin of the codec (dB).
_FORMATS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], float]] = {
    "mp3": ("mp3", ("-c:a", "libmp3lame"), (".mp3",), 0.4),
    "wav": ("wav", ("-c:a", "pcm_s16le"), (".wav",), 0.15),
    "ogg": ("ogg", ("-c:a", "libvorbis"), (".ogg", ".oga"), 0.45),
    "m4a": ("ipod", ("-c:a", "aac", "-movflags", "+faststart"), (".m4a", ".mp4"), 0.55),
}
_CHUNK = 1 << 16  # frames per processing chunk (multiple of _BLK)
_BLK = 32  # frames per limiter/analysis block
_TP_HALF = 12  # interpolator half length (taps per phase = 2 * _TP_HALF)
_LOOKAHEAD_S = 0.005
_HOLD_S = 0.020
_RELEASE_DB_S = 60.0
_DECLICK_S = 0.010
_TP_GUARD_DB = 0.1  # our reading must stay this far under the ceiling
_LUFS_TOL = 0.3  # re-render when the measured loudness is further than this from target
_ATTEMPTS = 3
_MAX_MAKEUP_DB = 12.0  # most make-up gain pushed into the limiter
_CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # BS.1770 G_i (L, R, C, Ls, Rs)


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
    bed_duck_db: float = -18.0  # bed loudness relative to the voice
    fade_ms: int = 400
    gap_ms: int = 600  # silence between intro and voice, and voice and outro
    intro_overlap_ms: int = 0  # >0: the voice starts this long before the intro ends
    jingle_offset_lu: float = 0.0  # intro/outro loudness relative to the voice


@dataclass(frozen=True)
class MixResult:
    path: Path
    duration_s: float
    lufs: float  # integrated loudness of the written file (BS.1770-4)
    true_peak_dbtp: float  # 4x-oversampled true peak of the written file
    intro_s: float  # where the voice starts


# --------------------------------------------------------------------------- tools


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise MixError(f"未找到 {name}：请运行 apt-get install ffmpeg")
    return exe


def _check_input(path: Path) -> None:
    if not path.exists():
        raise MixError(f"{path}: 文件不存在，请检查路径")
    if not path.is_file():
        raise MixError(f"{path}: 不是音频文件（是文件夹？），请检查路径")
    if path.stat().st_size == 0:
        raise MixError(f"{path}: 文件是空的（0 字节），请重新录制或换成 WAV 或 MP3 文件")


def _last_line(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "未知错误"


def _decode_error(path: Path, detail: str) -> MixError:
    return MixError(f"{path}: 无法解码音频（{detail}），请换成 WAV 或 MP3 文件")


def _probe_stream(path: Path) -> tuple[int, int]:
    """Sample rate and channel count of the first audio stream."""
    import json

    _check_input(path)
    proc = subprocess.run(
        [_tool("ffprobe"), "-v", "error", "-select_streams", "a:0",
         "-show_entries", "stream=sample_rate,channels", "-of", "json", str(path)],
        capture_output=True, stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise _decode_error(path, _last_line(proc.stderr))
    try:
        stream = json.loads(proc.stdout)["streams"][0]
        return int(stream["sample_rate"]), int(stream["channels"])
    except (ValueError, KeyError, IndexError):
        raise _decode_error(path, "文件里没有音频流") from None


def _decode_stream(path: Path, rate: int, channels: int) -> Iterator[np.ndarray]:
    """Yield float32 (frames, channels) chunks of ``path`` decoded and resampled by ffmpeg."""
    import numpy as np

    _check_input(path)
    cmd = [_tool("ffmpeg"), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
           "-f", "f32le", "-c:a", "pcm_f32le", "-ar", str(rate), "-ac", str(channels), "pipe:1"]
    frame_bytes = 4 * channels
    frames = 0
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        try:
            while True:
                data = proc.stdout.read(_CHUNK * frame_bytes)
                if not data:
                    break
                usable = len(data) - len(data) % frame_bytes
                if usable:
                    frames += usable // frame_bytes
                    yield np.frombuffer(data, dtype=np.float32, count=usable // 4).reshape(
                        -1, channels)
        finally:
            if proc.poll() is None and not proc.stdout.closed:
                # consumer stopped early (exception) or ffmpeg still finishing
                proc.stdout.close()
            rc = proc.wait()
        if rc != 0:
            err.seek(0)
            raise _decode_error(path, _last_line(err.read()))
    if frames == 0:
        raise _decode_error(path, "文件里没有声音数据")


# --------------------------------------------------------------------------- loudness


def _k_weighting_sos(rate: int) -> np.ndarray:
    """BS.1770 K-weighting as two RBJ biquads, the same design pyloudnorm uses."""
    import numpy as np

    def shelf(gain_db: float, q: float, fc: float) -> list[float]:
        a = 10 ** (gain_db / 40.0)
        w0 = 2.0 * math.pi * fc / rate
        alpha = math.sin(w0) / (2.0 * q)
        cw, sa = math.cos(w0), 2 * math.sqrt(a) * alpha
        b = [a * ((a + 1) + (a - 1) * cw + sa), -2 * a * ((a - 1) + (a + 1) * cw),
             a * ((a + 1) + (a - 1) * cw - sa)]
        den = [(a + 1) - (a - 1) * cw + sa, 2 * ((a - 1) - (a + 1) * cw),
               (a + 1) - (a - 1) * cw - sa]
        return [x / den[0] for x in b + den]

    def highpass(q: float, fc: float) -> list[float]:
        w0 = 2.0 * math.pi * fc / rate
        alpha = math.sin(w0) / (2.0 * q)
        cw = math.cos(w0)
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        den = [1 + alpha, -2 * cw, 1 - alpha]
        return [x / den[0] for x in b + den]

    return np.array([shelf(4.0, 1 / math.sqrt(2), 1500.0), highpass(0.5, 38.0)])


def _segment_bound(k: int, rate: int) -> int:
    """First frame of the k-th 100-ms segment, computed exactly as pyloudnorm's block bounds."""
    return int(0.4 * (k * 0.25) * rate)


def _gated_loudness(segments: np.ndarray, frames: int, rate: int) -> float:
    """BS.1770-4 gated loudness from K-weighted energies of consecutive 100-ms segments."""
    import numpy as np

    if frames <= 0:
        return -math.inf
    duration = frames / rate
    if duration < 0.4:  # shorter than one gating block: plain (ungated) mean square
        z = float(np.sum(segments)) / frames
        return -0.691 + 10 * math.log10(z) if z > 0 else -math.inf
    blocks = int(round((duration - 0.4) / 0.1)) + 1
    seg = np.zeros(blocks + 3)
    n = min(len(segments), blocks + 3)
    seg[:n] = segments[:n]
    z = (seg[:-3] + seg[1:-2] + seg[2:-1] + seg[3:]) / (0.4 * rate)
    with np.errstate(divide="ignore"):
        lk = -0.691 + 10 * np.log10(z)
    above = z[lk >= -70.0]
    if above.size == 0:
        return -math.inf
    rel = -0.691 + 10 * math.log10(float(np.mean(above))) - 10.0
    gated = z[(lk > rel) & (lk > -70.0)]
    if gated.size == 0:
        return -math.inf
    mean = float(np.mean(gated))
    return -0.691 + 10 * math.log10(mean) if mean > 0 else -math.inf


class _Meter:
    """Streaming integrated-loudness meter (feed float32 (frames, channels) chunks)."""

    def __init__(self, rate: int, channels: int):
        import numpy as np

        self.rate = rate
        self.sos = _k_weighting_sos(rate)
        self.zi = np.zeros((self.sos.shape[0], 2, channels))
        self.weights = np.array([_CHANNEL_WEIGHTS[min(c, 4)] for c in range(channels)])
        self.frames = 0
        self.segments: list[float] = []
        self.acc = 0.0  # energy of the current, unfinished segment
        self.next_bound = _segment_bound(1, rate)

    def feed(self, x: np.ndarray) -> np.ndarray:
        """Add a chunk; returns its per-frame channel-weighted K-weighted power (float64)."""
        import numpy as np
        from scipy.signal import sosfilt

        y, self.zi = sosfilt(self.sos, x, axis=0, zi=self.zi)
        w = np.square(y, out=y) @ self.weights
        start, end = self.frames, self.frames + len(w)
        cs = np.cumsum(w)
        taken = 0.0
        while self.next_bound <= end:
            i = self.next_bound - start
            upto = float(cs[i - 1]) if i > 0 else 0.0
            self.segments.append(self.acc + upto - taken)
            self.acc, taken = 0.0, upto
            self.next_bound = _segment_bound(len(self.segments) + 1, self.rate)
        if len(cs):
            self.acc += float(cs[-1]) - taken
        self.frames = end
        return w

    def loudness(self) -> float:
        import numpy as np

        return _gated_loudness(np.array(self.segments + [self.acc]), self.frames, self.rate)


# --------------------------------------------------------------------------- true peak


def _interpolator() -> np.ndarray:
    """(3, 2*_TP_HALF) kernels giving x(m + k/4), k = 1..3, from x[m-H+1 .. m+H].

    Kaiser-windowed sinc (beta 9), each phase normalised to unity DC gain.
    """
    import numpy as np

    taps = np.arange(-_TP_HALF + 1, _TP_HALF + 1)
    rows = []
    for k in (1, 2, 3):
        t = taps - k / 4.0  # distance of each input sample from the interpolated point
        win = np.i0(9.0 * np.sqrt(1.0 - (t / _TP_HALF) ** 2)) / np.i0(9.0)
        h = np.sinc(t) * win
        rows.append(h / h.sum())
    return np.array(rows, dtype=np.float32)


class _PeakDetector:
    """4x-oversampled absolute peak per _BLK-frame block, streaming.

    Output lags the input by one block; feed chunks whose length is a multiple of _BLK and
    call :meth:`flush` at the end.
    """

    def __init__(self, channels: int):
        import numpy as np

        self.kernels = _interpolator()[:, ::-1].copy()  # reversed: used as convolutions
        self.hist = np.zeros((2 * _BLK, channels), dtype=np.float32)
        self.first = True
        self.max = 0.0

    def feed(self, x: np.ndarray) -> np.ndarray:
        import numpy as np
        from scipy.signal import oaconvolve

        n = len(x)
        buf = np.concatenate([self.hist, x])
        self.hist = buf[-2 * _BLK:]
        # frames [pos-_BLK, pos-_BLK+n) are buffer rows [_BLK, _BLK+n)
        seg = buf[_BLK - _TP_HALF + 1: _BLK + n + _TP_HALF]
        peak = np.abs(buf[_BLK: _BLK + n])
        for kern in self.kernels:
            y = oaconvolve(seg, kern[:, None], mode="valid", axes=0)
            np.maximum(peak, np.abs(y, out=y), out=peak)
        blocks = peak.max(axis=1).reshape(-1, _BLK).max(axis=1)
        if self.first:
            blocks = blocks[1:]
            self.first = False
        if blocks.size:
            self.max = max(self.max, float(blocks.max()))
        return blocks

    def flush(self) -> np.ndarray:
        import numpy as np

        return self.feed(np.zeros((_BLK, self.hist.shape[1]), dtype=np.float32))


def _pad_blocks(x: np.ndarray) -> np.ndarray:
    import numpy as np

    extra = (-len(x)) % _BLK
    if extra == 0:
        return x
    return np.concatenate([x, np.zeros((extra,) + x.shape[1:], dtype=x.dtype)])


def _db(x: float) -> float:
    return 20 * math.log10(x) if x > 0 else -math.inf


def _analyse(chunks: Iterator[np.ndarray], rate: int, channels: int) -> tuple[float, float, int]:
    meter, peaks = _Meter(rate, channels), _PeakDetector(channels)
    for x in chunks:
        meter.feed(x)
        peaks.feed(_pad_blocks(x))
    peaks.flush()
    return meter.loudness(), _db(peaks.max), meter.frames


# --------------------------------------------------------------------------- public helpers


def probe_duration(path: Path) -> float:
    """Duration in seconds as reported by ffprobe."""
    path = Path(path)
    _check_input(path)
    proc = subprocess.run(
        [_tool("ffprobe"), "-v", "error", "-show_entries", "format=duration",
         "-of", "default=noprint_wrappers=1:nokey=1", str(path)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    try:
        if proc.returncode != 0:
            raise ValueError(_last_line(proc.stderr))
        return float(proc.stdout.strip())
    except ValueError as exc:
        raise _decode_error(path, str(exc) or "无法读取时长") from None


def measure(path: Path) -> tuple[float, float]:
    """(integrated loudness in LUFS, 4x-oversampled true peak in dBTP) of an audio file."""
    path = Path(path)
    rate, channels = _probe_stream(path)
    lufs, tp, _ = _analyse(_decode_stream(path, rate, channels), rate, channels)
    return lufs, tp


def decode_any(path: Path) -> AudioSegment:
    """Decode mp3/m4a/wav/ogg/… into a pydub AudioSegment (for short clips: all in RAM)."""
    from pydub import AudioSegment

    path = Path(path)
    _check_input(path)
    _tool("ffmpeg")
    _tool("ffprobe")
    try:
        seg = AudioSegment.from_file(str(path))
    except Exception as exc:  # pydub raises CouldntDecodeError, IndexError, KeyError, …
        raise _decode_error(path, _last_line(str(exc)) or type(exc).__name__) from None
    if len(seg) == 0:
        raise _decode_error(path, "文件里没有声音数据")
    return seg


# --------------------------------------------------------------------------- mixing


@dataclass
class _Source:
    raw: Path  # float32 interleaved, programme rate/channels
    frames: int
    start: int  # first programme frame
    span: int  # programme frames covered (looped if > frames)
    gain: float  # linear
    fade_in: int
    fade_out: int


def _read_frames(fh: BinaryIO, offset: int, count: int, channels: int) -> np.ndarray:
    import numpy as np

    fh.seek(offset * 4 * channels)
    data = fh.read(count * 4 * channels)
    return np.frombuffer(data, dtype=np.float32).reshape(-1, channels)


def _fade(t: np.ndarray, length: int) -> np.ndarray:
    import numpy as np

    return (0.5 - 0.5 * np.cos(np.pi * np.clip((t + 0.5) / length, 0.0, 1.0))).astype(np.float32)


def _mix(sources: list[_Source], files: list[BinaryIO], start: int, end: int,
         channels: int) -> np.ndarray:
    import numpy as np

    out = np.zeros((end - start, channels), dtype=np.float32)
    for src, fh in zip(sources, files, strict=True):
        lo, hi = max(start, src.start), min(end, src.start + src.span)
        if lo >= hi:
            continue
        off = lo - src.start  # position inside the span
        if src.span <= src.frames:
            data = _read_frames(fh, off, hi - lo, channels)
        else:  # looped bed
            parts, pos, need = [], off % src.frames, hi - lo
            while need:
                n = min(need, src.frames - pos)
                parts.append(_read_frames(fh, pos, n, channels))
                pos, need = 0, need - n
            data = np.concatenate(parts)
        env = np.full(hi - lo, src.gain, dtype=np.float32)
        t = np.arange(off, off + (hi - lo))
        if off < src.fade_in:
            env *= _fade(t, src.fade_in)
        if off + (hi - lo) > src.span - src.fade_out:
            env *= _fade(src.span - 1 - t, src.fade_out)
        out[lo - start: hi - start] += data * env[:, None]
    return out


def _limiter_gain(peaks: np.ndarray, gain: float, ceiling: float, rate: int) -> np.ndarray:
    """Per-block gain (≤ 1) keeping ``gain * peaks`` under ``ceiling`` (both linear).

    Lookahead min-filter with hold → linear-in-dB release (cumulative-minimum trick) →
    moving-average attack. Every value is ≤ the required gain of its own and both
    neighbouring blocks, so linear interpolation between block centres is safe too.
    """
    import numpy as np
    from scipy.ndimage import minimum_filter1d

    ahead = max(1, math.ceil(_LOOKAHEAD_S * rate / _BLK))
    hold = max(ahead, math.ceil(_HOLD_S * rate / _BLK))
    with np.errstate(divide="ignore"):
        need = np.minimum(1.0, ceiling / (gain * peaks.astype(np.float64)))
    # virtual unlimited blocks before the start keep the attack ramp valid at block 0
    need = np.concatenate([np.ones(ahead + 1), need])
    size = hold + ahead + 3  # window [b - hold - 1, b + ahead + 1]
    m = minimum_filter1d(need, size, origin=hold + 1 - size // 2, mode="constant", cval=1.0)
    if m.min() >= 1.0:
        return np.ones(len(peaks), dtype=np.float32)
    step = _RELEASE_DB_S * _BLK / rate
    ramp = np.arange(len(m)) * step
    rel_db = ramp + np.minimum.accumulate(20 * np.log10(m) - ramp)
    cs = np.concatenate([[0.0], np.cumsum(10 ** (rel_db / 20))])
    box = (cs[ahead + 2:] - cs[1: -ahead - 1]) / (ahead + 1)  # mean over [b - ahead, b]
    return np.minimum(box, 1.0).astype(np.float32)


def _segment_blocks(frames: int, rate: int) -> np.ndarray:
    import numpy as np

    bounds = []
    k = 0
    while (b := _segment_bound(k, rate)) < frames:
        bounds.append(b // _BLK)
        k += 1
    return np.array(bounds, dtype=np.int64)


def _predict(energy: np.ndarray, gains: np.ndarray, seg_blocks: np.ndarray, frames: int,
             rate: int) -> float:
    import numpy as np

    seg = np.add.reduceat(energy * np.square(gains, dtype=np.float64), seg_blocks)
    return _gated_loudness(seg, frames, rate)


def _solve(aim: float, peaks: np.ndarray, energy: np.ndarray, seg_blocks: np.ndarray,
           frames: int, rate: int, ceiling: float, start_db: float) -> tuple[float, np.ndarray]:
    """Make-up gain (dB) and block gains whose limited result is predicted at ``aim`` LUFS.

    Re-gain → re-limit → re-measure, solved with safeguarded secant steps: the predicted
    loudness rises monotonically with the make-up gain but, under heavy limiting, with a
    slope well below 1, so plain "add the error" steps would converge slowly.
    """

    def evaluate(d: float) -> tuple[float, np.ndarray]:
        g = 10 ** (d / 20)
        gains = g * _limiter_gain(peaks, g, ceiling, rate)
        return _predict(energy, gains, seg_blocks, frames, rate), gains

    d, (lufs, gains) = start_db, evaluate(start_db)
    best = (abs(aim - lufs), d, gains)
    lo: tuple[float, float] | None = None  # (gain, loudness) below / above the aim
    hi: tuple[float, float] | None = None
    prev: tuple[float, float] | None = None  # previous point while unbracketed
    for _ in range(25):
        err = aim - lufs
        if abs(err) < 0.01 or not math.isfinite(lufs):
            break
        if err > 0:
            lo = (d, lufs)
        else:
            hi = (d, lufs)
        if lo is not None and hi is not None:  # bracketed: interpolate, keep inside
            frac = (aim - lo[1]) / (hi[1] - lo[1])
            d = lo[0] + min(max(frac, 0.1), 0.9) * (hi[0] - lo[0])
        else:  # no bracket yet: step along the local slope (1 at first)
            slope = 1.0
            if prev is not None and prev[0] != d:
                slope = min(max((prev[1] - lufs) / (prev[0] - d), 0.05), 1.0)
            prev = (d, lufs)
            d = min(d + err / slope, _MAX_MAKEUP_DB)
            if prev[0] == d:  # already at the cap and still too quiet
                break
        lufs, gains = evaluate(d)
        if abs(aim - lufs) < best[0]:
            best = (abs(aim - lufs), d, gains)
    if best[0] > 0.1:
        log.warning("limiter: %.1f LUFS not reachable under the peak ceiling without more "
                    "than %.0f dB of limiting; the programme will be quieter", aim,
                    _MAX_MAKEUP_DB)
    return best[1], best[2]


def _encode_cmd(settings: MixSettings, dest: Path) -> list[str]:
    muxer, codec, _, _ = _FORMATS[settings.format]
    cmd = [_tool("ffmpeg"), "-nostdin", "-v", "error", "-y", "-f", "f32le",
           "-ar", str(settings.sample_rate), "-ac", str(settings.channels), "-i", "pipe:0",
           *codec]
    if settings.format != "wav":
        cmd += ["-b:a", settings.bitrate]
    return cmd + ["-f", muxer, str(dest)]


def _check_settings(s: MixSettings, out: Path) -> None:
    if s.format not in _FORMATS:
        raise MixError(f"不支持的节目格式 {s.format!r}：请在设置里用 mp3、wav、ogg 或 m4a")
    suffixes = _FORMATS[s.format][2]
    if out.suffix.lower() not in suffixes:
        raise MixError(f"{out}: 文件扩展名与格式 {s.format} 不符，请改成 {suffixes[0]}")
    if not 8000 <= s.sample_rate <= 192000:
        raise MixError(f"采样率 {s.sample_rate} 不合适：请用 44100 或 48000")
    if s.channels not in (1, 2):
        raise MixError(f"声道数 {s.channels} 不合适：请用 1（单声道）或 2（立体声）")
    if s.format != "wav" and not re.fullmatch(r"\d{2,3}k", s.bitrate):
        raise MixError(f"码率 {s.bitrate!r} 不合适：请写成 128k 这样的形式")
    if not -40.0 <= s.loudness_lufs <= -5.0:
        raise MixError(f"目标响度 {s.loudness_lufs} LUFS 不合适：广播一般用 -16 或 -23")
    if not -10.0 <= s.true_peak_dbtp <= 0.0:
        raise MixError(f"峰值上限 {s.true_peak_dbtp} dBTP 不合适：请用 -1（或 -2）")
    if min(s.fade_ms, s.gap_ms, s.intro_overlap_ms) < 0:
        raise MixError("淡入淡出、间隔和重叠时间不能是负数，请检查设置")


def _decode_to_raw(paths: Sequence[Path], raw: Path, settings: MixSettings) -> tuple[int, float]:
    """Decode and concatenate ``paths`` into ``raw``; returns (frames, loudness)."""
    meter = _Meter(settings.sample_rate, settings.channels)
    with open(raw, "wb") as fh:
        for path in paths:
            for x in _decode_stream(path, settings.sample_rate, settings.channels):
                fh.write(x)
                meter.feed(x)
    lufs = meter.loudness()
    if not math.isfinite(lufs):
        names = "、".join(str(p) for p in paths)
        raise MixError(f"{names}: 听不到声音（全是静音），请检查录音或语音合成结果")
    return meter.frames, lufs


@dataclass
class _Layout:
    sources: list[_Source]
    total: int  # programme frames
    voice_start: int
    voice_frames: int


def _layout(pieces: list[Path], settings: MixSettings, tmpdir: Path) -> _Layout:
    """Decode every input to a raw intermediate and place it on the programme timeline.

    intro (faded out) + gap + voice (+ bed under it) + gap + outro; each source is pre-gained
    so that the voice and jingles sit at the target loudness (+ offsets).
    """
    rate, target = settings.sample_rate, settings.loudness_lufs
    declick = round(_DECLICK_S * rate)
    fade = round(settings.fade_ms * rate / 1000)
    gap = round(settings.gap_ms * rate / 1000)

    def decode(name: str, paths: list[Path], level: float) -> tuple[Path, int, float]:
        raw = tmpdir / f"{name}.f32"
        frames, lufs = _decode_to_raw(paths, raw, settings)
        return raw, frames, 10 ** ((level - lufs) / 20)

    sources: list[_Source] = []
    pos = 0
    jingle = target + settings.jingle_offset_lu
    v_raw, v_frames, v_gain = decode("voice", pieces, target)
    if settings.intro is not None:
        raw, frames, gain = decode("intro", [Path(settings.intro)], jingle)
        sources.append(_Source(raw, frames, 0, frames, gain, declick,
                               min(max(fade, declick), frames // 2)))
        overlap = round(settings.intro_overlap_ms * rate / 1000)
        pos = max(0, frames - overlap) if overlap > 0 else frames + gap
    voice_start = pos
    sources.append(_Source(v_raw, v_frames, pos, v_frames, v_gain, declick, declick))
    pos += v_frames
    if settings.bed is not None:
        raw, frames, gain = decode("bed", [Path(settings.bed)], target + settings.bed_duck_db)
        bfade = min(max(fade, declick), v_frames // 2)
        sources.append(_Source(raw, frames, voice_start, v_frames, gain, bfade, bfade))
    if settings.outro is not None:
        raw, frames, gain = decode("outro", [Path(settings.outro)], jingle)
        pos += gap
        sources.append(_Source(raw, frames, pos, frames, gain, declick, declick))
        pos += frames
    return _Layout(sources, pos, voice_start, v_frames)


def _analysis_pass(layout: _Layout, files: list[BinaryIO], rate: int,
                   channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Pass 1: per-block 4x-oversampled peak and K-weighted energy of the nominal mix."""
    import numpy as np

    meter, detector = _Meter(rate, channels), _PeakDetector(channels)
    peaks, energy = [], []
    for s in range(0, layout.total, _CHUNK):
        x = _mix(layout.sources, files, s, min(layout.total, s + _CHUNK), channels)
        w = meter.feed(x)
        energy.append(_pad_blocks(w).reshape(-1, _BLK).sum(axis=1))
        peaks.append(detector.feed(_pad_blocks(x)))
    peaks.append(detector.flush())
    return np.concatenate(peaks), np.concatenate(energy)


def master(voice: Path | Sequence[Path], out: Path, settings: MixSettings) -> MixResult:
    """Master speech (one file or pieces to join) into a broadcast-ready programme at ``out``.

    ``voice`` may be TTS output or a pre-recorded lecture (mp3, m4a, wav, ogg, …). Raises
    :class:`MixError` (naming the file) for missing/corrupt/silent inputs or a failed
    encode; ``out`` is then left untouched.
    """
    out = Path(out)
    pieces = [Path(voice)] if isinstance(voice, str | os.PathLike) else [Path(p) for p in voice]
    if not pieces:
        raise MixError("没有语音文件：请先合成或录制节目语音")
    _check_settings(settings, out)
    _tool("ffmpeg")
    for p in [*pieces, settings.intro, settings.outro, settings.bed]:
        if p is not None:
            _check_input(Path(p))
    rate, ch = settings.sample_rate, settings.channels
    target, tp_limit = settings.loudness_lufs, settings.true_peak_dbtp

    with tempfile.TemporaryDirectory(prefix="broadcast-mix-") as tmp:
        layout = _layout(pieces, settings, Path(tmp))
        files = [open(src.raw, "rb") for src in layout.sources]
        try:
            peaks, energy = _analysis_pass(layout, files, rate, ch)
            seg_blocks = _segment_blocks(layout.total, rate)

            def solve(aim: float, ceiling_db: float, start: float) -> tuple[float, np.ndarray]:
                return _solve(aim, peaks, energy, seg_blocks, layout.total, rate,
                              10 ** (ceiling_db / 20), start)

            ceiling_db = tp_limit - _FORMATS[settings.format][3]
            aim = target  # what we ask the predictor for (corrected for the codec)
            delta_db, gains = solve(aim, ceiling_db, 0.0)
            if settings.format != "wav":
                shift = _codec_shift(layout, files, gains, settings, Path(tmp))
                if abs(shift) > 0.02:
                    aim -= shift
                    delta_db, gains = solve(aim, ceiling_db, delta_db)
            out.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.",
                                        suffix=f".part{out.suffix}")
            os.close(fd)
            tmp_out = Path(name)
            try:
                for attempt in range(1, _ATTEMPTS + 1):
                    if attempt > 1:
                        delta_db, gains = solve(aim, ceiling_db, delta_db)
                    _encode(_rendered(layout, files, gains, 0, layout.total, ch), settings,
                            tmp_out)
                    lufs, tp, frames = _analyse(_decode_stream(tmp_out, rate, ch), rate, ch)
                    log.info("%s attempt %d: %.2f LUFS, %.2f dBTP (make-up %.2f dB, "
                             "ceiling %.2f dBTP)", out.name, attempt, lufs, tp, delta_db,
                             ceiling_db)
                    tp_ok = tp <= tp_limit - _TP_GUARD_DB
                    lufs_ok = abs(lufs - target) <= _LUFS_TOL
                    if tp_ok and lufs_ok:
                        break
                    if not tp_ok:
                        ceiling_db -= tp - (tp_limit - _TP_GUARD_DB) + 0.1
                    if not lufs_ok:
                        aim += target - lufs
                else:
                    log.warning("%s: after %d attempts %.2f LUFS / %.2f dBTP (target %.1f / "
                                "%.1f)", out, _ATTEMPTS, lufs, tp, target, tp_limit)
                _commit(tmp_out, out)
            finally:
                tmp_out.unlink(missing_ok=True)
        finally:
            for fh in files:
                fh.close()
    return MixResult(path=out, duration_s=frames / rate, lufs=lufs, true_peak_dbtp=tp,
                     intro_s=layout.voice_start / rate)


def _rendered(layout: _Layout, files: list[BinaryIO], gains: np.ndarray, start: int, end: int,
              channels: int) -> Iterator[np.ndarray]:
    """Pass 2: the mix of frames [start, end) times the interpolated limiter gain curve."""
    import numpy as np

    centres = np.arange(len(gains)) * _BLK + (_BLK - 1) / 2
    for s in range(start, end, _CHUNK):
        e = min(end, s + _CHUNK)
        b0, b1 = max(0, s // _BLK - 1), min(len(gains), e // _BLK + 2)
        g = np.interp(np.arange(s, e), centres[b0:b1], gains[b0:b1]).astype(np.float32)
        x = _mix(layout.sources, files, s, e, channels)
        x *= g[:, None]
        yield x


def _codec_shift(layout: _Layout, files: list[BinaryIO], gains: np.ndarray,
                 settings: MixSettings, tmpdir: Path) -> float:
    """Loudness change (LU) the lossy encoder causes, measured on an 8-s voice excerpt.

    libmp3lame at <=192 kb/s, for one, lowers the level by ~0.45 dB across the spectrum.
    """
    import numpy as np

    rate, ch = settings.sample_rate, settings.channels
    n = min(layout.voice_frames, 8 * rate)
    a = layout.voice_start + (layout.voice_frames - n) // 2
    excerpt = np.concatenate(list(_rendered(layout, files, gains, a, a + n, ch)))
    meter = _Meter(rate, ch)
    meter.feed(excerpt)
    before = meter.loudness()
    dest = tmpdir / f"excerpt.{settings.format}"
    _encode(iter([excerpt]), settings, dest)
    after, _, _ = _analyse(_decode_stream(dest, rate, ch), rate, ch)
    if not (math.isfinite(before) and math.isfinite(after)):
        return 0.0
    return after - before


def _encode(chunks: Iterator[np.ndarray], settings: MixSettings, dest: Path) -> None:
    """Feed float32 chunks to an ffmpeg encoder writing ``dest`` (runs on another core)."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(_encode_cmd(settings, dest), stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=err)
        assert proc.stdin is not None
        try:
            for x in chunks:
                proc.stdin.write(x)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        rc = proc.wait()
        if rc != 0:
            err.seek(0)
            raise MixError(f"{dest.name}: 无法写出节目（{_last_line(err.read())}），"
                           "请检查磁盘空间和 ffmpeg 是否支持该格式")


def _commit(tmp: Path, out: Path) -> None:
    """fsync the finished file, rename it over ``out`` atomically, fsync the folder."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, out)
    try:
        dfd = os.open(out.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


__all__ = ["MixResult", "MixSettings", "decode_any", "master", "measure", "probe_duration"]
