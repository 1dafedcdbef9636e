"""The edge-tts engine: Microsoft's neural voices over the network (the best voice, when it answers).

We cut the text into sentence chunks ourselves (edge-tts only splits at newlines or spaces, and
Chinese has neither), synthesise them with bounded concurrency, retry the failures that come in
waves (403, no audio, time-outs, dropped connections) with backoff, and reject a stream that was
cut short (the client returns success with truncated audio when the socket closes before
``turn.end``). ``[tts.edge] endpoint`` replaces ``edge_tts.communicate.WSS_URL`` for one
synthesis at a time. This is the only module that imports edge_tts (inside the functions that
need it); the chain and the cache around it are :mod:`broadcast.tts`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .tts import Cue, EngineFailure

TICKS = 10_000_000  # edge-tts offsets are in 100-ns ticks
EDGE_BITRATE = 48_000  # audio-24khz-48kbitrate-mono-mp3 is constant bitrate
# Mandarin newsreading runs at about 4–5 characters a second; audio shorter than this many
# seconds per character means the stream was cut off.
MIN_SECONDS_PER_CHAR = 0.08

_EDGE_URL_LOCK = threading.Lock()


@dataclass
class EdgeEngine:
    voice: str = "zh-CN-YunyangNeural"
    rate: str = "+0%"
    volume: str = "+0%"
    pitch: str = "+0Hz"
    endpoint: str = ""
    proxy: str = ""
    concurrency: int = 2
    retries: int = 3
    timeout_seconds: int = 30
    backoff_seconds: float = 1.0
    name: str = "edge"

    def settings(self) -> dict[str, object]:
        return {"voice": self.voice, "rate": self.rate, "volume": self.volume, "pitch": self.pitch}

    def voice_label(self) -> str:
        return self.voice

    def synthesize(self, chunks: Sequence[str], folder: Path) -> tuple[list[Path], list[Cue]]:
        import asyncio

        with _EDGE_URL_LOCK:
            import edge_tts.communicate as communicate

            saved = communicate.WSS_URL
            if self.endpoint:
                communicate.WSS_URL = self.endpoint
            try:
                results = asyncio.run(self._all(chunks))
            finally:
                communicate.WSS_URL = saved
        pieces: list[Path] = []
        cues: list[Cue] = []
        t = 0.0
        for i, (audio, chunk_cues, seconds) in enumerate(results):
            out = folder / f"edge-{i:05d}.mp3"
            out.write_bytes(audio)
            pieces.append(out)
            cues += [Cue(t + c.start, t + c.end, c.text) for c in chunk_cues]
            t += seconds
        return pieces, cues

    async def _all(self, chunks: Sequence[str]) -> list[tuple[bytes, list[Cue], float]]:
        import asyncio

        gate = asyncio.Semaphore(self.concurrency)

        async def one(text: str) -> tuple[bytes, list[Cue], float]:
            async with gate:
                return await self._with_retries(text)

        tasks = [asyncio.ensure_future(one(c)) for c in chunks]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()

    async def _with_retries(self, text: str) -> tuple[bytes, list[Cue], float]:
        import asyncio

        last: EngineFailure | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            try:
                return await self._once(text)
            except EngineFailure as e:
                last = e
                if e.reason in _PERMANENT:
                    break
        assert last is not None
        raise last

    async def _once(self, text: str) -> tuple[bytes, list[Cue], float]:
        import asyncio

        import aiohttp
        import edge_tts
        from edge_tts import exceptions as ex

        try:
            com = edge_tts.Communicate(
                text,
                self.voice,
                rate=self.rate,
                volume=self.volume,
                pitch=self.pitch,
                proxy=self.proxy or None,
                connect_timeout=self.timeout_seconds,
                receive_timeout=self.timeout_seconds,
            )
        except ValueError as e:
            raise EngineFailure("语音参数无效", str(e)) from e
        audio = bytearray()
        cues: list[Cue] = []
        try:
            async with asyncio.timeout(self.timeout_seconds * 4):
                async for msg in com.stream():
                    if msg["type"] == "audio":
                        audio += msg["data"]
                    elif msg["type"] in ("SentenceBoundary", "WordBoundary"):
                        start = msg["offset"] / TICKS
                        cues.append(Cue(start, start + msg["duration"] / TICKS, msg["text"]))
        except ex.NoAudioReceived as e:
            raise EngineFailure("服务未返回音频", str(e)) from e
        except aiohttp.ClientResponseError as e:
            raise EngineFailure(f"服务拒绝请求（HTTP {e.status}）", str(e)) from e
        except TimeoutError as e:  # before OSError: TimeoutError is one
            raise EngineFailure("连接超时", str(e)) from e
        except (aiohttp.ClientConnectionError, OSError) as e:
            raise EngineFailure("连接失败", str(e)) from e
        except (ex.EdgeTTSException, aiohttp.ClientError) as e:
            raise EngineFailure("服务响应异常", f"{e.__class__.__name__}: {e}") from e
        seconds = len(audio) * 8 / EDGE_BITRATE
        _check_complete(text, seconds, cues)
        return bytes(audio), cues, seconds


_PERMANENT = {"语音参数无效"}


def _check_complete(text: str, seconds: float, cues: list[Cue]) -> None:
    """Reject audio cut short: shorter than its own boundaries, or far too short for the text."""
    spoken = sum(1 for c in text if not c.isspace())
    if cues and seconds + 0.5 < cues[-1].end:
        raise EngineFailure(
            "音频不完整", f"音频 {seconds:.1f} 秒，边界信息到 {cues[-1].end:.1f} 秒"
        )
    covered = sum(len(c.text) for c in cues)
    if cues and covered < 0.8 * len(text.strip()) and spoken > 20:
        raise EngineFailure("音频不完整", f"边界信息只覆盖 {covered}/{len(text.strip())} 字")
    if seconds < spoken * MIN_SECONDS_PER_CHAR:
        raise EngineFailure("音频不完整", f"{spoken} 字只有 {seconds:.1f} 秒音频")
