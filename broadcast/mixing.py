"""Programme mastering: speech + jingles + optional music bed → broadcast-loudness audio file.

This is the only module that imports pydub; pydub, numpy and scipy are imported inside the
functions so that ``import broadcast.mixing`` stays cheap (~16 MB RSS, no numpy).

Design (figures measured on the 2-core development machine, see ``bench/production.py``):

* **Streaming, not pydub, for the programme.** A 30-minute 44.1 kHz mono programme is 79 M
  samples: 159 MB as int16, 318 MB as float32, 635 MB as float64, and pydub copies the whole
  segment on every operation. ``master`` never holds the programme in memory: every input
  (speech pieces, intro, outro, bed) is decoded by ffmpeg into a raw float32 intermediate at
  the programme rate (lossless, >0 dBFS kept; in ``TMPDIR``), and all passes read those in
  64 k-frame chunks. What grows with length is ~3 float32 values per 32-frame block
  (~30 MB for 30 minutes). pydub is used only by :func:`decode_any` (short clips).
* **Loudness** is BS.1770-4 integrated loudness computed blockwise: K-weighting biquads with
  carried filter state, 100-ms energy segments, 400-ms gating blocks with 75 % overlap,
  absolute and relative gates — the same filters and block boundaries as pyloudnorm
  (agreement to ~1e-12 LU in the tests; pyloudnorm agrees with ffmpeg's ``ebur128``).
* **True peak** is measured 4× oversampled: three fractional-delay phases of a
  Kaiser-windowed sinc (24 taps per phase, via FFT) plus the samples themselves.
* **Analysis while decoding.** While ffmpeg decodes the voice, each 32-frame block's 4×
  true peak and K-weighted energy are recorded. Without overlapping sources (no bed, no
  intro overlap) the programme's block arrays follow from the per-source ones (gains and
  fades applied per block), so no separate analysis pass is needed; with overlaps the mix
  is rendered once for analysis.
* **Limiter** (own numpy code, on the block arrays): lookahead/attack 5 ms, hold 20 ms,
  release 60 dB/s, gain smoothed by a moving average and provably never above the gain any
  peak requires (also between block centres, where it is interpolated). The post-limiter
  loudness is *predicted* from block energies × gains², so "the limiter lowered the loudness
  → re-gain → re-limit" is iterated to convergence (secant steps) in milliseconds, capped at
  12 dB of make-up gain.
* **Codec calibration.** Lossy encoders shift loudness (libmp3lame ≤192 kb/s: −0.45 LU,
  broadband and level-independent); an 8-s excerpt is encoded in a side thread while the
  inputs decode, and the aim is corrected.
* **Render, encode and verify at once.** The limited mix is streamed into ffmpeg, whose tee
  muxer writes the file and also pipes the same packets into a second ffmpeg that decodes
  them; a thread measures that stream. So ``MixResult`` reports the loudness and true peak
  of what was actually written. If it misses the ceiling (guard 0.1 dB) or ±0.3 LU, the
  ceiling/aim is corrected and the programme re-rendered (at most 3 attempts; rare).
* **Atomic output.** The file is written under a temporary name in the target folder,
  fsynced, renamed over ``out`` and the folder fsynced: a crash or error never leaves a
  half-written programme, and an existing programme stays until the new one is complete.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from broadcast.errors import MixError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np
    from pydub import AudioSegment

log = logging.getLogger(__name__)


class _Format(NamedTuple):
    muxer: str  # ffmpeg muxer writing the file
    encoder: str
    suffixes: tuple[str, ...]  # accepted file name suffixes
    margin_db: float  # first limiter ceiling this far under the limit (codec overshoot)
    pipe_muxer: str  # streamable container for the verification branch of the tee …
    pipe_demuxer: str  # … and the demuxer that reads it back
    muxer_opts: str = ""


_FORMATS = {
    "mp3": _Format("mp3", "libmp3lame", (".mp3",), 0.4, "mp3", "mp3"),
    "wav": _Format("wav", "pcm_s16le", (".wav",), 0.15, "s16le", "s16le"),
    "ogg": _Format("ogg", "libvorbis", (".ogg", ".oga"), 0.45, "ogg", "ogg"),
    "m4a": _Format("ipod", "aac", (".m4a", ".mp4"), 0.55, "adts", "aac", ":movflags=+faststart"),
}
_CHUNK = (1 << 16) - 64  # frames per chunk: a multiple of _BLK; +FIR context = 2**16 FFT
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


def _load_numeric() -> None:
    """Import numpy/scipy in the calling thread before worker threads start.

    scipy's lazy submodule loading is not safe when two threads trigger it at once.
    """
    import numpy  # noqa: F401
    import scipy.fft  # noqa: F401
    import scipy.ndimage  # noqa: F401
    import scipy.signal  # noqa: F401


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
        [
            _tool("ffprobe"),
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=sample_rate,channels",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise _decode_error(path, _last_line(proc.stderr))
    try:
        stream = json.loads(proc.stdout)["streams"][0]
        return int(stream["sample_rate"]), int(stream["channels"])
    except (ValueError, KeyError, IndexError):
        raise _decode_error(path, "文件里没有音频流") from None


def _frames_from(stream: BinaryIO, channels: int) -> Iterator[np.ndarray]:
    """float32 (frames, channels) chunks of _CHUNK frames (the last may be shorter)."""
    import numpy as np

    frame_bytes = 4 * channels
    while True:
        data = stream.read(_CHUNK * frame_bytes)  # full chunks until EOF
        if not data:
            return
        usable = len(data) - len(data) % frame_bytes
        if usable:
            yield np.frombuffer(data, dtype=np.float32, count=usable // 4).reshape(-1, channels)


def _decode_stream(path: Path, rate: int, channels: int) -> Iterator[np.ndarray]:
    """Yield float32 (frames, channels) chunks of ``path`` decoded and resampled by ffmpeg."""
    _check_input(path)
    cmd = [
        _tool("ffmpeg"),
        "-nostdin",
        "-v",
        "error",
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-f",
        "f32le",
        "-c:a",
        "pcm_f32le",
        "-ar",
        str(rate),
        "-ac",
        str(channels),
        "pipe:1",
    ]
    frames = 0
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        try:
            for x in _frames_from(proc.stdout, channels):
                frames += len(x)
                yield x
        finally:
            proc.stdout.close()  # ffmpeg exits on SIGPIPE if we stopped early
            rc = proc.wait()
        if rc != 0:
            err.seek(0)
            raise _decode_error(path, _last_line(err.read()))
    if frames == 0:
        raise _decode_error(path, "文件里没有声音数据")


def _rechunk(chunks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """Regroup a stream (e.g. several decoded pieces) into _CHUNK-frame chunks."""
    import numpy as np

    buf: list[np.ndarray] = []
    have = 0
    for x in chunks:
        if not buf and len(x) == _CHUNK:
            yield x
            continue
        while len(x):
            take = min(_CHUNK - have, len(x))
            buf.append(x[:take])
            have, x = have + take, x[take:]
            if have == _CHUNK:
                yield np.concatenate(buf)
                buf, have = [], 0
    if buf:
        yield np.concatenate(buf)


# --------------------------------------------------------------------------- loudness


def _k_weighting_sos(rate: int) -> np.ndarray:
    """BS.1770 K-weighting as two RBJ biquads, the same design pyloudnorm uses."""
    import numpy as np

    def shelf(gain_db: float, q: float, fc: float) -> list[float]:
        a = 10 ** (gain_db / 40.0)
        w0 = 2.0 * math.pi * fc / rate
        alpha = math.sin(w0) / (2.0 * q)
        cw, sa = math.cos(w0), 2 * math.sqrt(a) * alpha
        b = [
            a * ((a + 1) + (a - 1) * cw + sa),
            -2 * a * ((a - 1) + (a + 1) * cw),
            a * ((a + 1) + (a - 1) * cw - sa),
        ]
        den = [
            (a + 1) - (a - 1) * cw + sa,
            2 * ((a - 1) - (a + 1) * cw),
            (a + 1) - (a - 1) * cw - sa,
        ]
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
        self.zi = [np.zeros((self.sos.shape[0], 2)) for _ in range(channels)]
        self.weights = [_CHANNEL_WEIGHTS[min(c, 4)] for c in range(channels)]
        self.frames = 0
        self.segments: list[float] = []
        self.acc = 0.0  # energy of the current, unfinished segment
        self.next_bound = _segment_bound(1, rate)

    def feed(self, x: np.ndarray) -> np.ndarray:
        """Add a chunk; returns its per-frame channel-weighted K-weighted power (float64)."""
        import numpy as np
        from scipy.signal import sosfilt

        w = None
        for c, weight in enumerate(self.weights):
            v = x[:, c].astype(np.float64)
            # a -400 dBFS Nyquist tone keeps the IIR state out of (very slow) denormals
            # after digital silence; it is far below the -70 LUFS gate
            v[::2] += 1e-20
            v[1::2] -= 1e-20
            y, self.zi[c] = sosfilt(self.sos, v, zi=self.zi[c])
            np.square(y, out=y)
            if weight != 1.0:
                y *= weight
            w = y if w is None else np.add(w, y, out=w)
        assert w is not None
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


class _TruePeak:
    """4x-oversampled absolute peak per _BLK-frame block of a stream, computed in threads.

    The three fractional phases come from one FFT of the chunk and a batched inverse FFT
    (faster here than direct or overlap-add convolution, and it releases the GIL), so chunks
    are processed by a worker thread while the caller does the K-weighting (a second worker
    measured slower on two cores). Each job gets its chunk with the context it needs, so
    jobs are independent; at most a few are in flight (bounded memory). Feed chunks whose length is a multiple of _BLK, then
    :meth:`finish`. Block peaks lag the input by one block internally; finish() realigns.
    """

    def __init__(self, channels: int, keep: bool, workers: int = 1):
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        import numpy as np

        self.kernels = _interpolator()[:, ::-1].copy()  # reversed: used as convolutions
        self.spectra: dict[int, np.ndarray] = {}
        self.hist = np.zeros((2 * _BLK, channels), dtype=np.float32)
        self.keep = keep
        self.workers = workers
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="truepeak")
        self.pending: deque = deque()
        self.results: list[np.ndarray] = []
        self.first = True
        self.max = 0.0

    def _phases(self, seg: np.ndarray, n: int) -> np.ndarray:
        """max |x(m + k/4)| over k = 1..3 for the n valid points of one channel."""
        import scipy.fft as sf

        size = sf.next_fast_len(len(seg), real=True)
        spec = self.spectra.get(size)
        if spec is None:
            spec = self.spectra[size] = sf.rfft(self.kernels, size, axis=1)
        y = sf.irfft(sf.rfft(seg, size)[None, :] * spec, size, axis=1)
        lag = self.kernels.shape[1] - 1
        return abs(y[:, lag : lag + n]).max(axis=0)

    def _blocks(self, buf: np.ndarray) -> np.ndarray:
        """Block peaks of buffer rows [_BLK, len - _BLK) (the rest is context)."""
        import numpy as np

        n = len(buf) - 2 * _BLK
        peak = np.abs(buf[_BLK : _BLK + n]).max(axis=1)
        for c in range(buf.shape[1]):
            seg = buf[_BLK - _TP_HALF + 1 : _BLK + n + _TP_HALF, c]
            np.maximum(peak, self._phases(seg, n), out=peak)
        return peak.reshape(-1, _BLK).max(axis=1)

    def _collect(self) -> None:
        blocks = self.pending.popleft().result()
        if self.first:  # the first job covers the virtual block before frame 0
            blocks, self.first = blocks[1:], False
        if blocks.size:
            self.max = max(self.max, float(blocks.max()))
        if self.keep:
            self.results.append(blocks)

    def feed(self, x: np.ndarray) -> None:
        import numpy as np

        buf = np.concatenate([self.hist, x])
        self.hist = buf[-2 * _BLK :]
        # buffer rows [_BLK, _BLK + len(x)) = frames [pos - _BLK, pos - _BLK + len(x))
        self.pending.append(self.pool.submit(self._blocks, buf))
        while len(self.pending) > self.workers + 1:
            self._collect()

    def finish(self) -> list[np.ndarray]:
        import numpy as np

        try:
            self.feed(np.zeros((_BLK, self.hist.shape[1]), dtype=np.float32))
            while self.pending:
                self._collect()
        finally:
            self.pool.shutdown(cancel_futures=True)
        return self.results


class _Analyser:
    """Loudness, true peak and (optionally) per-block peaks/K-energies of a chunk stream.

    K-weighting runs in the caller's thread, the 4x true-peak detector in a worker thread.
    Chunks must be multiples of _BLK frames except the last.
    """

    def __init__(self, rate: int, channels: int, blocks: bool = False):
        self.meter = _Meter(rate, channels)
        self.detector = _TruePeak(channels, keep=blocks)
        self.blocks = blocks
        self.energy: list[np.ndarray] = []
        self.peaks: np.ndarray | None = None

    def feed(self, x: np.ndarray) -> None:
        import numpy as np

        self.detector.feed(_pad_blocks(x))
        w = self.meter.feed(x)
        if self.blocks:
            self.energy.append(_pad_blocks(w).reshape(-1, _BLK).sum(axis=1, dtype=np.float32))

    def finish(self) -> None:
        import numpy as np

        peaks = self.detector.finish()
        if self.blocks:
            self.peaks = np.concatenate(peaks)

    def block_energy(self) -> np.ndarray:
        import numpy as np

        return np.concatenate(self.energy) if self.energy else np.zeros(0, dtype=np.float32)

    @property
    def lufs(self) -> float:
        return self.meter.loudness()

    @property
    def true_peak(self) -> float:
        return _db(self.detector.max)


def _pad_blocks(x: np.ndarray) -> np.ndarray:
    import numpy as np

    extra = (-len(x)) % _BLK
    if extra == 0:
        return x
    return np.concatenate([x, np.zeros((extra,) + x.shape[1:], dtype=x.dtype)])


def _db(x: float) -> float:
    return 20 * math.log10(x) if x > 0 else -math.inf


def _analyse(chunks: Iterator[np.ndarray], rate: int, channels: int) -> tuple[float, float, int]:
    """(integrated LUFS, true peak dBTP, frames) of a stream of float32 chunks."""
    an = _Analyser(rate, channels)
    try:
        for x in chunks:
            an.feed(x)
    finally:
        an.finish()
    return an.lufs, an.true_peak, an.meter.frames


# --------------------------------------------------------------------------- public helpers


def probe_duration(path: Path) -> float:
    """Duration in seconds as reported by ffprobe; MixError if it holds no audio stream."""
    import json

    path = Path(path)
    _check_input(path)
    proc = subprocess.run(
        [
            _tool("ffprobe"),
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=codec_type:format=duration",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise _decode_error(path, _last_line(proc.stderr))
    try:
        info = json.loads(proc.stdout)
        if not info.get("streams"):
            raise _decode_error(path, "文件里没有音频流")
        return float(info["format"]["duration"])
    except (ValueError, KeyError):
        raise _decode_error(path, "无法读取时长") from None


def measure(path: Path) -> tuple[float, float]:
    """(integrated loudness in LUFS, 4x-oversampled true peak in dBTP) of an audio file."""
    path = Path(path)
    rate, channels = _probe_stream(path)
    _load_numeric()
    lufs, tp, _ = _analyse(_rechunk(_decode_stream(path, rate, channels)), rate, channels)
    return lufs, tp


def decode_any(path: Path) -> AudioSegment:
    """Decode mp3/m4a/wav/ogg/… into a pydub AudioSegment (for short clips: all in RAM)."""
    import warnings

    with warnings.catch_warnings():  # pydub imports audioop (deprecated in 3.11/3.12)
        warnings.simplefilter("ignore", DeprecationWarning)
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


def _mix(
    sources: list[_Source], files: list[BinaryIO], start: int, end: int, channels: int
) -> np.ndarray:
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
        out[lo - start : hi - start] += data * env[:, None]
    return out


def _limiter_gain(peaks: np.ndarray, gain: float, ceiling: float, rate: int) -> np.ndarray:
    """Per-block gain (≤ 1, float32) keeping ``gain * peaks`` under ``ceiling`` (both linear).

    Lookahead min-filter with hold → linear-in-dB release (cumulative-minimum trick, so no
    Python loop) → moving-average attack. Every value is ≤ the gain required by its own and
    both neighbouring blocks, so linear interpolation between block centres is safe too.
    Worked through in chunks so memory stays small on long programmes. Block indices are
    "extended": ``ahead + 1`` virtual unlimited blocks precede block 0, so the attack ramp
    for a peak at the very start still fits.
    """
    import numpy as np
    from scipy.ndimage import minimum_filter1d

    ahead = max(1, math.ceil(_LOOKAHEAD_S * rate / _BLK))
    hold = max(ahead, math.ceil(_HOLD_S * rate / _BLK))
    size = hold + ahead + 3  # min window [j - hold - 1, j + ahead + 1]
    origin = hold + 1 - size // 2
    pre = ahead + 1
    n_ext = len(peaks) + pre
    step = _RELEASE_DB_S * _BLK / rate  # dB per block
    out = np.empty(len(peaks), dtype=np.float32)
    carry = 0.0  # release state (dB) of the previous block
    hist = np.ones(ahead)  # last ``ahead`` linear gains, for the moving average
    chunk = 1 << 16
    for a in range(0, n_ext, chunk):
        b = min(n_ext, a + chunk)
        lo, hi = a - hold - 1, b + ahead + 1
        need = np.ones(hi - lo)
        p_lo, p_hi = max(lo, pre), min(hi, n_ext)
        if p_hi > p_lo:
            with np.errstate(divide="ignore"):
                need[p_lo - lo : p_hi - lo] = np.minimum(
                    1.0, ceiling / (gain * peaks[p_lo - pre : p_hi - pre].astype(np.float64))
                )
        m = minimum_filter1d(need, size, origin=origin, mode="constant", cval=1.0)
        m = m[hold + 1 : hold + 1 + (b - a)]
        ramp = np.arange(b - a) * step
        rel = ramp + np.minimum(carry + step, np.minimum.accumulate(20 * np.log10(m) - ramp))
        carry = float(rel[-1])
        ext = np.concatenate([hist, 10 ** (rel / 20)])
        hist = ext[len(ext) - ahead :]
        cs = np.concatenate([[0.0], np.cumsum(ext)])
        box = (cs[ahead + 1 :] - cs[: -ahead - 1]) / (ahead + 1)  # mean over [j - ahead, j]
        o_lo = max(a, pre)
        if b > o_lo:
            out[o_lo - pre : b - pre] = np.minimum(box[o_lo - a :], 1.0)
    return out


def _segment_blocks(frames: int, rate: int) -> np.ndarray:
    import numpy as np

    bounds = []
    k = 0
    while (b := _segment_bound(k, rate)) < frames:
        bounds.append(b // _BLK)
        k += 1
    return np.array(bounds, dtype=np.int64)


def _predict(
    energy: np.ndarray, gains: np.ndarray, seg_blocks: np.ndarray, frames: int, rate: int
) -> float:
    """Loudness of the limited programme from block energies × block gains²."""
    import numpy as np

    weighted = np.square(gains)
    weighted *= energy
    seg = np.add.reduceat(weighted, seg_blocks).astype(np.float64)
    return _gated_loudness(seg, frames, rate)


def _solve(
    aim: float,
    peaks: np.ndarray,
    energy: np.ndarray,
    seg_blocks: np.ndarray,
    frames: int,
    rate: int,
    ceiling: float,
    start_db: float,
) -> tuple[float, np.ndarray]:
    """Make-up gain (dB) and block gains whose limited result is predicted at ``aim`` LUFS.

    Re-gain → re-limit → re-measure, solved with safeguarded secant steps: the predicted
    loudness rises monotonically with the make-up gain but, under heavy limiting, with a
    slope well below 1, so plain "add the error" steps would converge slowly.
    """

    def evaluate(d: float) -> tuple[float, np.ndarray]:
        g = 10 ** (d / 20)
        gains = _limiter_gain(peaks, g, ceiling, rate)
        gains *= g
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
        log.warning(
            "limiter: %.1f LUFS not reachable under the peak ceiling without more "
            "than %.0f dB of limiting; the programme will be quieter",
            aim,
            _MAX_MAKEUP_DB,
        )
    return best[1], best[2]


def _check_settings(s: MixSettings, out: Path) -> None:
    if s.format not in _FORMATS:
        raise MixError(f"不支持的节目格式 {s.format!r}：请在设置里用 mp3、wav、ogg 或 m4a")
    suffixes = _FORMATS[s.format].suffixes
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


@dataclass
class _Decoded:
    raw: Path  # float32 interleaved intermediate at the programme rate/channels
    frames: int
    lufs: float
    peaks: np.ndarray | None  # per-block 4x true peak (unit gain), if analysed
    energy: np.ndarray | None  # per-block K-weighted energy (unit gain), if analysed


def _decode_to_raw(
    paths: Sequence[Path],
    raw: Path,
    settings: MixSettings,
    blocks: bool,
    on_head: Callable[[np.ndarray], None] | None = None,
) -> _Decoded:
    """Decode and join ``paths`` into ``raw``, measuring loudness (and blocks) on the way.

    ``on_head`` receives the first ~8 s once they are decoded (codec calibration).
    """
    import numpy as np

    rate, ch = settings.sample_rate, settings.channels
    an = _Analyser(rate, ch, blocks=blocks)
    head: list[np.ndarray] = []
    head_frames = 0
    try:
        with open(raw, "wb") as fh:
            stream = itertools.chain.from_iterable(_decode_stream(p, rate, ch) for p in paths)
            for x in _rechunk(stream):
                fh.write(x)
                an.feed(x)
                if on_head is not None:
                    head.append(x)
                    head_frames += len(x)
                    if head_frames >= 8 * rate:
                        on_head(np.concatenate(head))
                        on_head, head = None, []
            if on_head is not None and head:
                on_head(np.concatenate(head))
    finally:
        an.finish()
    lufs = an.lufs
    if not math.isfinite(lufs):
        names = "、".join(str(p) for p in paths)
        raise MixError(f"{names}: 听不到声音（全是静音），请检查录音或语音合成结果")
    return _Decoded(raw, an.meter.frames, lufs, an.peaks, an.block_energy() if blocks else None)


@dataclass
class _Layout:
    sources: list[_Source]
    decoded: list[_Decoded]
    total: int  # programme frames
    voice_start: int
    voice_frames: int
    overlapping: bool  # a bed or an intro overlap: sources sound at the same time


def _align(frames: int) -> int:
    return -(-frames // _BLK) * _BLK


def _layout(
    pieces: list[Path],
    settings: MixSettings,
    tmpdir: Path,
    on_head: Callable[[np.ndarray], None] | None,
) -> _Layout:
    """Decode every input to a raw intermediate and place it on the programme timeline.

    intro (faded out) + gap + voice (+ bed under it) + gap + outro. Each source is
    pre-gained so that the voice and jingles sit at the target loudness (+ offsets), and
    starts on a _BLK-frame boundary so per-source block analyses line up with the mix.
    The jingles and bed are decoded in a side thread while the voice decodes.
    """
    from concurrent.futures import ThreadPoolExecutor

    rate, target = settings.sample_rate, settings.loudness_lufs
    declick = round(_DECLICK_S * rate)
    fade = round(settings.fade_ms * rate / 1000)
    gap = round(settings.gap_ms * rate / 1000)
    overlap = round(settings.intro_overlap_ms * rate / 1000)
    overlapping = settings.bed is not None or (settings.intro is not None and overlap > 0)
    jingle = target + settings.jingle_offset_lu
    extras = {"intro": settings.intro, "bed": settings.bed, "outro": settings.outro}
    with ThreadPoolExecutor(1, thread_name_prefix="decode") as side:  # jingles meanwhile
        jobs = {
            name: side.submit(
                _decode_to_raw, [Path(path)], tmpdir / f"{name}.f32", settings, not overlapping
            )
            for name, path in extras.items()
            if path is not None
        }
        voice = _decode_to_raw(pieces, tmpdir / "voice.f32", settings, not overlapping, on_head)
        done = {name: job.result() for name, job in jobs.items()}

    def gain(d: _Decoded, level: float) -> float:
        return 10 ** ((level - d.lufs) / 20)

    sources: list[_Source] = []
    decoded: list[_Decoded] = []
    pos = 0
    if (d := done.get("intro")) is not None:
        sources.append(
            _Source(
                d.raw,
                d.frames,
                0,
                d.frames,
                gain(d, jingle),
                declick,
                min(max(fade, declick), d.frames // 2),
            )
        )
        decoded.append(d)
        pos = _align(max(0, d.frames - overlap) if overlap > 0 else d.frames + gap)
    voice_start = pos
    sources.append(
        _Source(voice.raw, voice.frames, pos, voice.frames, gain(voice, target), declick, declick)
    )
    decoded.append(voice)
    pos += voice.frames
    if (d := done.get("bed")) is not None:
        bfade = min(max(fade, declick), voice.frames // 2)
        sources.append(
            _Source(
                d.raw,
                d.frames,
                voice_start,
                voice.frames,
                gain(d, target + settings.bed_duck_db),
                bfade,
                bfade,
            )
        )
        decoded.append(d)
    if (d := done.get("outro")) is not None:
        pos = _align(pos + gap)
        sources.append(_Source(d.raw, d.frames, pos, d.frames, gain(d, jingle), declick, declick))
        decoded.append(d)
        pos += d.frames
    return _Layout(sources, decoded, pos, voice_start, voice.frames, overlapping)


def _combine(layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """Programme block peaks/energies from the per-source analyses (no source overlaps).

    Gains and fades are applied per block: peaks × the block's largest envelope value (an
    upper bound), energies × the mean envelope squared. The per-source arrays are consumed.
    """
    import numpy as np

    nb = -(-layout.total // _BLK)
    peaks = np.zeros(nb, dtype=np.float32)
    energy = np.zeros(nb, dtype=np.float32)
    for src, d in zip(layout.sources, layout.decoded, strict=True):
        assert d.peaks is not None and d.energy is not None and src.start % _BLK == 0
        k, b0 = len(d.peaks), src.start // _BLK
        np.multiply(d.peaks, src.gain, out=peaks[b0 : b0 + k])
        np.multiply(d.energy[:k], src.gain**2, out=energy[b0 : b0 + k])
        d.peaks = d.energy = None  # keep long programmes small
        # fades are short: correct only the blocks they touch (envelope at block bounds)
        head, tail = min(k, src.fade_in // _BLK + 2), max(0, k - src.fade_out // _BLK - 3)
        for lo, hi in ((0, head), (tail, k)) if head < tail else ((0, k),):
            t = np.minimum(np.arange(lo, hi + 1) * _BLK, src.span - 1)
            env = _fade(t, src.fade_in) * _fade(src.span - 1 - t, src.fade_out)
            peaks[b0 + lo : b0 + hi] *= np.maximum(env[:-1], env[1:])
            energy[b0 + lo : b0 + hi] *= ((env[:-1] + env[1:]) / 2) ** 2
    return peaks, energy


def _analysis_pass(
    layout: _Layout, files: list[BinaryIO], rate: int, channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pass 1 (overlapping sources only): block peaks and K-energies of the nominal mix."""
    an = _Analyser(rate, channels, blocks=True)
    try:
        for s in range(0, layout.total, _CHUNK):
            an.feed(_mix(layout.sources, files, s, min(layout.total, s + _CHUNK), channels))
    finally:
        an.finish()
    assert an.peaks is not None
    return an.peaks, an.block_energy()


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
    _load_numeric()
    for p in [*pieces, settings.intro, settings.outro, settings.bed]:
        if p is not None:
            _check_input(Path(p))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)  # fail before the long work
        return _master(pieces, out, settings)
    except OSError as e:  # disk full, no permission, …: say where and what to do
        where = e.filename or out.parent
        raise MixError(
            f"{where}: 无法读写音频文件（{e.strerror or e}），请检查磁盘空间和文件夹权限"
        ) from e


def _master(pieces: list[Path], out: Path, settings: MixSettings) -> MixResult:
    from concurrent.futures import Future, ThreadPoolExecutor

    rate, ch = settings.sample_rate, settings.channels
    target, tp_limit = settings.loudness_lufs, settings.true_peak_dbtp

    with (
        tempfile.TemporaryDirectory(prefix="broadcast-mix-") as tmp,
        ThreadPoolExecutor(1, thread_name_prefix="codec") as pool,
    ):
        calibration: list[Future] = []

        def calibrate(excerpt: np.ndarray) -> None:
            if settings.format != "wav":
                calibration.append(pool.submit(_codec_shift, excerpt, settings, Path(tmp)))

        layout = _layout(pieces, settings, Path(tmp), calibrate)
        files = [open(src.raw, "rb") for src in layout.sources]
        try:
            if layout.overlapping:
                peaks, energy = _analysis_pass(layout, files, rate, ch)
            else:
                peaks, energy = _combine(layout)
            seg_blocks = _segment_blocks(layout.total, rate)
            shift = calibration[0].result() if calibration else 0.0

            def solve(aim: float, ceiling_db: float, start: float) -> tuple[float, np.ndarray]:
                return _solve(
                    aim,
                    peaks,
                    energy,
                    seg_blocks,
                    layout.total,
                    rate,
                    10 ** (ceiling_db / 20),
                    start,
                )

            ceiling_db = tp_limit - _FORMATS[settings.format].margin_db
            aim = target - shift  # what we ask the predictor for
            delta_db, gains = solve(aim, ceiling_db, 0.0)
            fd, name = tempfile.mkstemp(
                dir=out.parent, prefix=".broadcast-", suffix=f".part{out.suffix}"
            )
            os.close(fd)
            tmp_out = Path(name)
            try:
                for attempt in range(1, _ATTEMPTS + 1):
                    if attempt > 1:
                        delta_db, gains = solve(aim, ceiling_db, delta_db)
                    lufs, tp = _encode(
                        _rendered(layout, files, gains, ch), settings, tmp_out, str(out)
                    )
                    log.info(
                        "%s attempt %d: %.2f LUFS, %.2f dBTP (make-up %.2f dB, "
                        "ceiling %.2f dBTP, codec %+.2f LU)",
                        out.name,
                        attempt,
                        lufs,
                        tp,
                        delta_db,
                        ceiling_db,
                        shift,
                    )
                    tp_ok = tp <= tp_limit - _TP_GUARD_DB
                    lufs_ok = abs(lufs - target) <= _LUFS_TOL
                    if tp_ok and lufs_ok:
                        break
                    if not tp_ok:
                        ceiling_db -= tp - (tp_limit - _TP_GUARD_DB) + 0.1
                    if not lufs_ok:
                        aim += target - lufs
                else:
                    log.warning(
                        "%s: after %d attempts %.2f LUFS / %.2f dBTP (target %.1f / %.1f)",
                        out,
                        _ATTEMPTS,
                        lufs,
                        tp,
                        target,
                        tp_limit,
                    )
                _commit(tmp_out, out)
            finally:
                tmp_out.unlink(missing_ok=True)
        finally:
            for fh in files:
                fh.close()
    return MixResult(
        path=out,
        duration_s=layout.total / rate,
        lufs=lufs,
        true_peak_dbtp=tp,
        intro_s=layout.voice_start / rate,
    )


def _rendered(
    layout: _Layout, files: list[BinaryIO], gains: np.ndarray, channels: int
) -> Iterator[np.ndarray]:
    """Pass 2: the mix times the limiter gain curve (interpolated between block centres)."""
    import numpy as np

    for s in range(0, layout.total, _CHUNK):
        e = min(layout.total, s + _CHUNK)
        b0, b1 = max(0, s // _BLK - 1), min(len(gains), e // _BLK + 2)
        centres = np.arange(b0, b1) * _BLK + (_BLK - 1) / 2
        g = np.interp(np.arange(s, e), centres, gains[b0:b1]).astype(np.float32)
        x = _mix(layout.sources, files, s, e, channels)
        x *= g[:, None]
        yield x


def _codec_shift(excerpt: np.ndarray, settings: MixSettings, tmpdir: Path) -> float:
    """Loudness change (LU) the lossy encoder causes, measured on a ~8-s voice excerpt.

    libmp3lame at <=192 kb/s, for one, lowers the level by ~0.45 dB across the whole
    spectrum, independent of level. Runs in a thread while the inputs are decoded.
    """
    import numpy as np

    peak = float(np.max(np.abs(excerpt)))
    if peak == 0.0:
        return 0.0
    excerpt = excerpt * (0.5 / peak)  # well clear of clipping inside the encoder
    meter = _Meter(settings.sample_rate, settings.channels)
    meter.feed(excerpt)
    before = meter.loudness()
    dest = tmpdir / f"excerpt.{settings.format}"
    after, _ = _encode(iter([excerpt]), settings, dest, f"编码器测试（{settings.format}）")
    if not (math.isfinite(before) and math.isfinite(after)):
        return 0.0
    return after - before


def _encode(
    chunks: Iterator[np.ndarray], settings: MixSettings, dest: Path, label: str
) -> tuple[float, float]:
    """Encode float32 chunks into ``dest``; returns (LUFS, dBTP) of the encoded audio.

    One ffmpeg encodes and, through its tee muxer, writes the same packets both to ``dest``
    and to a pipe into a second ffmpeg that decodes them again; a thread measures that
    decoded stream. Encoding, decoding and measuring thus overlap with the rendering, and
    what is measured is exactly what was written (only the container differs). ``label``
    names the programme in error messages.
    """
    from concurrent.futures import ThreadPoolExecutor

    fmt = _FORMATS[settings.format]
    rate, ch = str(settings.sample_rate), str(settings.channels)
    ffmpeg = _tool("ffmpeg")
    enc_cmd = [
        ffmpeg,
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-f",
        "f32le",
        "-ar",
        rate,
        "-ac",
        ch,
        "-i",
        "pipe:0",
        "-map",
        "0:a",
        "-c:a",
        fmt.encoder,
    ]
    if settings.format != "wav":
        enc_cmd += ["-b:a", settings.bitrate]
    # ``dest`` is given relative to its folder (the encoder's cwd), so the tee syntax only
    # has to carry a name we chose ourselves (no separators or special characters)
    tee = f"[f={fmt.muxer}{fmt.muxer_opts}]{dest.name}|[f={fmt.pipe_muxer}]pipe:1"
    enc_cmd += ["-f", "tee", tee]
    raw = ["-ar", rate, "-ac", ch] if fmt.pipe_demuxer == "s16le" else []
    dec_cmd = [
        ffmpeg,
        "-nostdin",
        "-v",
        "error",
        "-f",
        fmt.pipe_demuxer,
        *raw,
        "-i",
        "pipe:0",
        "-f",
        "f32le",
        "-c:a",
        "pcm_f32le",
        "-ar",
        rate,
        "-ac",
        ch,
        "pipe:1",
    ]
    with (
        tempfile.TemporaryFile() as enc_err,
        tempfile.TemporaryFile() as dec_err,
        ThreadPoolExecutor(1, thread_name_prefix="verify") as pool,
    ):
        enc = subprocess.Popen(
            enc_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=enc_err, cwd=dest.parent
        )
        assert enc.stdin is not None and enc.stdout is not None
        dec = subprocess.Popen(dec_cmd, stdin=enc.stdout, stdout=subprocess.PIPE, stderr=dec_err)
        assert dec.stdout is not None
        enc.stdout.close()  # the decoder owns it now

        def verify() -> tuple[float, float, int]:
            assert dec.stdout is not None
            try:
                return _analyse(
                    _frames_from(dec.stdout, settings.channels),
                    settings.sample_rate,
                    settings.channels,
                )
            finally:  # if measuring fails, let the pipeline die instead of blocking
                dec.stdout.close()

        measured = pool.submit(verify)
        try:
            try:
                for x in chunks:
                    enc.stdin.write(x)
                enc.stdin.close()
            except BrokenPipeError:  # the encoder stopped; its exit code tells why
                pass
        except BaseException:
            enc.kill()
            dec.kill()
            with contextlib.suppress(OSError):
                enc.stdin.close()
            raise
        finally:
            enc_rc = enc.wait()
            dec_rc = dec.wait()
            result = measured.exception() or measured.result()
        if enc_rc != 0:
            enc_err.seek(0)
            raise MixError(
                f"{label}: 无法写出节目（{_last_line(enc_err.read())}），"
                "请检查磁盘空间和 ffmpeg 是否支持该格式"
            )
        if dec_rc != 0 or isinstance(result, BaseException):
            dec_err.seek(0)
            detail = _last_line(dec_err.read()) if dec_rc else str(result)
            raise MixError(f"{label}: 无法检查写出的节目（{detail}），请重试")
    lufs, tp, _ = result
    return lufs, tp


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
