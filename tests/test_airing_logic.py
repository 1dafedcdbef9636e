"""The daemon's airing logic on a fake clock, in-process (see fake_clock.py): rotation and
counting towards --times, collisions and the grace, downtime and catch-up, hooks, one-offs
removed while running. Real SQLite, real schedule, real hooks, the real Daemon methods that
APScheduler calls; no real time passes. tests/test_daemon.py keeps what needs real processes."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from fake_clock import Driver
from test_daemon import airings, configure

from broadcast.daemon_jobs import LATE_TOLERANCE


def base() -> datetime:
    """Where the fake clock starts: the real time, whole seconds (the CLI checks that one-offs
    are in the future by the real clock)."""
    from test_daemon import now

    return now().replace(microsecond=0) + timedelta(seconds=1)


def add_one_off(bc, item: str, t: datetime, *extra: str) -> datetime:
    r = bc("schedule", "add", item, "--at", f"{t:%Y-%m-%d %H:%M:%S}", *extra)
    assert r.exit_code == 0, r.output
    return t


def lateness(row) -> float:
    started = datetime.fromisoformat(row["started_at"])
    return (started - datetime.fromisoformat(row["scheduled_at"])).total_seconds()


def duration(row) -> float:
    return (
        datetime.fromisoformat(row["ended_at"]) - datetime.fromisoformat(row["started_at"])
    ).total_seconds()


@pytest.fixture
def drivers():
    made: list[Driver] = []

    def make(bc, start: datetime) -> Driver:
        d = Driver(bc.config, start)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


def test_two_one_offs_complete_on_time(air_station, drivers):
    bc = air_station
    t0 = base()
    t1 = add_one_off(bc, "1", t0 + timedelta(seconds=3))
    t2 = add_one_off(bc, "p1", t0 + timedelta(seconds=7), "--villages", "青石村,东岭村")
    d = drivers(bc, t0)
    d.start()
    d.run_for(13)
    rows = airings(bc)
    assert [(r["kind"], r["status"], r["scheduled_at"]) for r in rows] == [
        ("oneoff", "completed", t1.isoformat()),
        ("oneoff", "completed", t2.isoformat()),
    ]
    for r in rows:
        assert lateness(r) == 0
        assert r["seconds_played"] > 1.0 and r["operator"] == "司法所（自动）"
        assert duration(r) == pytest.approx(r["seconds_played"], abs=0.05)
        assert "静音播放器" in r["reason"] and r["audible"] == 0
    assert json.loads(rows[1]["villages"]) == ["青石村", "东岭村"]
    assert rows[1]["audience"] == 1260 + 840  # population × factor 1.0
    assert rows[0]["audience"] == sum([1260, 840, 1105, 620, 735, 980, 1340, 560, 910])
    assert "开始播出《禁毒提醒》" in d.text() and "已播完" in d.text()


def test_slots_rotate_and_count_towards_times(air_station, drivers):
    bc = air_station
    assert bc("queue", "add", "1", "--times", "1", "--no-produce").exit_code == 0
    assert bc("queue", "add", "3", "--no-produce").exit_code == 0
    t0 = base()
    s1, s2, s3 = (t0 + timedelta(seconds=s) for s in (3, 7, 11))
    configure(bc, slots=[s1, s2, s3])
    planned = json.loads(bc("schedule", "list", "--json").output)[:3]
    assert [p["title"] for p in planned] == ["禁毒提醒", "宪法提醒", "宪法提醒"]
    d = drivers(bc, t0)
    d.start()
    d.run_for(16)
    rows = airings(bc)
    assert [(r["title"], r["status"], r["queue_entry_id"]) for r in rows] == [
        ("禁毒提醒", "completed", 1),
        ("宪法提醒", "completed", 2),
        ("宪法提醒", "completed", 2),
    ]
    assert [r["scheduled_at"] for r in rows] == [s.isoformat() for s in (s1, s2, s3)]
    assert all(lateness(r) == 0 for r in rows)
    entries = json.loads(bc("queue", "list", "--json").output)
    assert [(e["id"], e["remaining"]) for e in entries] == [(1, 0), (2, None)]


def test_colliding_airing_waits_up_to_the_grace_then_is_missed(air_station, drivers):
    bc = air_station
    configure(bc, grace=3)
    t0 = base()
    first = add_one_off(bc, "2", t0 + timedelta(seconds=2))  # the long one (about 14 s)
    second = add_one_off(bc, "1", t0 + timedelta(seconds=4))  # due while the first is on air
    third = add_one_off(bc, "1", t0 + timedelta(seconds=20))  # after the first: airs normally
    d = drivers(bc, t0)
    d.start()
    d.run_for(26)
    rows = airings(bc)
    assert [(r["scheduled_at"], r["status"]) for r in rows] == [
        (first.isoformat(), "completed"),
        (second.isoformat(), "missed"),
        (third.isoformat(), "completed"),
    ]
    assert rows[1]["reason"] == "前一次播出尚未结束，等待超过宽限时间"
    assert rows[1]["started_at"] is None and rows[1]["seconds_played"] == 0
    assert datetime.fromisoformat(rows[0]["ended_at"]) > second + timedelta(seconds=3)
    assert lateness(rows[0]) == 0 and lateness(rows[2]) == 0


def test_colliding_airing_within_the_grace_airs_late_behind_the_first(air_station, drivers):
    bc = air_station
    configure(bc, grace=60)
    t0 = base()
    first = add_one_off(bc, "2", t0 + timedelta(seconds=2))  # about 14 s
    second = add_one_off(bc, "1", t0 + timedelta(seconds=4))
    d = drivers(bc, t0)
    d.start()
    d.run_for(30)
    rows = airings(bc)
    assert [(r["scheduled_at"], r["status"]) for r in rows] == [
        (first.isoformat(), "completed"),
        (second.isoformat(), "completed"),
    ]
    # it started the moment the first ended: late by the rest of the first airing
    assert rows[1]["started_at"] == rows[0]["ended_at"]
    assert lateness(rows[1]) == pytest.approx(2 + rows[0]["seconds_played"] - 4, abs=0.05)
    assert lateness(rows[1]) >= 5  # so the log says how late it was
    assert f"{second:%H:%M:%S} 开始播出《禁毒提醒》（" in d.text()
    assert f"比预定时间晚 {lateness(rows[1]):.0f} 秒" in d.text()


def test_a_slot_later_than_the_grace_on_a_busy_pc_is_missed_with_its_reason(air_station, drivers):
    """Not behind another airing: the job itself ran late (PC asleep or too busy)."""
    bc = air_station
    configure(bc, grace=3)
    t0 = base()
    late = add_one_off(bc, "1", t0 + timedelta(seconds=2))
    d = drivers(bc, t0)
    d.start()
    d.run_for(1)
    assert f"oneoff:1@{late.isoformat()}" in d.scheduler.jobs
    d.clock.advance(3 + LATE_TOLERANCE + 1.5)  # the job runs 5.5 s after its time
    d.run_for(1)
    (row,) = airings(bc)
    assert (row["status"], row["started_at"]) == ("missed", None)
    assert row["reason"] == "超过宽限时间仍未能开始（电脑休眠或过忙）"


def test_wall_clock_step_forward_past_the_grace_is_missed_with_its_reason(air_station, drivers):
    bc = air_station
    configure(bc, grace=3)
    t0 = base()
    skipped = add_one_off(bc, "1", t0 + timedelta(seconds=2))
    d = drivers(bc, t0)
    d.start()
    d.run_for(1)
    d.clock.step(600)  # the wall clock alone steps 10 minutes on
    # a second later the scheduler wakes and hands the job over; the reconciler's round sees
    # the step before the airing begins
    d.clock.advance(1)
    d.run_for(2)
    assert "系统时间向前跳变了 600 秒，按新时间重新安排播出" in d.text()
    (row,) = airings(bc)
    assert (row["scheduled_at"], row["status"]) == (skipped.isoformat(), "missed")
    assert row["reason"] == "系统时间向前跳变了 600 秒，跳过了这次播出的宽限时间"


def test_a_changed_config_is_reloaded_and_a_broken_one_is_not(air_station, drivers):
    bc = air_station
    t0 = base()
    d = drivers(bc, t0)
    d.start()
    d.run_for(1.5)
    text = bc.config.read_text(encoding="utf-8")
    bc.config.write_text(text + "\n[station\n", encoding="utf-8")  # a typo: the old config stays
    d.run_for(1)
    assert "继续使用原来的配置" in d.text()
    slot = t0 + timedelta(seconds=6)
    bc.config.write_text(text, encoding="utf-8")
    configure(bc, slots=[slot])
    assert bc("queue", "add", "1", "--no-produce").exit_code == 0
    d.run_for(1)
    assert "已重新载入（1 个播出时段）" in d.text()
    d.run_until(slot + timedelta(seconds=5))
    assert [(r["kind"], r["scheduled_at"], r["status"]) for r in airings(bc)] == [
        ("slot", slot.isoformat(), "completed")
    ]


def test_downtime_across_two_one_offs(air_station, drivers):
    bc = air_station
    configure(bc, grace=6)
    t0 = base()
    beyond = add_one_off(bc, "1", t0 + timedelta(seconds=2))
    within = add_one_off(bc, "1", t0 + timedelta(seconds=9))
    d = drivers(bc, within + timedelta(seconds=3))  # the daemon was down until then
    d.start()
    d.run_for(8)
    rows = airings(bc)
    assert [(r["scheduled_at"], r["status"]) for r in rows] == [
        (beyond.isoformat(), "missed"),
        (within.isoformat(), "completed"),
    ]
    assert rows[0]["reason"] == "广播程序未运行（停电、关机或程序未启动）"
    assert rows[0]["started_at"] is None and rows[0]["seconds_played"] == 0
    assert lateness(rows[1]) == 3.0  # once, late, from the beginning, at start-up
    assert rows[1]["seconds_played"] > 1.0
    assert "错过 1 次播出" in d.text()


def test_downtime_across_slots_is_counted_from_the_last_heartbeat(air_station, drivers):
    """Slot times while no daemon ran are missed; those before the first run never are."""
    bc = air_station
    assert bc("queue", "add", "1", "--no-produce").exit_code == 0
    t0 = base()
    slots = [t0 + timedelta(seconds=s) for s in (-30, 20, 40, 60)]
    configure(bc, grace=5, slots=slots)
    d = drivers(bc, t0)
    d.start()
    d.run_for(25)  # the 20 s slot airs
    d.close()
    d2 = drivers(bc, t0 + timedelta(seconds=63))  # down from 25 s to 63 s
    d2.start()
    d2.run_for(5)
    rows = airings(bc)
    assert [(r["scheduled_at"], r["status"]) for r in rows] == [
        (slots[1].isoformat(), "completed"),
        (slots[2].isoformat(), "missed"),
        (slots[3].isoformat(), "completed"),  # 3 s late: within the grace
    ]
    assert rows[1]["reason"] == "广播程序未运行（停电、关机或程序未启动）"
    assert lateness(rows[2]) == 3.0
    assert "错过 1 次播出" in d2.text()


def test_hooks_receive_villages_and_a_failing_hook_fails_the_airing(air_station, tmp_path, drivers):
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
    t0 = base()
    add_one_off(bc, "1", t0 + timedelta(seconds=3), "--villages", "青石村,西河村")
    d = drivers(bc, t0)
    d.start()
    d.run_for(8)
    d.close()
    assert hook_log.read_text(encoding="utf-8").splitlines() == [
        "on|青石村，西河村|禁毒提醒|1",
        "off|青石村，西河村",
    ]
    configure(bc, pre_air=["sh", "-c", "echo 功放无响应 >&2; exit 3"])
    add_one_off(bc, "1", t0 + timedelta(seconds=11))
    d = drivers(bc, t0 + timedelta(seconds=8))
    d.start()
    d.run_for(6)
    failed = airings(bc)[-1]
    assert failed["status"] == "failed" and failed["started_at"] is None
    assert failed["reason"] == "播前（功放/分区）命令失败（退出码 3）：功放无响应"
    assert len(d.player.played) == 0  # nothing went on air


def test_one_off_removed_while_running_does_not_air(air_station, drivers):
    bc = air_station
    t0 = base()
    d = drivers(bc, t0)
    d.start()
    d.run_for(0.5)
    kept = add_one_off(bc, "1", t0 + timedelta(seconds=5))
    removed = add_one_off(bc, "2", t0 + timedelta(seconds=4))
    d.run_for(1.5)
    assert f"oneoff:2@{removed.isoformat()}" in d.scheduler.jobs  # picked up
    assert bc("schedule", "remove", "2").output == "已取消单次播出 2\n"
    d.run_until(t0 + timedelta(seconds=9))
    rows = airings(bc)
    assert [(r["scheduled_at"], r["title"], r["status"]) for r in rows] == [
        (kept.isoformat(), "禁毒提醒", "completed")
    ]


def test_one_off_removed_after_its_job_was_handed_over_does_not_air(air_station, drivers):
    """The job already left the scheduler (queued behind an airing): `fire` reads it again."""
    bc = air_station
    configure(bc, grace=60)
    t0 = base()
    add_one_off(bc, "2", t0 + timedelta(seconds=2))  # about 14 s
    add_one_off(bc, "1", t0 + timedelta(seconds=4))

    def remove_during_the_first(played: float) -> None:
        if played == 4.0:  # the second is due and waiting
            assert bc("schedule", "remove", "2").output == "已取消单次播出 2\n"

    d = drivers(bc, t0)
    d.player.during = remove_during_the_first
    d.start()
    d.run_for(20)
    assert [(r["oneoff_id"], r["status"]) for r in airings(bc)] == [(1, "completed")]


def test_play_now_is_recorded(air_station, instant_player):
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
    assert row["operator"] == "司法所"  # [station] operator
    assert len(instant_player.played) == 1
