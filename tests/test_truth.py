"""The airing log stays true under faults: a player that returns early or hangs, a daemon killed
with -9, a database locked by another process, a full disk, a wall clock that steps. Real
processes where it matters: ffmpeg into a real ALSA `file` PCM, a second sqlite3 connection
holding BEGIN EXCLUSIVE, a tmpfs that fills up, libfaketime for the clock step."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_daemon import Daemon, add_script, airings, at, configure, one_off, stop, wait_for

from broadcast import playback, players
from broadcast.config_sections import Playback
from broadcast.players import CommandPlayer, PlayerFailed

DEFAULT_COMMAND = Playback().command
FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def tone(path: Path, seconds: float) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"sine=f=440:d={seconds}"]
        + ["-ar", "24000", "-ac", "1", str(path), "-y"],
        check=True,
    )
    return path


def has_alsa_output() -> bool:
    p = subprocess.run(["ffmpeg", "-hide_banner", "-muxers"], capture_output=True, text=True)
    return re.search(r"^\s*E\s+alsa\b", p.stdout, re.M) is not None


@pytest.fixture
def alsa_home(tmp_path, monkeypatch):
    """A HOME whose ~/.asoundrc makes ALSA's default device a real `file` PCM (no sound card)."""
    if not has_alsa_output():
        pytest.skip("this ffmpeg has no ALSA output")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))

    def asoundrc(text: str) -> None:
        (home / ".asoundrc").write_text(text)

    return home, asoundrc


def file_pcm(out: Path) -> str:
    return f'pcm.!default {{\n  type file\n  slave.pcm "null"\n  file "{out}"\n  format "raw"\n}}\n'


def play(player, file: Path, duration: float, stop: threading.Event | None = None):
    return player.play(file, duration, stop or threading.Event(), lambda _s: None)


# --- 1. played means played ---


def test_default_command_plays_in_real_time_into_a_real_alsa_device(alsa_home, tmp_path):
    home, asoundrc = alsa_home
    out = tmp_path / "speaker.raw"
    asoundrc(file_pcm(out))
    wav = tone(tmp_path / "t.wav", 2.0)
    played, finished = play(CommandPlayer(DEFAULT_COMMAND), wav, 2.0)
    assert finished and 1.9 <= played < 3.5
    assert out.stat().st_size == 2 * 24000 * 2  # every sample reached the device (s16, mono)


def test_default_command_fails_when_the_sound_device_cannot_open(alsa_home, tmp_path):
    _home, asoundrc = alsa_home
    asoundrc("pcm.!default {\n  type hw\n  card 7\n}\n")
    wav = tone(tmp_path / "t.wav", 2.0)
    with pytest.raises(
        PlayerFailed,
        match=r"^播放程序 ffmpeg 出错（退出码 1，播放 \d\.\d 秒）：.*cannot open audio device default",
    ):
        play(CommandPlayer(DEFAULT_COMMAND), wav, 2.0)


def test_a_player_that_exits_0_early_has_failed(tmp_path):
    """ffplay exits 0 after 0.2 s when the device or the file cannot open: so does `true`."""
    wav = tone(tmp_path / "t.wav", 2.0)
    with pytest.raises(
        PlayerFailed, match=r"^播放程序提前退出：播放 0\.\d 秒，节目 18\.2 秒$"
    ) as e:
        play(CommandPlayer(("true", "{file}")), wav, 18.2)
    assert e.value.seconds < 1


@pytest.mark.skipif(shutil.which("ffplay") is None, reason="ffplay not installed")
def test_ffplay_without_a_sound_device_is_a_failure_with_its_message(
    alsa_home, tmp_path, monkeypatch
):
    _home, asoundrc = alsa_home
    monkeypatch.setenv("SDL_AUDIODRIVER", "alsa")
    asoundrc("pcm.!default {\n  type hw\n  card 7\n}\n")
    # ffplay gives up in ~0.2 s; a 20-s programme keeps that early exit visible on a busy PC
    wav = tone(tmp_path / "t.wav", 20.0)
    argv = ("ffplay", "-nodisp", "-autoexit", "-loglevel", "error", "{file}")
    with pytest.raises(
        PlayerFailed, match=r"^播放程序提前退出：播放 \d\.\d 秒，节目 20\.0 秒：.*open"
    ):
        play(CommandPlayer(argv), wav, 20.0)


# --- 2. a hanging player is stopped ---


def test_a_hanging_player_is_stopped_and_its_real_seconds_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(players, "HANG_MARGIN_S", 0.5)
    hang = (sys.executable, "-c", "import time; time.sleep(60)", "{file}")
    t0 = time.monotonic()
    with pytest.raises(
        PlayerFailed, match=r"^播放程序超时未退出，已强制停止：运行 1\.\d 秒，节目 1\.0 秒$"
    ) as e:
        play(CommandPlayer(hang), tmp_path / "x.wav", 1.0)
    assert 1.5 <= e.value.seconds < 2.5 and time.monotonic() - t0 < 8


# --- through the daemon: a command player in a station ---


def set_command(bc, argv: list[str]) -> None:
    import json

    text = bc.config.read_text(encoding="utf-8")
    text = re.sub(r"^player = .*$", 'player = "command"', text, flags=re.M)
    text = re.sub(r"^command = .*$", f"command = {json.dumps(argv)}", text, flags=re.M)
    bc.config.write_text(text, encoding="utf-8")


@pytest.fixture
def short_station(bc, tmp_path):
    configure(bc)
    add_script(bc, tmp_path, "短", "禁毒提醒\n远离毒品。")
    return bc


def test_play_with_a_player_that_returns_at_once_is_logged_failed(short_station):
    bc = short_station
    set_command(bc, ["true", "{file}"])
    r = bc("play", "1")
    assert r.exit_code == 1
    (row,) = airings(bc)
    assert row["status"] == "failed" and row["seconds_played"] < 1
    assert re.fullmatch(r"播放程序提前退出：播放 0\.\d 秒，节目 \d+\.\d 秒", row["reason"])


# --- 3. kill -9 of the daemon stops the sound ---


def children(pid: int) -> list[int]:
    """Child processes of every thread of ``pid``."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_kill_9_of_the_daemon_stops_the_player(short_station):
    bc = short_station
    marker = "broadcast-test-player"
    set_command(bc, [sys.executable, "-c", "import time; time.sleep(60)", marker, "{file}"])
    one_off(bc, "1", 2)
    d = Daemon(bc, "--for", "30")
    try:
        players: list[int] = []

        def player_started() -> bool:
            players[:] = [
                c for c in children(d.proc.pid) if marker in Path(f"/proc/{c}/cmdline").read_text()
            ]
            return bool(players)

        wait_for(player_started, 15)
        d.proc.send_signal(signal.SIGKILL)
        d.wait()
        wait_for(lambda: not alive(players[0]), 5)
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
            d.wait()


# --- 4. a locked database delays the rows, never the airing ---


@pytest.mark.slow(22)
def test_database_locked_for_20_s_across_an_airing(short_station):
    bc = short_station
    t = one_off(bc, "1", 3)
    d = Daemon(bc, "--for", "60")
    holder = sqlite3.connect(bc.folder / "station.db", isolation_level=None, timeout=30)
    holder.execute("BEGIN EXCLUSIVE")
    locked_at = time.monotonic()
    try:
        wait_for(lambda: "已播完" in d.text(), 20)  # it aired while the lock was held
        assert time.monotonic() - locked_at < 20
        while time.monotonic() - locked_at < 20:
            time.sleep(0.2)
    finally:
        holder.execute("COMMIT")
        holder.close()
    journal = bc.folder / ".broadcast-pending.jsonl"
    wait_for(
        lambda: not journal.exists() and [r["status"] for r in airings(bc)] == ["completed"], 15
    )
    stop(d)
    (row,) = airings(bc)
    assert row["status"] == "completed", d.text()
    assert row["scheduled_at"] == t.isoformat()
    started = time.mktime(time.strptime(row["started_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(started - time.mktime(t.timetuple())) < 2  # the true start, not when it was written
    assert row["seconds_played"] > 1 and "SELECT" not in (row["reason"] or "")
    assert "暂存" in d.text() and "Traceback" not in d.text()
    assert not (bc.folder / ".broadcast-pending.jsonl").exists()


def test_journal_replays_kept_rows_at_the_next_start(short_station):
    """A row kept in the journal (the disk was full) is written when the daemon starts again
    (by the command that opens the database, or else by the daemon's start-up)."""
    from broadcast import airlog_journal, config, db

    bc = short_station
    cfg = config.load(str(bc.config))
    engine = db.create_engine(cfg.database_url)
    journal = airlog_journal.Journal(bc.folder / airlog_journal.JOURNAL_NAME)
    journal._keep(
        {
            "uid": "x",
            "op": "insert",
            "values": dict(
                schedule_key="oneoff:99",
                kind="oneoff",
                scheduled_at="2026-12-01T07:00:00+08:00",
                villages=["青石村"],
                status="completed",
                operator="auto",
                audience=10,
                started_at="2026-12-01T07:00:00+08:00",
                ended_at="2026-12-01T07:00:03+08:00",
            ),
        }
    )
    engine.dispose()
    d = Daemon(bc, "--for", "1")
    assert d.wait() == 0, d.text()
    assert [r["status"] for r in airings(bc)] == ["completed"]
    assert not (bc.folder / airlog_journal.JOURNAL_NAME).exists()


def can_mount() -> str | None:
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root"
    probe = Path("/tmp") / f"broadcast-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    try:
        p = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True
        )
        if p.returncode != 0:
            return f"cannot mount a tmpfs here: {p.stderr.decode().strip()}"
        subprocess.run(["umount", str(probe)], check=True)
        return None
    finally:
        probe.rmdir()


@pytest.fixture
def small_disk(tmp_path):
    """A real 6 MB tmpfs: fill it up with `fill()`."""
    why = can_mount()
    if why:
        pytest.skip(why)
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)], check=True)

    def fill() -> None:
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 65536):
                pass
        except OSError:
            pass
        os.close(fd)

    yield mnt, fill
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.slow(12)
def test_disk_full_while_the_daemon_runs_loses_no_airing(small_disk, short_station):
    mnt, fill = small_disk
    bc = short_station
    # the station's database lives on the small disk (its programmes stay where they are)
    shutil.copy(bc.folder / "station.db", mnt / "station.db")
    (bc.folder / "station.db").unlink()
    text = bc.config.read_text(encoding="utf-8")
    text = re.sub(r"^database = .*$", f'database = "{mnt / "station.db"}"', text, flags=re.M)
    bc.config.write_text(text, encoding="utf-8")
    t1 = one_off(bc, "1", 3)
    t2 = one_off(bc, "1", 8)
    d = Daemon(bc, "--for", "60")
    fill()
    wait_for(lambda: d.text().count("已播完") == 2, 20)
    (mnt / "filler").unlink()  # room again: the kept rows are written

    def written() -> list[tuple[str, str]]:
        with sqlite3.connect(mnt / "station.db") as conn:
            return conn.execute(
                "select scheduled_at, status from airings order by scheduled_at"
            ).fetchall()

    wait_for(lambda: [status for _, status in written()] == ["completed", "completed"], 15)
    stop(d)
    rows = written()
    assert rows == [(t1.isoformat(), "completed"), (t2.isoformat(), "completed")], d.text()
    assert d.text().count("Traceback") == 0


# --- 5. the wall clock steps back ---


@pytest.mark.skipif(not FAKETIME_LIB.exists(), reason="libfaketime (Debian faketime) not installed")
@pytest.mark.slow(8)
def test_clock_step_back_10_min_then_a_new_one_off_airs(short_station, tmp_path):
    bc = short_station
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    env = dict(
        os.environ,
        LD_PRELOAD=str(FAKETIME_LIB),
        FAKETIME_TIMESTAMP_FILE=str(offset),
        FAKETIME_NO_CACHE="1",
        FAKETIME_DONT_FAKE_MONOTONIC="1",  # a step moves the wall clock only, as settimeofday does
    )
    log = bc.folder / "daemon.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "broadcast", "--config", str(bc.config), "run", "--for", "60"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=bc.folder,
            env=env,
        )
        wait_for(lambda: "广播程序已启动" in log.read_text(encoding="utf-8"), 20)
        step = tmp_path / "faketime.new"
        step.write_text("-600\n")
        os.replace(step, offset)  # the wall clock steps back 10 minutes (read whole, never half)
        try:
            wait_for(lambda: "向后跳变" in log.read_text(encoding="utf-8"), 5)
        except AssertionError:
            raise AssertionError(log.read_text(encoding="utf-8")) from None
        t, text = at(4 - 600)  # 4 s from now on the daemon's (stepped) clock
        r = subprocess.run(  # staff on the same PC see the same stepped clock
            [sys.executable, "-m", "broadcast", "--config", str(bc.config)]
            + ["schedule", "add", "1", "--at", text],
            env=env,
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        wait_for(lambda: any(r["status"] == "completed" for r in airings(bc)), 20)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text(encoding="utf-8")
    rows = airings(bc)
    assert [(r["scheduled_at"], r["status"]) for r in rows] == [(t.isoformat(), "completed")], (
        log.read_text(encoding="utf-8")
    )


# --- 6. config.toml edited under a running daemon ---


@pytest.mark.slow(9)
def test_a_slot_added_to_config_toml_while_running_airs(short_station):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    bc = short_station
    assert bc("queue", "add", "1").exit_code == 0
    d = Daemon(bc, "--for", "60")
    text = bc.config.read_text(encoding="utf-8")
    bc.config.write_text(text + "\n[station\n", encoding="utf-8")  # a typo first: kept running
    wait_for(lambda: "继续使用原来的配置" in d.text(), 5)
    slot = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(seconds=5)).replace(microsecond=0)
    bc.config.write_text(text, encoding="utf-8")
    configure(bc, slots=[slot])
    wait_for(lambda: "已重新载入（1 个播出时段）" in d.text(), 5)
    wait_for(lambda: any(r["status"] == "completed" for r in airings(bc)), 20)
    stop(d)
    rows = airings(bc)
    assert [(r["kind"], r["scheduled_at"], r["status"]) for r in rows] == [
        ("slot", slot.isoformat(), "completed")
    ], d.text()


def test_auto_needs_a_playback_device_that_opens(tmp_path):
    snd = tmp_path / "snd"
    snd.mkdir()
    assert not playback.has_audio_device(snd)
    (snd / "pcmC0D0p").symlink_to(tmp_path / "gone")  # listed, but cannot open
    (snd / "pcmC0D0c").write_bytes(b"")  # a capture device does not count
    assert not playback.has_audio_device(snd)
    (snd / "pcmC1D0p").write_bytes(b"")
    assert playback.has_audio_device(snd)
