"""The daemon in real time: real APScheduler, real processes, real SQLite, the null player and
programmes of a few seconds made by espeak-ng. Only what needs a real process stays here: kill -9,
SIGTERM, the lock between two daemons, a one-off added from another process. The airing logic
(rotation, grace, collisions, downtime, hooks) runs on a fake clock in tests/test_airing_logic.py.
Nothing sleeps to synchronise: tests poll for a condition with a deadline."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

TZ = ZoneInfo("Asia/Shanghai")
SHORT = "禁毒提醒\n远离毒品。"
LONG = "反诈提醒\n接到陌生电话要求转账，请立即挂断，拨打九六一一零咨询。不要透露验证码，不要点击陌生链接。"


def configure(bc, *, grace: int = 5, pre_air=None, post_air=None, slots=()) -> None:
    """Null player, espeak only, no jingles, no daily slots but the ones given; no listen check
    (these tests are about airing; tests/test_voice.py covers listening)."""
    text = bc.config.read_text(encoding="utf-8")
    text = re.sub(r"\[\[slots\]\]\n(?:[^\[\n][^\n]*\n|\n)*", "", text)
    subs = {
        "engines": '["espeak"]',
        "listen_check": "false",
        "intro": '""',
        "outro": '""',
        "player": '"null"',
        "misfire_grace_seconds": str(grace),
        "pre_air": json.dumps(pre_air or [], ensure_ascii=False),
        "post_air": json.dumps(post_air or [], ensure_ascii=False),
        "quiet_hours": "[]",  # the tests air now, whatever the hour
    }
    for key, value in subs.items():
        text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
    for s in slots:
        text += (
            f'\n[[slots]]\nname = "测试"\ntime = "{s:%H:%M:%S}"\ndays = "daily"\nvillages = "all"\n'
        )
    bc.config.write_text(text, encoding="utf-8")


def add_script(bc, tmp_path: Path, name: str, body: str) -> None:
    p = tmp_path / f"{name}.txt"
    p.write_text(body, encoding="utf-8")
    r = bc("scripts", "add", str(p))
    assert r.exit_code == 0, r.output
    script_id = re.search(r"稿件 (\d+)", r.output)[1]
    r = bc("produce", "--engine", "espeak", script_id)
    assert r.exit_code == 0, r.output


def now() -> datetime:
    return datetime.now(TZ)


def at(seconds: float) -> tuple[datetime, str]:
    t = (now() + timedelta(seconds=seconds)).replace(microsecond=0)
    return t, t.strftime("%Y-%m-%d %H:%M:%S")


def one_off(bc, item: str, seconds: float, *extra: str) -> datetime:
    t, text = at(seconds)
    r = bc("schedule", "add", item, "--at", text, *extra)
    assert r.exit_code == 0, r.output
    return t


def wait_for(predicate, timeout: float, daemon: Daemon | None = None) -> None:
    """Poll ``predicate`` until it holds; on time-out, fail with the daemon's output if given."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out" + (f"; the daemon said:\n{daemon.text()}" if daemon else ""))


class Daemon:
    """`broadcast run …` in its own process, its output in a file."""

    def __init__(self, bc, *args: str):
        self.log = bc.folder / f"daemon-{time.monotonic_ns()}.log"
        self.out = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "broadcast", "--config", str(bc.config), "run", *args],
            stdout=self.out,
            stderr=subprocess.STDOUT,
            cwd=bc.folder,
        )
        wait_for(lambda: "广播程序已启动" in self.text() or self.proc.poll() is not None, 20)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def wait(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        self.out.close()
        return code


def airings(bc) -> list[sqlite3.Row]:
    with sqlite3.connect(bc.folder / "station.db") as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("select * from airings order by scheduled_at, id").fetchall()


def lateness(row) -> float:
    started = datetime.fromisoformat(row["started_at"])
    return (started - datetime.fromisoformat(row["scheduled_at"])).total_seconds()


def playing_for(bc, seconds: float) -> bool:
    """An airing is on air and has written progress of at least ``seconds``."""
    return any(r["status"] == "started" and r["seconds_played"] >= seconds for r in airings(bc))


def row_at(bc, t: datetime, status: str) -> bool:
    return any(r["scheduled_at"] == t.isoformat() and r["status"] == status for r in airings(bc))


def stop(d: Daemon) -> None:
    """SIGTERM, which ends `broadcast run` normally (exit 0)."""
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait(20) == 0, d.text()


@pytest.mark.slow(8)
def test_one_off_added_from_another_process_while_running_airs(air_station):
    bc = air_station
    d = Daemon(bc, "--for", "60")
    t, text = at(4)
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "broadcast",
            "--config",
            str(bc.config),
            "schedule",
            "add",
            "1",
            "--at",
            text,
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    wait_for(lambda: row_at(bc, t, "completed"), 30)
    stop(d)
    (row,) = airings(bc)
    assert (row["status"], row["scheduled_at"]) == ("completed", t.isoformat())
    assert lateness(row) < 1.0  # real APScheduler, real time: on time
    assert row["seconds_played"] > 1.0 and "静音播放器" in row["reason"]  # the real NullPlayer


def test_second_daemon_refuses(air_station):
    bc = air_station
    d = Daemon(bc, "--for", "60")
    p = subprocess.run(
        [sys.executable, "-m", "broadcast", "--config", str(bc.config), "run", "--for", "1"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 1
    assert p.stderr == (
        f"Error: 本站的广播程序已在运行（进程 {d.proc.pid}）；同一站点只能运行一个 `broadcast run`\n"
    )
    stop(d)


@pytest.mark.slow(11)
def test_kill_9_mid_airing_then_restart(air_station):
    bc = air_station
    t_long = one_off(bc, "2", 2)
    d = Daemon(bc, "--for", "60")
    wait_for(lambda: playing_for(bc, 2.0), 20)  # a progress write happens every 2 s
    d.proc.send_signal(signal.SIGKILL)
    d.wait()
    (row,) = airings(bc)
    assert row["status"] == "started"  # what a power cut leaves behind
    t_next = one_off(bc, "1", 4)
    d2 = Daemon(bc, "--for", "60")
    wait_for(lambda: row_at(bc, t_next, "completed"), 30)
    stop(d2)
    assert "1 条播出记录已标为“中断”" in d2.text()
    rows = airings(bc)
    assert [(r["scheduled_at"], r["status"]) for r in rows] == [
        (t_long.isoformat(), "interrupted"),
        (t_next.isoformat(), "completed"),
    ]
    assert rows[0]["seconds_played"] >= 2.0 and "强制结束" in rows[0]["reason"]
    assert lateness(rows[1]) < 1.0


@pytest.mark.slow(4)
def test_sigterm_interrupts_the_airing_and_records_seconds(air_station):
    bc = air_station
    one_off(bc, "2", 2)
    d = Daemon(bc, "--for", "60")
    wait_for(lambda: playing_for(bc, 2.0), 20)
    stop(d)
    (row,) = airings(bc)
    assert row["status"] == "interrupted" and row["ended_at"] is not None
    assert 2.0 <= row["seconds_played"] < 10 and row["reason"] == "广播程序被停止（播放中断）"


def test_a_hook_that_cannot_run_fails_the_airing_with_its_reason(air_station, tmp_path):
    bc = air_station
    script = tmp_path / "amp-on.sh"
    script.write_text("#!/bin/sh\nexit 0\n")  # not executable: the commonest hook mistake
    configure(bc, pre_air=[str(script), "{villages}"])
    r = bc("play", "1")
    assert r.exit_code == 1
    assert r.output.endswith(
        f"Error: 《禁毒提醒》失败：播前（功放/分区）命令无法运行：{script}（Permission denied）\n"
    )
    (row,) = airings(bc)
    assert (row["status"], row["started_at"], row["audience"]) == ("failed", None, 0)
