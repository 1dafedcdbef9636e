"""Loudness and true-peak measurement: BS.1770-4 integrated loudness and an 8x true-peak meter.

Blockwise and streaming: K-weighting biquads with carried state, 100-ms energy segments,
400-ms gating blocks with 75 % overlap, absolute and relative gates, the same filters and
block bounds as pyloudnorm. True peak is read 8x oversampled (seven fractional-delay phases
of a Kaiser-windowed sinc): a 4x grid under-reads a 17.6-kHz tone by up to 0.44 dB, an 8x
grid by at most 0.11 dB. Each interpolated value is a weighted sum of 32 neighbours, so it
is at most BOUND (the largest sum of |weights|) times their largest sample: a 32-frame block
whose neighbourhood's sample peak times BOUND cannot reach a level is never interpolated.
numpy/scipy are imported inside functions.
"""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

BLK = 32  # frames per limiter/analysis block
OVERSAMPLE = 8
_HALF = 16  # interpolator half length (taps per phase = 2 * _HALF)
_CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # BS.1770 G_i (L, R, C, Ls, Rs)


def load_numeric() -> None:
    """Import numpy/scipy before worker threads start (scipy's lazy loading is not thread-safe)."""
    import numpy  # noqa: F401
    import scipy.ndimage  # noqa: F401
    import scipy.signal  # noqa: F401


def db(x: float) -> float:
    return 20 * math.log10(x) if x > 0 else -math.inf


def _k_weighting_sos(rate: int) -> np.ndarray:
    """BS.1770 K-weighting as two RBJ biquads, the same design pyloudnorm uses."""
    import numpy as np

    w0s, w0h = 2 * math.pi * 1500.0 / rate, 2 * math.pi * 38.0 / rate
    a = 10 ** (4.0 / 40)
    alpha = math.sin(w0s) / (2 / math.sqrt(2))
    cw, sa = math.cos(w0s), 2 * math.sqrt(a) * alpha
    shelf = [
        a * ((a + 1) + (a - 1) * cw + sa),
        -2 * a * ((a - 1) + (a + 1) * cw),
        a * ((a + 1) + (a - 1) * cw - sa),
        (a + 1) - (a - 1) * cw + sa,
        2 * ((a - 1) - (a + 1) * cw),
        (a + 1) - (a - 1) * cw - sa,
    ]
    alpha, cw = math.sin(w0h) / (2 * 0.5), math.cos(w0h)
    high = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2, 1 + alpha, -2 * cw, 1 - alpha]
    return np.array([[v / f[3] for v in f] for f in (shelf, high)])


def segment_bound(k: int, rate: int) -> int:
    """First frame of the k-th 100-ms segment, computed exactly as pyloudnorm's block bounds."""
    return int(0.4 * (k * 0.25) * rate)


def gated_loudness(segments: np.ndarray, frames: int, rate: int) -> float:
    """BS.1770-4 gated loudness from K-weighted energies of consecutive 100-ms segments.

    -inf when there is no 400-ms gating block (as ffmpeg's ebur128): a shorter sound has no
    integrated loudness, and a plain mean over it would not be what any meter reads.
    """
    import numpy as np

    duration = frames / rate
    if duration < 0.4:
        return -math.inf
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
    mean = float(np.mean(gated)) if gated.size else 0.0
    return -0.691 + 10 * math.log10(mean) if mean > 0 else -math.inf


class Meter:
    """Streaming integrated-loudness meter (feed float32 (frames, channels) chunks)."""

    def __init__(self, rate: int, channels: int):
        import numpy as np

        self.rate = rate
        self.sos = _k_weighting_sos(rate)
        self.zi = [np.zeros((2, 2)) for _ in range(channels)]
        self.weights = [_CHANNEL_WEIGHTS[min(c, 4)] for c in range(channels)]
        self.frames = 0
        self.segments: list[float] = []
        self.acc = 0.0  # energy of the current, unfinished segment
        self.next_bound = segment_bound(1, rate)
        self.guard = np.zeros(0)

    def feed(self, x: np.ndarray) -> np.ndarray:
        """Add a chunk; returns its per-frame channel-weighted K-weighted power (float64)."""
        import numpy as np
        from scipy.signal import sosfilt

        if len(self.guard) < len(x):  # a -400 dBFS Nyquist tone keeps the filters out of denormals
            self.guard = np.resize(np.array([1e-20, -1e-20]), len(x) + 1)
        w = np.zeros(0)
        for c, weight in enumerate(self.weights):
            v = np.add(x[:, c], self.guard[: len(x)], dtype=np.float64)
            y, self.zi[c] = sosfilt(self.sos, v, zi=self.zi[c])
            y = np.square(y, out=y) if weight == 1.0 else weight * np.square(y, out=y)
            w = w + y if len(w) else y
        start, end = self.frames, self.frames + len(w)
        cuts = []
        while self.next_bound <= end:
            cuts.append(self.next_bound - start)
            self.next_bound = segment_bound(len(self.segments) + len(cuts) + 1, self.rate)
        *closed, rest = (float(part.sum()) for part in np.split(w, cuts))
        for energy in closed:
            self.segments.append(self.acc + energy)
            self.acc = 0.0
        self.acc += rest
        self.frames = end
        return w

    def loudness(self) -> float:
        import numpy as np

        return gated_loudness(np.array(self.segments + [self.acc]), self.frames, self.rate)


@cache
def kernel() -> np.ndarray:
    """(2*BLK, 7*BLK) float32: ``window @ kernel`` holds x(j + k/8), k = 1..7, for each frame
    j of a block, where ``window`` is the 2*BLK frames from _HALF - 1 before the block."""
    import numpy as np

    taps = np.arange(-_HALF + 1, _HALF + 1)
    out = np.zeros((2 * BLK, BLK, OVERSAMPLE - 1), dtype=np.float32)
    for k in range(1, OVERSAMPLE):
        t = taps - k / OVERSAMPLE
        h = np.sinc(t) * np.i0(9.0 * np.sqrt(1.0 - (t / _HALF) ** 2)) / np.i0(9.0)
        for j in range(BLK):
            out[j : j + 2 * _HALF, j, k - 1] = h / h.sum()
    return out.reshape(2 * BLK, -1)


@cache
def bound() -> float:
    """Largest ratio of an interpolated value to the largest sample it is made of (~2.35)."""
    return float(abs(kernel()).sum(axis=0).max())


def sample_peaks(x: np.ndarray) -> np.ndarray:
    """Largest |sample| of each BLK-frame block of ``x`` (its length a multiple of BLK)."""
    return abs(x.reshape(-1, BLK * x.shape[1])).max(axis=1)


def peak_bounds(peaks: np.ndarray) -> np.ndarray:
    """Upper bound of each block's true peak from the sample peaks of it and its neighbours."""
    import numpy as np

    near = peaks.copy()
    np.maximum(near[1:], peaks[:-1], out=near[1:])
    np.maximum(near[:-1], peaks[1:], out=near[:-1])
    near *= bound()
    return near


def true_peaks(buf: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """8x true peak (sample values included) of blocks ``blocks`` of ``buf``, each of which
    must have a whole block of ``buf`` before and after it (1 <= block <= len/BLK - 2).

    One matrix product per 64 blocks: small products stay on one BLAS thread (a
    multi-threaded product spins the second core that the encoder needs).
    """
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    out = abs(buf[: len(buf) // BLK * BLK].reshape(-1, BLK * buf.shape[1])[blocks]).max(axis=1)
    for c in range(buf.shape[1]):
        x = np.ascontiguousarray(buf[BLK - _HALF + 1 :, c])
        rows = sliding_window_view(x, 2 * BLK)[::BLK]  # row i: the window of block i + 1
        for i in range(0, len(blocks), 64):
            part = rows[blocks[i : i + 64] - 1] @ kernel()
            np.maximum(out[i : i + 64], abs(part).max(axis=1), out=out[i : i + 64])
    return out


class PeakMeter:
    """Streaming 8x true peak (the maximum) of float32 chunks of any length: only blocks
    whose bound can beat the maximum so far are interpolated."""

    def __init__(self, channels: int):
        import numpy as np

        self.tail = np.zeros((BLK, channels), dtype=np.float32)  # context, unfinished frames
        self.max = 0.0

    def feed(self, x: np.ndarray) -> None:
        import numpy as np

        buf = np.concatenate([self.tail, x])
        n = len(buf) // BLK * BLK
        self.tail = buf[max(0, n - 2 * BLK) :]  # the last whole block is measured next time
        if n < 3 * BLK:
            return
        peaks = sample_peaks(buf[:n])
        self.max = max(self.max, float(peaks[1:-1].max()))
        blocks = np.flatnonzero(peak_bounds(peaks)[1:-1] > self.max) + 1
        if blocks.size:
            self.max = max(self.max, float(true_peaks(buf[:n], blocks).max()))

    def finish(self) -> float:
        import numpy as np

        pad = BLK + (-len(self.tail)) % BLK  # silence after the end
        self.feed(np.zeros((pad, self.tail.shape[1]), dtype=np.float32))
        return db(self.max)


def pad_blocks(x: np.ndarray) -> np.ndarray:
    import numpy as np

    extra = (-len(x)) % BLK
    if extra == 0:
        return x
    return np.concatenate([x, np.zeros((extra,) + x.shape[1:], dtype=x.dtype)])


def analyse(chunks, rate: int, channels: int) -> tuple[float, float, int]:
    """(integrated LUFS, true peak dBTP, frames) of an iterable of float32 chunks."""
    meter, peak = Meter(rate, channels), PeakMeter(channels)
    for x in chunks:
        peak.feed(x)
        meter.feed(x)
    return meter.loudness(), peak.finish(), meter.frames
