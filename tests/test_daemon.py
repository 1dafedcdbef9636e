"""The daemon in real time: real APScheduler, real processes, real SQLite, the null player and
programmes of a few seconds made by espeak-ng. Slots and one-offs are seconds apart."""

from __future__ import annotations

import getpass
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


def wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


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


@pytest.fixture
def air_station(bc, tmp_path):
    configure(bc)
    add_script(bc, tmp_path, "短", SHORT)
    add_script(bc, tmp_path, "长", LONG)
    return bc


def test_two_one_offs_complete_on_time(air_station):
    bc = air_station
    t1 = one_off(bc, "1", 3)
    t2 = one_off(bc, "p1", 7, "--villages", "青石村,东岭村")
    d = Daemon(bc, "--for", "13")
    assert d.wait() == 0, d.text()
    rows = airings(bc)
    assert [(r["kind"], r["status"], r["scheduled_at"]) for r in rows] == [
        ("oneoff", "completed", t1.isoformat()),
        ("oneoff", "completed", t2.isoformat()),
    ]
    for r in rows:
        assert 0 <= lateness(r) < 1.0
        assert r["seconds_played"] > 1.0 and r["operator"] == "auto"
        assert "静音播放器" in r["reason"] and r["audible"] == 0
    assert json.loads(rows[1]["villages"]) == ["青石村", "东岭村"]
    assert rows[1]["audience"] == 1260 + 840  # population × factor 1.0
    assert rows[0]["audience"] == sum([1260, 840, 1105, 620, 735, 980, 1340, 560, 910])
    assert "开始播出《禁毒提醒》" in d.text() and "已播完" in d.text()


def test_one_off_added_from_another_process_while_running_airs(air_station):
    bc = air_station
    d = Daemon(bc, "--for", "12")
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
    assert d.wait() == 0
    (row,) = airings(bc)
    assert (row["status"], row["scheduled_at"]) == ("completed", t.isoformat())
    assert lateness(row) < 1.0


def test_second_daemon_refuses(air_station):
    bc = air_station
    d = Daemon(bc, "--for", "6")
    p = subprocess.run(
        [sys.executable, "-m", "broadcast", "--config", str(bc.config), "run", "--for", "1"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 1
    assert p.stderr == (
        f"Error: 本站的广播程序已在运行（进程 {d.proc.pid}）；同一站点只能运行一个 `broadcast run`\n"
    )
    assert d.wait() == 0


def test_kill_9_mid_airing_then_restart(air_station):
    bc = air_station
    t_long = one_off(bc, "2", 2)
    t_next = one_off(bc, "1", 16)
    d = Daemon(bc, "--for", "60")
    wait_for(lambda: any(r["status"] == "started" for r in airings(bc)), 15)
    time.sleep(2.5)  # a progress write happens every 2 s
    d.proc.send_signal(signal.SIGKILL)
    d.wait()
    (row,) = airings(bc)
    assert row["status"] == "started"  # what a power cut leaves behind
    d2 = Daemon(bc, "--for", "20")
    assert d2.wait() == 0, d2.text()
    assert "1 条播出记录已标为“中断”" in d2.text()
    rows = airings(bc)
    assert [(r["scheduled_at"], r["status"]) for r in rows] == [
        (t_long.isoformat(), "interrupted"),
        (t_next.isoformat(), "completed"),
    ]
    assert rows[0]["seconds_played"] >= 2.0 and "强制结束" in rows[0]["reason"]
    assert lateness(rows[1]) < 1.0


def test_downtime_across_two_one_offs(air_station):
    bc = air_station
    configure(bc, grace=6)  # `within` is ~3 s late at start-up, `beyond` ~10 s
    beyond = one_off(bc, "1", 2)
    within = one_off(bc, "1", 9)
    wait_for(lambda: now() > within + timedelta(seconds=2), 15)  # the daemon was down
    d = Daemon(bc, "--for", "8")
    assert d.wait() == 0, d.text()
    rows = airings(bc)
    assert [(r["scheduled_at"], r["status"]) for r in rows] == [
        (beyond.isoformat(), "missed"),
        (within.isoformat(), "completed"),
    ]
    assert rows[0]["reason"] == "广播程序未运行（停电、关机或程序未启动）"
    assert rows[0]["started_at"] is None and rows[0]["seconds_played"] == 0
    assert 2.0 <= lateness(rows[1]) < 6.0  # once, late, from the beginning
    assert rows[1]["seconds_played"] > 1.0
    assert "错过 1 次播出" in d.text()


def test_hooks_receive_villages_and_a_failing_hook_fails_the_airing(air_station, tmp_path):
    bc = air_station
    hook_log = tmp_path / "hooks.log"
    configure(
        bc,
        pre_air=[
            "sh",
            "-c",
            'echo "on|$1|$2|$3" >> "$0"',
            str(hook_log),
            "{villages}",
            "{title}",
            "{programme}",
        ],
        post_air=["sh", "-c", 'echo "off|$1" >> "$0"', str(hook_log), "{villages}"],
    )
    one_off(bc, "1", 3, "--villages", "青石村,西河村")
    d = Daemon(bc, "--for", "8")
    assert d.wait() == 0
    assert hook_log.read_text(encoding="utf-8").splitlines() == [
        "on|青石村，西河村|禁毒提醒|1",
        "off|青石村，西河村",
    ]
    configure(bc, pre_air=["sh", "-c", "echo 功放无响应 >&2; exit 3"])
    one_off(bc, "1", 3)
    d = Daemon(bc, "--for", "6")
    assert d.wait() == 0
    failed = airings(bc)[-1]
    assert failed["status"] == "failed" and failed["started_at"] is None
    assert failed["reason"] == "播前（功放/分区）命令失败（退出码 3）：功放无响应"


def test_slots_rotate_and_count_towards_times(bc, tmp_path):
    configure(bc)
    add_script(bc, tmp_path, "短", SHORT)
    add_script(bc, tmp_path, "短2", "宪法提醒\n尊法学法。")
    assert bc("queue", "add", "1", "--times", "1", "--no-produce").exit_code == 0
    assert bc("queue", "add", "2", "--no-produce").exit_code == 0
    s1, s2, s3 = (now() + timedelta(seconds=s) for s in (3, 7, 11))
    configure(bc, slots=[s1, s2, s3])
    planned = json.loads(bc("schedule", "list", "--json").output)[:3]
    assert [p["title"] for p in planned] == ["禁毒提醒", "宪法提醒", "宪法提醒"]
    d = Daemon(bc, "--for", "16")
    assert d.wait() == 0, d.text()
    rows = airings(bc)
    assert [(r["title"], r["status"], r["queue_entry_id"]) for r in rows] == [
        ("禁毒提醒", "completed", 1),
        ("宪法提醒", "completed", 2),
        ("宪法提醒", "completed", 2),
    ]
    assert all(lateness(r) < 1.0 for r in rows)
    entries = json.loads(bc("queue", "list", "--json").output)
    assert [(e["id"], e["remaining"]) for e in entries] == [(1, 0), (2, None)]


def test_sigterm_interrupts_the_airing_and_records_seconds(air_station):
    bc = air_station
    one_off(bc, "2", 2)
    d = Daemon(bc, "--for", "60")
    wait_for(lambda: any(r["status"] == "started" for r in airings(bc)), 15)
    time.sleep(1.5)
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait(20) == 0
    (row,) = airings(bc)
    assert row["status"] == "interrupted" and row["ended_at"] is not None
    assert 1.0 <= row["seconds_played"] < 10 and row["reason"] == "广播程序被停止（播放中断）"


def test_play_now_is_recorded(air_station):
    bc = air_station
    r = bc("play", "1", "--villages", "杏花村")
    assert r.exit_code == 0, r.output
    assert re.search(r"播出记录 1：《禁毒提醒》已播完（\d+ 秒）", r.output)
    (row,) = airings(bc)
    assert (row["kind"], row["status"], json.loads(row["villages"]), row["audience"]) == (
        "play",
        "completed",
        ["杏花村"],
        560,
    )
    assert row["operator"] == getpass.getuser()


def test_colliding_airing_waits_up_to_the_grace_then_is_missed(air_station):
    bc = air_station
    configure(bc, grace=3)
    first = one_off(bc, "2", 2)  # the long programme (about 10 s)
    second = one_off(bc, "1", 4)  # due while the first is still on air
    third = one_off(bc, "1", 14)  # after the first has ended: airs normally
    d = Daemon(bc, "--for", "20")
    assert d.wait() == 0, d.text()
    rows = airings(bc)
    assert [(r["scheduled_at"], r["status"]) for r in rows] == [
        (first.isoformat(), "completed"),
        (second.isoformat(), "missed"),
        (third.isoformat(), "completed"),
    ]
    assert rows[1]["reason"] == "前一次播出尚未结束，等待超过宽限时间"
    assert datetime.fromisoformat(rows[0]["ended_at"]) > second + timedelta(seconds=3)


def test_one_off_removed_while_running_does_not_air(air_station):
    bc = air_station
    d = Daemon(bc, "--for", "9")
    kept = one_off(bc, "1", 5)
    one_off(bc, "2", 4)
    time.sleep(1.5)  # the daemon has picked both up by now
    assert bc("schedule", "remove", "2").output == "已取消单次播出 2\n"
    assert d.wait() == 0, d.text()
    rows = airings(bc)
    assert [(r["scheduled_at"], r["title"], r["status"]) for r in rows] == [
        (kept.isoformat(), "禁毒提醒", "completed")
    ]


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
