"""True-peak limiter on per-block peaks, and the make-up gain solver around it.

Lookahead/attack 5 ms, hold 20 ms, release 60 dB/s; the gain is smoothed by a moving average
and never above what any peak requires (also between block centres, where it is
interpolated). The loudness after limiting is predicted from block energies x gains², so
"the limiter lowered the loudness -> re-gain -> re-limit" converges in milliseconds. The
gain curve is produced in chunks and never held whole: the solver sums it into 100-ms
segments, the renderer interpolates it to the frames it is writing. ``Plan`` holds what the
limiter plans on (per block: energy, peak, bound; 12 bytes per 32 frames) and reads the
composed programme's int16 file; ``rendered`` streams the limited programme.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING

from . import compose, ffmpeg
from .loudness import (
    BLK,
    Meter,
    gated_loudness,
    pad_blocks,
    peak_bounds,
    sample_peaks,
    segment_bound,
    true_peaks,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

    from . import MixSettings

log = logging.getLogger(__name__)

_LOOKAHEAD_S = 0.005
_HOLD_S = 0.020
_RELEASE_DB_S = 60.0
MAX_MAKEUP_DB = 12.0  # most make-up gain pushed into the limiter
_EDGE_S = 1  # near the voice's edges the programme is measured again
_LSB = 10 ** (compose.HEADROOM_DB / 20) / 32768  # one int16 step at the nominal level


def gain_chunks(peaks: np.ndarray, gain: float, ceiling: float, rate: int) -> Iterator[np.ndarray]:
    """Consecutive chunks of the per-block gain (float32, make-up ``gain`` included) that
    keeps ``gain * peaks`` under ``ceiling`` (linear): no gain curve is held whole.

    Lookahead min-filter with hold -> linear-in-dB release (cumulative-minimum trick) ->
    moving-average attack. ``ahead + 1`` virtual unlimited blocks precede block 0, so the
    attack ramp for a peak at the start still fits.
    """
    import numpy as np
    from scipy.ndimage import minimum_filter1d

    ahead = max(1, math.ceil(_LOOKAHEAD_S * rate / BLK))
    hold = max(ahead, math.ceil(_HOLD_S * rate / BLK))
    size = hold + ahead + 3  # min window [j - hold - 1, j + ahead + 1]
    origin = hold + 1 - size // 2
    pre = ahead + 1
    n_ext = len(peaks) + pre
    step = _RELEASE_DB_S * BLK / rate  # dB per block
    carry = 0.0  # release state (dB) of the previous block
    hist = np.ones(ahead)  # last ``ahead`` linear gains, for the moving average
    chunk = 1 << 16
    limit = np.float32(ceiling / gain)
    for a in range(0, n_ext, chunk):
        b = min(n_ext, a + chunk)
        lo, hi = a - hold - 1, b + ahead + 1
        need = np.ones(hi - lo, np.float32)  # float32 until the release ramp: half the work
        p_lo, p_hi = max(lo, pre), min(hi, n_ext)
        if p_hi > p_lo:
            with np.errstate(divide="ignore"):
                np.minimum(
                    1.0, limit / peaks[p_lo - pre : p_hi - pre], out=need[p_lo - lo : p_hi - lo]
                )
        m = minimum_filter1d(need, size, origin=origin, mode="constant", cval=1.0)
        m = m[hold + 1 : hold + 1 + (b - a)]
        ramp = np.arange(b - a) * step
        rel = ramp + np.minimum(carry + step, np.minimum.accumulate(20 * np.log10(m) - ramp))
        carry = float(rel[-1])
        ext = np.concatenate([hist, np.exp(rel * (math.log(10) / 20))])
        hist = ext[len(ext) - ahead :]
        cs = np.concatenate([[0.0], np.cumsum(ext)])
        box = (cs[ahead + 1 :] - cs[: -ahead - 1]) / (ahead + 1)  # mean over [j - ahead, j]
        if b > (o_lo := max(a, pre)):
            yield (np.minimum(box[o_lo - a :], 1.0) * gain).astype(np.float32)


def secant(evaluate: Callable[[float], float], aim: float, d: float) -> float:
    """Make-up gain (dB) whose predicted loudness ``evaluate(d)`` is within 0.02 LU of ``aim``.

    Safeguarded secant steps: the predicted loudness rises monotonically with the make-up
    gain but, under heavy limiting, with a slope well below 1.
    """
    pts = [(d, evaluate(d))]  # (gain, loudness), the last one the latest
    for _ in range(25):
        d, lufs = pts[-1]
        if abs(aim - lufs) < 0.02 or not math.isfinite(lufs):
            break
        below, above = [p for p in pts if p[1] < aim], [p for p in pts if p[1] > aim]
        if below and above:  # bracketed: interpolate between the nearest, keep inside
            (d0, l0), (d1, l1) = max(below, key=lambda p: p[1]), min(above, key=lambda p: p[1])
            d = d0 + min(max((aim - l0) / (l1 - l0), 0.1), 0.9) * (d1 - d0)
        else:  # no bracket yet: step along the local slope (1 at first)
            slope = 1.0
            if len(pts) > 1 and pts[-2][0] != d:
                slope = min(max((pts[-2][1] - lufs) / (pts[-2][0] - d), 0.05), 1.0)
            d = min(d + (aim - lufs) / slope, MAX_MAKEUP_DB)
            if d == pts[-1][0]:  # already at the cap and still too quiet
                break
        pts.append((d, evaluate(d)))
    best = min((abs(aim - lufs), d) for d, lufs in pts)
    if best[0] > 0.1:
        log.warning(
            "limiter: %.1f LUFS not reachable under the peak ceiling without more than %.0f dB"
            " of limiting; the programme will be quieter",
            aim,
            MAX_MAKEUP_DB,
        )
    return best[1]


class Plan:
    """What the limiter plans on, per 32-frame block: the K-weighted energy, and the true
    peak of every block that the gain could push past the ceiling. A block whose bound
    (from sample peaks) stays under ``level`` keeps its sample peak: no gain in use makes
    the limiter act there, so interpolating it would change nothing.

    Nothing mixed under the voice (no bed, no intro overlap): the voice's own block figures,
    measured while decoding, stand for the programme's except near its edges, so only the
    jingles and the first and last second of the voice are read again.
    """

    def __init__(
        self, fh: IO[bytes], total: int, s: MixSettings, start: int, voice: compose.Decoded | None
    ):
        import numpy as np

        self.fh, self.total, self.rate, self.ch = fh, total, s.sample_rate, s.channels
        self.energy = np.zeros(-(-self.total // BLK), np.float32)
        self.peaks = np.zeros_like(self.energy)  # sample peaks, true peaks once refined
        edges = [(0, self.total)]
        if voice is not None:
            g = 10 ** ((s.loudness_lufs - voice.lufs) / 20)
            i, j = start // BLK, -(-voice.frames // BLK)
            np.concatenate(voice.energy, out=self.energy[i : i + j])
            np.concatenate(voice.peaks, out=self.peaks[i : i + j])
            self.energy[i : i + j] *= g**2
            self.peaks[i : i + j] *= g
            self.peaks[i : i + j] += _LSB  # int16 rounding
            edge = _EDGE_S * self.rate // BLK * BLK
            end = max(start + edge, (start + voice.frames - edge) // BLK * BLK)
            edges = [(0, start + edge), (end, self.total)]
        for a, b in edges:
            self._measure(a, b)
        self.bounds = peak_bounds(self.peaks)
        seg = itertools.takewhile(
            lambda b: b < self.total, (segment_bound(k, self.rate) for k in itertools.count())
        )
        self.segments = np.fromiter(seg, np.intp) // BLK  # first block of each 100-ms segment
        self.level = math.inf  # every block whose bound exceeds it holds its true peak

    def _measure(self, a: int, b: int) -> None:
        """Block energies and sample peaks of frames [a, b) (a on the block grid)."""
        meter = Meter(self.rate, self.ch)
        for c in range(max(0, a - _EDGE_S * self.rate // BLK * BLK), b, ffmpeg.CHUNK):
            x = compose.frames(self.fh, c, min(b, c + ffmpeg.CHUNK), self.ch)
            w = meter.feed(x)  # from a second earlier: the filters settle
            if c + len(x) > a:
                x, w, i = x[max(0, a - c) :], w[max(0, a - c) :], max(a, c) // BLK
                self.peaks[i : i + -(-len(x) // BLK)] = sample_peaks(pad_blocks(x))
                self.energy[i : i + -(-len(x) // BLK)] = pad_blocks(w).reshape(-1, BLK).sum(1)

    def refine(self, level: float) -> None:
        import numpy as np

        for a in range(0, self.total, ffmpeg.CHUNK):
            i, j = a // BLK, min(len(self.peaks), (a + ffmpeg.CHUNK) // BLK)
            b = self.bounds[i:j]
            todo = np.flatnonzero((b > level) & (b <= self.level))
            if todo.size:
                x = compose.frames(self.fh, a - BLK, (j + 1) * BLK, self.ch)
                self.peaks[i + todo] = true_peaks(x, todo + 1)
        self.level = level

    def loudness(self, gains: Iterable[np.ndarray] | None = None) -> float:
        """Predicted loudness of the programme times consecutive chunks of per-block
        ``gains`` (None: as it is), from block energies summed into 100-ms segments."""
        import numpy as np

        if gains is None:  # in chunks: a float64 copy of the energies is 40 MB an hour
            n = len(self.energy)
            gains = (np.ones(min(1 << 16, n - a), np.float32) for a in range(0, n, 1 << 16))
        seg, a = np.zeros(len(self.segments)), 0
        for g in gains:
            b = a + len(g)
            i, j = np.searchsorted(self.segments, [a, b])  # segments starting in [a, b)
            cuts = self.segments[i:j] - a
            if i == j or cuts[0] != 0:  # the chunk starts inside segment i - 1
                cuts, i = np.concatenate([[0], cuts]), i - 1
            w = np.square(g, dtype=np.float64) * self.energy[a:b]
            seg[i : i + len(cuts)] += np.add.reduceat(w, cuts)
            a = b
        return gated_loudness(seg, self.total, self.rate)

    def solve(self, aim: float, ceiling_db: float, start_db: float | None = None) -> float:
        """Make-up gain (dB) predicted to land at ``aim``, with the true peaks it needs.

        Without limiting the loudness rises dB for dB with the gain, and limiting only
        lowers it: ``aim`` minus today's loudness is where the first search starts.
        """
        ceiling = 10 ** (ceiling_db / 20)
        d = min(aim - self.loudness(), MAX_MAKEUP_DB) if start_db is None else start_db

        def evaluate(d: float) -> float:
            return self.loudness(gain_chunks(self.peaks, 10 ** (d / 20), ceiling, self.rate))

        for _ in range(8):
            d = secant(evaluate, aim, d)
            if 10 ** ((ceiling_db - d) / 20) >= self.level:
                break
            self.refine(10 ** ((ceiling_db - d - 1.0) / 20))  # with 1 dB to spare
        return d


def rendered(plan: Plan, gain_db: float, ceiling_db: float) -> Iterator[np.ndarray]:
    """The programme times the limiter's gain, linear between block centres."""
    import numpy as np

    g_lin, c_lin = 10 ** (gain_db / 20), 10 ** (ceiling_db / 20)
    chunks = gain_chunks(plan.peaks, g_lin, c_lin, plan.rate)
    offset = (np.arange(BLK, dtype=np.float32) + 0.5) / BLK - 0.5  # from the centre, in blocks
    have, first, n = np.zeros(0, np.float32), 0, len(plan.peaks)  # gains of [first, first+len)
    for s in range(0, plan.total, ffmpeg.CHUNK):
        e = min(plan.total, s + ffmpeg.CHUNK)
        b0, b1 = s // BLK, -(-e // BLK)  # this chunk's blocks, and one more on each side:
        lo, hi = max(0, b0 - 1), min(n, b1 + 1)
        while first + len(have) < hi:
            have, first = np.concatenate([have[lo - first :], next(chunks)]), lo
        g = np.pad(have[lo - first : hi - first], (lo - b0 + 1, b1 + 1 - hi), mode="edge")
        mid, side = g[1:-1, None], np.where(offset < 0, g[:-2, None], g[2:, None])
        x = compose.frames(plan.fh, s, e, plan.ch)
        x *= (mid + abs(offset) * (side - mid)).reshape(-1, 1)[: e - s]
        yield x
