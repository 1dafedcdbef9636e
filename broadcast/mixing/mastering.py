"""master(): compose with pydub, measure, limit, encode, read back, re-solve if needed.

Loudness within ±0.3 LU of the target and true peak 0.1 dB under the ceiling, both read on
the encoded stream as written; otherwise the aim/ceiling is corrected and the programme
rendered again (at most 3 attempts; rare). Lossy encoders shift loudness (libmp3lame
<=192 kb/s: -0.45 LU), so the voice's first 8 s are encoded as soon as they are decoded (while
the rest is decoded and composed), and the aim corrected. The file is written under a temporary name, fsynced and renamed
over ``out``: an error never leaves a half-written programme.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from broadcast import files
from broadcast.errors import MixError

from . import compose, ffmpeg
from .limiter import Plan, rendered
from .loudness import Meter, analyse, load_numeric

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np


log = logging.getLogger(__name__)

_TP_GUARD_DB = 0.1  # our reading must stay this far under the ceiling
_LUFS_TOL = 0.3  # re-render when the measured loudness is further than this from target
_ATTEMPTS = 3


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


def measure(path: Path) -> tuple[float, float]:
    """(integrated loudness in LUFS, 8x-oversampled true peak in dBTP) of an audio file."""
    path = Path(path)
    info = ffmpeg.probe(path)
    load_numeric()
    rate, ch = info["rate"], info["channels"]
    lufs, tp, _ = analyse(ffmpeg.decode(path, rate, ch), rate, ch)
    return lufs, tp


def _check_settings(s: MixSettings, out: Path) -> None:
    if s.format not in ffmpeg.FORMATS:
        raise MixError(f"不支持的节目格式 {s.format!r}：请在设置里用 mp3、wav、ogg 或 m4a")
    suffixes = ffmpeg.FORMATS[s.format].suffixes
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


def master(
    voice: Path | Sequence[Path], out: Path, settings: MixSettings, tags: Mapping[str, str] = {}
) -> MixResult:
    """Master speech (one file or pieces to join) into a broadcast-ready programme at ``out``.

    ``tags``: ffmpeg metadata keys (title, artist, album, date, …) written into the file
    (ID3v2.3 for mp3), so the file is written once and its checksum is of the tagged file.

    ``voice`` may be TTS output or a pre-recorded lecture (mp3, m4a, wav, ogg, …). Raises
    :class:`MixError` (naming the file) for missing/corrupt/silent/too-short inputs or a
    failed encode; ``out`` is then left untouched.
    """
    out = Path(out)
    pieces = [Path(voice)] if isinstance(voice, str | os.PathLike) else [Path(p) for p in voice]
    if not pieces:
        raise MixError("没有语音文件：请先合成或录制节目语音")
    _check_settings(settings, out)
    ffmpeg.tool("ffmpeg")
    load_numeric()
    for p in [*pieces, settings.intro, settings.outro, settings.bed]:
        if p is not None:
            ffmpeg.check_input(Path(p))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)  # fail before the long work
        return _master(pieces, out, settings, dict(tags))
    except OSError as e:  # disk full, no permission, …: say where and what to do
        where = e.filename or out.parent
        raise MixError(
            f"{where}: 无法读写音频文件（{e.strerror or e}），请检查磁盘空间和文件夹权限"
        ) from e


def _decode(
    pieces: list[Path], s: MixSettings, tmp: Path, head: Callable[[np.ndarray], object] | None
) -> tuple[compose.Decoded, dict]:
    """Decode every input (the jingles and bed in a side thread): (voice, {name: jingle});
    ``head`` gets the voice's first seconds as soon as they are decoded."""
    from concurrent.futures import ThreadPoolExecutor

    rate, ch = s.sample_rate, s.channels
    extras = {"intro": s.intro, "bed": s.bed, "outro": s.outro}
    with ThreadPoolExecutor(1, thread_name_prefix="decode") as side:
        jobs = {
            name: side.submit(compose.decode, [Path(p)], tmp / f"{name}.f32", rate, ch)
            for name, p in extras.items()
            if p is not None
        }
        voice = compose.decode(pieces, tmp / "voice.f32", rate, ch, head)
        return voice, {name: job.result() for name, job in jobs.items()}


def _compose(
    voice: compose.Decoded, extras: dict, s: MixSettings, tmp: Path
) -> tuple[Path, int, int]:
    """Compose the programme into an int16 file: (that file, its frames, voice start)."""
    programme = tmp / "programme.s16"
    with open(programme, "wb") as fh:
        voice_start = compose.compose(voice, extras, s, fh)
    for d in (voice, *extras.values()):
        d.raw.unlink()
    return programme, programme.stat().st_size // (2 * s.channels), voice_start


def _codec_shift(excerpt: np.ndarray, s: MixSettings, tmpdir: Path) -> float:
    """Loudness change (LU) the lossy encoder causes, measured on a voice excerpt."""
    import numpy as np

    peak = float(np.max(np.abs(excerpt))) if excerpt.size else 0.0
    if peak == 0.0:
        return 0.0
    excerpt = excerpt * (0.5 / peak)  # well clear of clipping inside the encoder
    meter = Meter(s.sample_rate, s.channels)
    meter.feed(excerpt)
    before = meter.loudness()
    dest = tmpdir / f"excerpt.{s.format}"
    label = f"编码器测试（{s.format}）"
    after, _ = ffmpeg.encode(
        [excerpt], len(excerpt), s.format, s.sample_rate, s.channels, s.bitrate, dest, label
    )
    return after - before if math.isfinite(before) and math.isfinite(after) else 0.0


def _master(pieces: list[Path], out: Path, s: MixSettings, tags: dict[str, str]) -> MixResult:
    from concurrent.futures import ThreadPoolExecutor

    rate, target, tp_limit = s.sample_rate, s.loudness_lufs, s.true_peak_dbtp
    with (
        tempfile.TemporaryDirectory(prefix="broadcast-mix-") as tmp,
        ThreadPoolExecutor(1, thread_name_prefix="codec") as pool,
    ):
        shifts = []  # the encoder's loudness shift, measured while the rest is decoded

        def head(x: np.ndarray) -> None:
            shifts.append(pool.submit(_codec_shift, x, s, Path(tmp)))

        voice, extras = _decode(pieces, s, Path(tmp), None if s.format == "wav" else head)
        path, total, voice_start = _compose(voice, extras, s, Path(tmp))
        with open(path, "rb") as fh:
            alone = not (s.bed or s.intro_overlap_ms)  # nothing mixed under the voice
            plan = Plan(fh, total, s, voice_start, voice if alone else None)
            del voice
            ceiling_db = tp_limit - ffmpeg.FORMATS[s.format].margin_db
            aim = target - (shifts[0].result() if shifts else 0.0)  # asked of the predictor
            delta_db: float | None = None
            tmp_out = files.temp_beside(out)  # mode from the umask (0644 as a rule), not 0600

            def solved() -> Iterator[np.ndarray]:  # the encoder starts up while this solves
                nonlocal delta_db
                delta_db = plan.solve(aim, ceiling_db, delta_db)
                yield from rendered(plan, delta_db, ceiling_db)

            try:
                for attempt in range(1, _ATTEMPTS + 1):
                    lufs, tp = ffmpeg.encode(
                        solved(), total, s.format, rate, s.channels, s.bitrate, tmp_out,
                        str(out), tags,
                    )  # fmt: skip
                    log.info(
                        "%s attempt %d: %.2f LUFS, %.2f dBTP (make-up %.2f dB, ceiling %.2f dBTP)",
                        out.name, attempt, lufs, tp, delta_db, ceiling_db,
                    )  # fmt: skip
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
                        out, _ATTEMPTS, lufs, tp, target, tp_limit,
                    )  # fmt: skip
                files.commit(tmp_out, out)
            finally:
                tmp_out.unlink(missing_ok=True)
    return MixResult(out, total / rate, lufs, tp, voice_start / rate)
