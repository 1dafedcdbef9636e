"""ffmpeg at the edges: probe, decode to float32 chunks, encode with a verifying read-back.

Lossy encoders put a delay in front of the audio (LAME 1,105 samples, AAC 1,024 priming
samples). A finished file says so in its header and every decoder skips it, but the pipe the
encoder's tee feeds back to us carries no header: :func:`encode` drops those samples, so
what it measures is aligned exactly as the written file plays (gating blocks included).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

from broadcast.errors import MixError

from .loudness import analyse

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

CHUNK = (1 << 16) - 64  # frames per chunk, a multiple of the 32-frame analysis block


class Format(NamedTuple):
    muxer: str  # ffmpeg muxer writing the file
    encoder: str
    suffixes: tuple[str, ...]  # accepted file name suffixes
    margin_db: float  # first limiter ceiling this far under the limit (codec overshoot)
    pipe_muxer: str  # streamable container for the verification branch of the tee …
    pipe_demuxer: str  # … and the demuxer that reads it back
    delay: int = 0  # encoder delay (frames) that the piped stream holds and the file does not
    muxer_opts: str = ""


FORMATS = {
    "mp3": Format("mp3", "libmp3lame", (".mp3",), 0.4, "mp3", "mp3", 1105, ":id3v2_version=3"),
    "wav": Format("wav", "pcm_s16le", (".wav",), 0.25, "s16le", "s16le"),
    "ogg": Format("ogg", "libvorbis", (".ogg", ".oga"), 0.45, "ogg", "ogg"),
    "m4a": Format(
        "ipod", "aac", (".m4a", ".mp4"), 0.55, "adts", "aac", 1024, ":movflags=+faststart"
    ),
}


def tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise MixError(f"未找到 {name}：请运行 apt-get install ffmpeg")
    return exe


def check_input(path: Path) -> None:
    if not path.exists():
        raise MixError(f"{path}: 文件不存在，请检查路径")
    if not path.is_file():
        raise MixError(f"{path}: 不是音频文件（是文件夹？），请检查路径")
    if path.stat().st_size == 0:
        raise MixError(f"{path}: 文件是空的（0 字节），请重新录制或换成 WAV 或 MP3 文件")


def last_line(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "未知错误"


def decode_error(path: Path, detail: str) -> MixError:
    return MixError(f"{path}: 无法解码音频（{detail}），请换成 WAV 或 MP3 文件")


def probe(path: Path) -> dict:
    """ffprobe's first audio stream (sample_rate, channels) and the format's duration."""
    check_input(path)
    cmd = [tool("ffprobe"), "-v", "error", "-select_streams", "a:0", "-show_entries"]
    cmd += ["stream=sample_rate,channels:format=duration", "-of", "json", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise decode_error(path, last_line(proc.stderr))
    try:
        info = json.loads(proc.stdout)
        if not info.get("streams"):
            raise decode_error(path, "文件里没有音频流")
        s = info["streams"][0]
        return {"rate": int(s["sample_rate"]), "channels": int(s["channels"]),
                "duration": float(info["format"]["duration"])}  # fmt: skip
    except (ValueError, KeyError):
        raise decode_error(path, "无法读取时长") from None


def probe_duration(path: Path) -> float:
    """Duration in seconds as reported by ffprobe; MixError if it holds no audio stream."""
    return probe(Path(path))["duration"]


def _wide(*pipes: IO[bytes] | None) -> None:
    """1-MB pipe buffers (Linux): fewer context switches between ffmpeg and us."""
    import fcntl

    for pipe in pipes:
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)  # type: ignore[union-attr]


def frames_from(stream: IO[bytes], channels: int, size: int = CHUNK) -> Iterator[np.ndarray]:
    """float32 (frames, channels) chunks of ``size`` frames (the last may be shorter)."""
    import numpy as np

    frame_bytes = 4 * channels
    while data := stream.read(size * frame_bytes):
        usable = len(data) - len(data) % frame_bytes
        if usable:
            yield np.frombuffer(data, dtype=np.float32, count=usable // 4).reshape(-1, channels)


def _pcm_wav(path: Path, rate: int, channels: int) -> Generator[np.ndarray, None, int] | None:
    """float32 chunks of a 16-bit WAV already at ``rate``/``channels`` (a station's jingles),
    read here: the same values as ffmpeg's, without starting an ffmpeg (~60 ms of CPU).
    None for anything else."""
    import wave

    import numpy as np

    try:
        w = wave.open(str(path), "rb")
    except (wave.Error, EOFError, OSError):
        return None
    if (w.getsampwidth(), w.getframerate(), w.getnchannels()) != (2, rate, channels) or (
        w.getcomptype() != "NONE" or w.getnframes() == 0
    ):
        w.close()
        return None

    def chunks() -> Generator[np.ndarray, None, int]:  # returns the frames read
        frames = 0
        with w:
            while data := w.readframes(CHUNK):
                pcm = np.frombuffer(data, "<i2", count=len(data) // (2 * channels) * channels)
                frames += len(pcm) // channels
                yield (pcm * np.float32(1 / 32768)).reshape(-1, channels)
        return frames

    return chunks()


def decode(path: Path, rate: int, channels: int) -> Iterator[np.ndarray]:
    """float32 chunks of ``path`` decoded and resampled by ffmpeg (values above 1.0 kept); a
    16-bit WAV already at ``rate``/``channels`` is read directly (:func:`_pcm_wav`)."""
    check_input(path)
    if (pcm := _pcm_wav(path, rate, channels)) is not None:
        if not (yield from pcm):
            raise decode_error(path, "文件里没有声音数据")
        return
    cmd = [tool("ffmpeg"), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0"]
    cmd += ["-f", "f32le", "-c:a", "pcm_f32le", "-ar", str(rate), "-ac", str(channels), "pipe:1"]
    frames = 0
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        _wide(proc.stdout)
        try:
            for x in frames_from(proc.stdout, channels):
                frames += len(x)
                yield x
        finally:
            proc.stdout.close()  # ffmpeg exits on SIGPIPE if we stopped early
            rc = proc.wait()
        if rc != 0:
            err.seek(0)
            raise decode_error(path, last_line(err.read()))
    if frames == 0:
        raise decode_error(path, "文件里没有声音数据")


def _trimmed(chunks: Iterable[np.ndarray], skip: int, keep: int) -> Iterator[np.ndarray]:
    """Drop the first ``skip`` frames and anything after ``keep`` frames."""
    pos = 0
    for x in chunks:
        lo, hi = max(0, skip - pos), min(len(x), skip + keep - pos)
        pos += len(x)
        if hi > lo:
            yield x[lo:hi]


def encode(
    chunks: Iterable[np.ndarray], frames: int, fmt: str, rate: int, channels: int,
    bitrate: str, dest: Path, label: str, tags: Mapping[str, str] | None = None,
) -> tuple[float, float]:  # fmt: skip
    """Encode ``frames`` float32 frames into ``dest``; returns (LUFS, dBTP) of what was written.

    ffmpeg's tee muxer writes the packets to ``dest`` and to a pipe into a second ffmpeg
    that decodes them; a thread measures that stream (minus the encoder delay) while we
    render. ``label`` names the programme in error messages; ``tags`` (ffmpeg metadata keys)
    go into the file only, as ID3v2.3 in an mp3 (what most players read).
    """
    from concurrent.futures import ThreadPoolExecutor

    f = FORMATS[fmt]
    ffmpeg, r, ch = tool("ffmpeg"), str(rate), str(channels)
    enc_cmd = [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "f32le", "-ar", r, "-ac", ch]
    enc_cmd += ["-i", "pipe:0", "-map", "0:a", "-c:a", f.encoder]
    if fmt != "wav":
        enc_cmd += ["-b:a", bitrate]
    for key, value in (tags or {}).items():
        enc_cmd += ["-metadata", f"{key}={value}"]
    # ``dest`` relative to its folder (the encoder's cwd): the tee syntax carries only our name
    enc_cmd += ["-f", "tee", f"[f={f.muxer}{f.muxer_opts}]{dest.name}|[f={f.pipe_muxer}]pipe:1"]
    raw = ["-ar", r, "-ac", ch] if f.pipe_demuxer == "s16le" else []
    dec_cmd = [ffmpeg, "-nostdin", "-v", "error", "-f", f.pipe_demuxer, *raw, "-i", "pipe:0"]
    dec_cmd += ["-f", "f32le", "-c:a", "pcm_f32le", "-ar", r, "-ac", ch, "pipe:1"]
    with (
        tempfile.TemporaryFile() as enc_err,
        tempfile.TemporaryFile() as dec_err,
        ThreadPoolExecutor(1, thread_name_prefix="verify") as pool,
    ):
        enc = subprocess.Popen(
            enc_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=enc_err, cwd=dest.parent
        )
        assert enc.stdin is not None and enc.stdout is not None
        _wide(enc.stdin, enc.stdout)
        dec = subprocess.Popen(dec_cmd, stdin=enc.stdout, stdout=subprocess.PIPE, stderr=dec_err)
        _wide(dec.stdout)
        enc.stdout.close()  # the decoder owns it now

        def verify() -> tuple[float, float, int]:
            assert dec.stdout is not None
            try:
                stream = _trimmed(frames_from(dec.stdout, channels), f.delay, frames)
                return analyse(stream, rate, channels)
            finally:  # if measuring fails, let the pipeline die instead of blocking
                dec.stdout.close()

        measured = pool.submit(verify)
        try:
            with contextlib.suppress(BrokenPipeError):  # the encoder's exit code tells why
                for x in chunks:
                    enc.stdin.write(x)  # type: ignore[call-overload]  # ndarray is a buffer
                enc.stdin.close()
        except BaseException:
            enc.kill()
            dec.kill()
            with contextlib.suppress(OSError):
                enc.stdin.close()
            raise
        finally:
            enc_rc, dec_rc = enc.wait(), dec.wait()
            result = measured.exception() or measured.result()
        if enc_rc != 0:
            enc_err.seek(0)
            raise MixError(
                f"{label}: 无法写出节目（{last_line(enc_err.read())}），"
                "请检查磁盘空间和 ffmpeg 是否支持该格式"
            )
        if dec_rc != 0 or isinstance(result, BaseException):
            dec_err.seek(0)
            detail = last_line(dec_err.read()) if dec_rc else str(result)
            raise MixError(f"{label}: 无法检查写出的节目（{detail}），请重试")
    lufs, tp, _ = result
    return lufs, tp
