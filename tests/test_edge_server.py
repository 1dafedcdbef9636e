"""The loopback edge-tts service, exercised through the REAL ``edge_tts.Communicate``.

These tests also pin down what edge-tts 7.3.1 really does on each failure, which
the synthesis code in ``broadcast`` has to cope with.
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import edge_tts
import edge_tts.communicate
import pytest
from edge_tts.drm import DRM
from edge_tts.exceptions import NoAudioReceived

if __package__:  # tests/ is a package
    from .edge_server import (  # noqa: F401 - edge_server_fixture registers `edge_server`
        EdgeServer,
        edge_server_fixture,
        free_port,
        patch_client,
        split_sentences,
        ws_url,
    )
else:  # rootdir-less layout: pytest put tests/ itself on sys.path
    from edge_server import (  # noqa: F401 - edge_server_fixture registers `edge_server`
        EdgeServer,
        edge_server_fixture,
        free_port,
        patch_client,
        split_sentences,
        ws_url,
    )

VOICE = "zh-CN-XiaoxiaoNeural"
LONG_VOICE = "Microsoft Server Speech Text to Speech Voice (zh-CN, XiaoxiaoNeural)"
SCRIPT = "各位村民朋友，大家好。今天我们讲一讲电信诈骗！接到陌生电话要求转账怎么办？请立即挂断；"
LEGAL = [
    "根据中华人民共和国民法典的规定，公民的合法权益受法律保护。",
    "村民之间发生纠纷，可以申请人民调解委员会调解！",
    "遇到电信诈骗怎么办？",
    "请及时拨打一一零报警；",
]


def collect(
    text: str, voice: str = VOICE, *, guard: float = 30.0, **kwargs: Any
) -> tuple[bytes, list[dict[str, Any]]]:
    """Run the real client to completion (at most ``guard`` s); return (mp3, boundary events)."""

    async def run() -> tuple[bytes, list[dict[str, Any]]]:
        audio = bytearray()
        events: list[dict[str, Any]] = []
        async for chunk in edge_tts.Communicate(text, voice, **kwargs).stream():
            if chunk["type"] == "audio":
                audio += chunk["data"]
            else:
                events.append(chunk)
        return bytes(audio), events

    return asyncio.run(asyncio.wait_for(run(), guard))


def probe(mp3: bytes, tmp_path: Path, name: str = "out.mp3") -> dict[str, Any]:
    path = tmp_path / name
    path.write_bytes(mp3)
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name,sample_rate,channels,bit_rate",
            "-of",
            "json",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    info = json.loads(out)
    stream = info["streams"][0]
    return {
        "codec": stream["codec_name"],
        "sample_rate": int(stream["sample_rate"]),
        "channels": int(stream["channels"]),
        "bit_rate": int(stream["bit_rate"]),
        "duration": float(info["format"]["duration"]),
    }


# --------------------------------------------------------------------------- normal
def test_normal_synthesis_returns_real_mp3_and_sentence_boundaries(edge_server, tmp_path):
    audio, events = collect(SCRIPT, rate="+10%", volume="-5%", pitch="+2Hz")

    info = probe(audio, tmp_path)
    assert info["codec"] == "mp3"
    assert (info["sample_rate"], info["channels"], info["bit_rate"]) == (24_000, 1, 48_000)
    assert info["duration"] > 0.5
    assert len(audio) % 144 == 0  # whole CBR frames, no ID3/Xing header
    assert info["duration"] == pytest.approx(len(audio) / 6000, abs=0.03)

    assert [e["type"] for e in events] == ["SentenceBoundary"] * 4
    assert [e["text"] for e in events] == split_sentences(SCRIPT)
    offsets = [e["offset"] for e in events]
    assert offsets == sorted(offsets) and offsets[0] > 0
    for prev, nxt in zip(events, events[1:], strict=False):
        assert prev["offset"] + prev["duration"] <= nxt["offset"]
    end = (events[-1]["offset"] + events[-1]["duration"]) / 1e7
    assert 0.5 * info["duration"] < end <= info["duration"]

    (req,) = edge_server.requests
    assert req["voice"] == LONG_VOICE  # the client expands short names
    assert (req["rate"], req["volume"], req["pitch"]) == ("+10%", "-5%", "+2Hz")
    assert req["text"] == SCRIPT
    assert req["content_type"] == "application/ssml+xml"
    assert req["output_format"] == "audio-24khz-48kbitrate-mono-mp3"
    assert req["sentence_boundary"] and not req["word_boundary"]
    assert set(req["query"]) == {
        "TrustedClientToken",
        "ConnectionId",
        "Sec-MS-GEC",
        "Sec-MS-GEC-Version",
    }
    assert req["audio_bytes_sent"] == len(audio) and req["ended"] == "turn.end"
    assert edge_server.request_count == edge_server.handshake_count == 1
    assert [m["path"] for m in edge_server.messages] == ["speech.config", "ssml"]
    (hs,) = edge_server.handshakes
    assert hs["status"] == 101
    assert hs["headers"]["Origin"] == "chrome-extension://jdiccldimpdaibmpdkjnbmckianbfold"
    assert edge_server.errors == []


def test_ssl_context_is_ignored_for_plain_ws(edge_server):
    # The client always passes ssl=_SSL_CTX; aiohttp only uses it for https/wss URLs.
    assert isinstance(edge_tts.communicate._SSL_CTX, ssl.SSLContext)
    assert edge_tts.communicate.WSS_URL.startswith("ws://127.0.0.1:")
    audio, _ = collect("你好。")
    assert audio and edge_server.handshakes[0]["status"] == 101


def test_xml_special_characters_round_trip(edge_server):
    text = "甲方&乙方签订<合同>。违约方应当“赔偿”损失！"
    _, events = collect(text)
    (req,) = edge_server.requests
    assert req["text"] == text  # server sees the unescaped text
    assert "&amp;" in req["escaped_text"] and "&lt;" in req["escaped_text"]
    assert [e["text"] for e in events] == ["甲方&乙方签订<合同>。", "违约方应当“赔偿”损失！"]


def test_prosody_changes_the_audio(edge_server):
    normal, _ = collect(SCRIPT)
    fast, _ = collect(SCRIPT, rate="+50%")
    assert len(fast) < 0.8 * len(normal)


def test_word_boundary_events(edge_server):
    _, events = collect("你好。", boundary="WordBoundary")
    assert [(e["type"], e["text"]) for e in events] == [
        ("WordBoundary", "你"),
        ("WordBoundary", "好"),
    ]
    assert edge_server.requests[0]["word_boundary"]


def test_save_writes_audio_and_metadata(edge_server, tmp_path):
    mp3, meta = tmp_path / "a.mp3", tmp_path / "a.jsonl"
    asyncio.run(edge_tts.Communicate(SCRIPT, VOICE).save(str(mp3), str(meta)))
    lines = [json.loads(x) for x in meta.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 4 and probe(mp3.read_bytes(), tmp_path)["duration"] > 0.5


# ------------------------------------------------------------------------ long text
def _long_text(newlines: bool) -> str:
    body = ("".join(LEGAL) * 40)[:2000]
    if newlines:  # paragraph breaks every 100 characters
        body = "\n".join(body[i : i + 100] for i in range(0, len(body), 100))
    return body


def test_long_text_without_whitespace_is_sent_whole(edge_server):
    """edge-tts 7.3.1 only splits at newline/space: 2,000 CJK chars go in ONE message.

    ``split_text_by_byte_length`` falls back to ``_find_safe_utf8_split_point(text)``
    on the *whole* remaining text, which is valid UTF-8, so nothing is cut.
    """
    text = _long_text(newlines=False)
    assert "\n" not in text and " " not in text
    audio, events = collect(text, rate="+100%")
    (req,) = edge_server.requests
    assert req["text"] == text
    assert req["text_bytes"] == len(text.encode()) == 6000 > 4096
    assert req["ssml_message_bytes"] > 6000
    assert len(events) == len(split_sentences(text)) and len(audio) > 100_000


@pytest.mark.slow(5)
def test_long_text_with_newlines_is_split_at_4096_bytes_of_escaped_text(edge_server):
    text = _long_text(newlines=True)
    audio, events = collect(text, rate="+100%")
    reqs = edge_server.requests
    assert len(reqs) == 2 == edge_server.handshake_count  # one connection per chunk
    assert all(r["text_bytes"] <= 4096 for r in reqs)
    # The 4096 limit is on the escaped text only; the SSML message adds a fixed overhead
    # (headers, timestamp, <speak>/<voice>/<prosody>), so messages exceed 4096 bytes.
    overheads = {r["ssml_message_bytes"] - r["text_bytes"] for r in reqs}
    assert len(overheads) == 1 and 300 < overheads.pop() < 600
    assert max(r["ssml_message_bytes"] for r in reqs) > 4096
    assert "".join(r["text"] for r in reqs).replace("\n", "") == text.replace("\n", "")
    # The client shifts chunk 2's offsets by chunk 1's CBR byte count: still monotonic.
    offsets = [e["offset"] for e in events]
    assert offsets == sorted(offsets)
    first_chunk_end = reqs[0]["audio_bytes_sent"] * 10_000_000 // 6000
    assert any(o >= first_chunk_end for o in offsets)
    assert len(audio) == sum(r["audio_bytes_sent"] for r in reqs)


# ------------------------------------------------------------------------- failures
def test_403_then_ok_succeeds_through_the_clients_single_retry(edge_server):
    edge_server.script(["403", "ok"])
    audio, _ = collect(SCRIPT)
    assert audio
    assert [h["status"] for h in edge_server.handshakes] == [403, 101]
    assert edge_server.handshake_count == 2 and edge_server.request_count == 1
    # The client adjusted its clock from our Date header (1-s resolution).
    assert abs(DRM.clock_skew_seconds) < 2


def test_403_twice_raises_handshake_error(edge_server):
    edge_server.script(["403", "403", "ok"])
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        collect(SCRIPT)
    assert info.value.status == 403
    assert edge_server.handshake_count == 2  # exactly one retry
    assert edge_server.pending_modes == ["ok"]


def test_other_http_status_is_not_retried(edge_server):
    edge_server.script([429])
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        collect(SCRIPT)
    assert info.value.status == 429 and edge_server.handshake_count == 1


def test_stale_sec_ms_gec_is_rejected_and_the_client_fixes_its_clock(monkeypatch):
    with EdgeServer(validate_gec=True, clock_offset=3600) as server:
        patch_client(monkeypatch, server)
        monkeypatch.setattr(DRM, "clock_skew_seconds", 0.0)
        audio, _ = collect("你好。")
        assert audio
        assert [(h["mode"], h["status"]) for h in server.handshakes] == [
            ("gec_rejected", 403),
            ("ok", 101),
        ]
        assert DRM.clock_skew_seconds == pytest.approx(3600, abs=2)


def test_no_audio_raises(edge_server):
    edge_server.script(["no_audio"])
    with pytest.raises(NoAudioReceived):
        collect(SCRIPT)
    assert edge_server.request_count == 1


@pytest.mark.parametrize("mode", ["cut", "drop"])
def test_cut_connection_returns_truncated_audio_silently(edge_server, tmp_path, mode):
    full, _ = collect(SCRIPT)
    edge_server.script([mode])
    cut, events = collect(SCRIPT)  # no exception: the client treats close/EOF as the end
    assert 0 < len(cut) <= 0.3 * len(full)
    assert full.startswith(cut)
    assert probe(cut, tmp_path, "cut.mp3")["duration"] < probe(full, tmp_path)["duration"]
    assert events  # boundary events already sent are still yielded
    assert edge_server.requests[-1]["ended"] == {"cut": "close", "drop": "abort"}[mode]


def test_refused_port_raises_client_connector_error(monkeypatch):
    patch_client(monkeypatch, ws_url(free_port()))
    with pytest.raises(aiohttp.ClientConnectorError) as info:
        collect("你好。")
    assert info.value.os_error.errno == errno.ECONNREFUSED


def test_stall_after_handshake_ignores_receive_timeout(edge_server):
    """aiohttp resets the socket read timeout after the upgrade (ws_connect has no
    receive_timeout), so Communicate(receive_timeout=1) hangs; only our wait_for ends it."""
    edge_server.script(["stall"])

    async def run() -> None:
        async for _ in edge_tts.Communicate("你好。", VOICE, receive_timeout=1).stream():
            pass

    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        asyncio.run(asyncio.wait_for(run(), timeout=2))
    assert type(info.value) is TimeoutError  # not aiohttp's SocketTimeoutError
    assert time.monotonic() - start >= 1.9
    assert edge_server.request_count == 1  # the SSML did arrive


def test_stall_during_handshake_hits_receive_timeout(edge_server):
    edge_server.script(["stall_handshake"])
    start = time.monotonic()
    with pytest.raises(aiohttp.SocketTimeoutError):  # sock_read=receive_timeout applies here
        collect("你好。", receive_timeout=1, guard=5)
    assert time.monotonic() - start < 4


# --------------------------------------------------------------------------- server
def test_script_validation_and_consumption():
    server = EdgeServer(script=["403", "cut"])
    assert server.pending_modes == [403, "cut"]
    with pytest.raises(ValueError):
        server.script(["explode"])
    with pytest.raises(ValueError):
        server.script([200])
    server.reset()
    assert server.pending_modes == [] and server.requests == []


def test_lifecycle_loopback_daemon_and_clean_stop():
    with EdgeServer() as server:
        assert server.thread is not None and server.thread.daemon
        port = server.port
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
        listening = {  # nothing but 127.0.0.1:port in /proc/net/tcp for this port
            line.split()[1]
            for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
            if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port
        }
        assert listening == {f"0100007F:{port:04X}"}
    assert server.thread is None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    server.stop()  # idempotent
