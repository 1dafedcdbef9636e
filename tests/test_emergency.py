"""Emergency insert (应急插播), priorities (应急 > 上级转播 > 日常) and zones.

The interrupting paths run a real daemon process in real time with the null player (like
tests/test_daemon.py): an emergency interrupts a long airing within 1 s of the daemon seeing
the request, airs ``--repeat`` times, and normal service resumes; an emergency while nothing is
on air; a relay pre-empting a daily one-off. The 顺延 logic runs on the fake clock in-process
(tests/fake_clock.py). ``--now`` without a daemon and the bad inputs run in-process. Speech is
espeak-ng (fast); nothing sleeps to synchronise: tests poll with a deadline.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from datetime import datetime, timedelta

import pytest
from conftest import ebur128
from fake_clock import Driver
from test_daemon import Daemon, airings, configure, now, one_off, stop, wait_for

NOTICE = "今天下午三点起河道水位上涨，请村民远离河边。"


def emergencies(bc) -> list[sqlite3.Row]:
    with sqlite3.connect(bc.folder / "station.db") as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("select * from emergencies order by id").fetchall()


def t(value: str) -> datetime:
    return datetime.fromisoformat(value)


def kinds(bc, kind: str, status: str = "completed") -> list[sqlite3.Row]:
    return [r for r in airings(bc) if r["kind"] == kind and r["status"] == status]


def quiet_now(bc) -> None:
    """A quiet window around the current station time (so the test hour does not matter)."""
    n = now()
    window = f"{n - timedelta(hours=1):%H:%M}-{n + timedelta(hours=1):%H:%M}"
    text = bc.config.read_text(encoding="utf-8")
    text = re.sub(r"^quiet_hours = .*$", f'quiet_hours = ["{window}"]', text, flags=re.M)
    bc.config.write_text(text, encoding="utf-8")


# --- real daemon, real time ---


@pytest.mark.slow(28)
def test_emergency_interrupts_a_long_airing_airs_twice_and_service_resumes(air_station):
    bc = air_station
    t_long = one_off(bc, "2", 2)  # 《反诈提醒》, about 14 s, every village
    d = Daemon(bc, "--for", "120")
    wait_for(lambda: any(r["status"] == "started" for r in airings(bc)), 20, d)
    asked = now()
    # a short notice (airing time is not the point): chime 2.6 s + about 2 s of speech, twice
    r = bc("emergency", "河水上涨，请远离河边。", "--villages", "青石村", "--repeat", "2")
    written = now()  # the request was written in between (stored to the second, as all times)
    assert r.exit_code == 0, r.output
    assert re.fullmatch(
        r"应急广播 1《应急通知》已交给广播程序，立即插播（中断正在播出的节目），播 2 遍，覆盖青石村\n",
        r.output,
    )
    wait_for(lambda: len(kinds(bc, "emergency")) == 2, 60)
    after = one_off(bc, "3", 3)  # a later one-off airs normally: service resumed
    wait_for(
        lambda: any(r["oneoff_id"] == 2 and r["status"] == "completed" for r in airings(bc)), 30
    )
    stop(d)

    (em,) = emergencies(bc)
    assert (em["status"], em["repeat"], json.loads(em["villages"])) == ("done", 2, ["青石村"])
    rows = airings(bc)
    (cut,) = [r for r in rows if r["status"] == "interrupted"]
    assert cut["scheduled_at"] == t_long.isoformat() and cut["kind"] == "oneoff"
    assert cut["reason"] == "应急插播：应急通知；被中断的节目不再补播"
    seen = t(em["handled_at"])  # when the daemon picked the request up
    assert asked.replace(microsecond=0) <= t(em["requested_at"]) <= written
    assert asked - timedelta(seconds=1) < seen < written + timedelta(seconds=1)  # seen within 1 s
    assert t(cut["ended_at"]) - seen < timedelta(seconds=1)  # stopped within 1 s of being seen
    first, second = kinds(bc, "emergency")
    assert [r["schedule_key"] for r in (first, second)] == ["emergency:1#1", "emergency:1#2"]
    for r in (first, second):
        assert json.loads(r["villages"]) == ["青石村"] and r["topic"] == "应急"
        assert r["audience"] == 1260 and r["seconds_played"] > 3  # chime (2.6 s) + speech
    # the daemon produces it after stopping the airing (espeak here; bench/emergency.py times it)
    assert timedelta(0) < t(first["started_at"]) - seen < timedelta(seconds=15)
    assert "应急广播 1 已制作（espeak" in d.text()
    pause = (t(second["started_at"]) - t(first["ended_at"])).total_seconds()
    assert 2.0 <= pause < 3.0  # a short pause between the two
    # the interrupted one-off is not replayed; the later one aired on time
    assert [r["status"] for r in rows if r["oneoff_id"] == 1] == ["interrupted"]
    (later,) = [r for r in rows if r["oneoff_id"] == 2]
    assert later["status"] == "completed" and later["scheduled_at"] == after.isoformat()
    assert t(later["started_at"]) - after < timedelta(seconds=1)
    assert "收到应急广播 1《应急通知》，立即插播（2 遍）" in d.text()
    assert "恢复日常播出" in d.text()


def stale_request(bc, minutes: float) -> None:
    """A request written ``minutes`` ago that no daemon saw (it died first)."""
    from broadcast import config, db, emergency

    cfg = config.load(str(bc.config))
    engine = db.open_station(cfg.database_url, now().isoformat())
    try:
        req = emergency.check(
            cfg, text="旧的通知。", file=None, villages=None, zones=None, repeat=1, title="旧通知"
        )
        written = now() - timedelta(minutes=minutes)
        script_id = emergency.store(engine, cfg, req, written)
        with engine.begin() as conn:
            emergency.insert(conn, req, script_id, None, written, "pending")
    finally:
        engine.dispose()


@pytest.mark.slow(10)
def test_emergency_while_nothing_is_on_air(air_station):
    bc = air_station
    stale_request(bc, 20)
    d = Daemon(bc, "--for", "60")
    r = bc(
        "emergency",
        "村委会通知：明早八点停水。",
        "--zones",
        "东片",
        "--repeat",
        "1",
        "--title",
        "停水",
    )
    assert r.exit_code == 0, r.output
    wait_for(lambda: len(kinds(bc, "emergency")) == 1, 30)
    stop(d)
    (row,) = airings(bc)  # the stale request was not aired
    old, em = emergencies(bc)
    assert old["status"] == "expired" and "有 1 条应急广播请求" in d.text()
    assert (row["title"], row["status"], row["schedule_key"]) == (
        "停水",
        "completed",
        "emergency:2#1",
    )
    assert json.loads(em["zones"]) == ["东片"]
    east = ["青石村", "东岭村", "石桥村"]  # [zones] 东片 of the sample config
    assert json.loads(row["villages"]) == east and json.loads(row["zones"]) == ["东片"]
    assert timedelta(0) < t(row["started_at"]) - t(em["handled_at"]) < timedelta(seconds=15)
    assert em["status"] == "done" and em["programme_id"] == row["programme_id"]


@pytest.mark.slow(9)
def test_relay_pre_empts_a_daily_one_off(air_station):
    bc = air_station
    t_daily = one_off(bc, "2", 2)  # about 14 s
    t_relay = one_off(bc, "1", 6, "--relay")
    d = Daemon(bc, "--for", "60")
    wait_for(
        lambda: any(r["kind"] == "relay" and r["status"] == "completed" for r in airings(bc)), 40
    )
    stop(d)
    daily, relay = airings(bc)
    assert (daily["scheduled_at"], daily["status"]) == (t_daily.isoformat(), "interrupted")
    assert daily["reason"] == "上级转播优先：禁毒提醒"
    assert (relay["scheduled_at"], relay["kind"]) == (t_relay.isoformat(), "relay")
    assert t(daily["ended_at"]) - t_relay < timedelta(seconds=1)
    assert t(relay["started_at"]) - t_relay < timedelta(seconds=1.5)


# --- priorities on the fake clock ---


def _base() -> datetime:
    return now().replace(microsecond=0) + timedelta(seconds=1)


def _one_off(bc, item: str, at: datetime, *extra: str) -> None:
    r = bc("schedule", "add", item, "--at", f"{at:%Y-%m-%d %H:%M:%S}", *extra)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("grace", [3, 60])
def test_a_daily_one_off_waits_behind_a_relay_then_airs_or_is_missed(air_station, grace):
    bc = air_station
    configure(bc, grace=grace)
    t0 = _base()
    _one_off(bc, "2", t0 + timedelta(seconds=2), "--relay")  # about 14 s
    _one_off(bc, "1", t0 + timedelta(seconds=4))  # due while the relay is on air
    d = Driver(bc.config, t0)
    try:
        d.start()
        d.run_for(40)
    finally:
        d.close()
    relay, daily = airings(bc)
    assert (relay["kind"], relay["status"]) == ("relay", "completed")
    if grace == 3:  # beyond its grace: missed, and the record says why
        assert daily["status"] == "missed"
        assert daily["reason"] == "顺延：等待上级转播播出，超过宽限时间未能开始"
    else:  # within its grace: 顺延, it airs when the relay ends
        assert daily["status"] == "completed"
        assert daily["started_at"] == relay["ended_at"]


# --- without a daemon ---


def test_without_a_daemon_the_cli_says_so_and_writes_nothing(air_station):
    bc = air_station
    before = bc.db_counts()
    r = bc("emergency", NOTICE)
    assert r.exit_code == 1
    assert r.output == (
        "Error: 广播程序没有运行，应急广播无法自动插播；加 --now 从本机立即播出，"
        "或先启动 `broadcast run` 再发送\n"
    )
    assert bc.db_counts() == before


@pytest.mark.slow(4)
def test_now_airs_it_here_exempt_from_quiet_hours_and_is_reported(air_station, instant_player):
    bc = air_station
    quiet_now(bc)
    r = bc("play", "1")
    assert r.exit_code == 1 and r.output.startswith("Error: 现在是静音时段 "), r.output
    assert r.output.endswith("紧急情况请用 `broadcast emergency`，确需播出请加 --override\n")
    assert bc("play", "1", "--override").exit_code == 0
    r = bc("emergency", NOTICE, "--villages", "青石村", "--now")
    assert r.exit_code == 0, r.output
    assert r.output.endswith("应急广播 1《应急通知》已在本机播出 2 遍，覆盖青石村\n")
    assert len(instant_player.played) == 3
    chimed = instant_player.played[-1][0]
    assert chimed.suffix == ".wav" and instant_player.played[-1][1] > 2.6  # chime + speech
    lufs, peak = ebur128(chimed)  # measured by ffmpeg alone: the one-pass mix is on target
    assert abs(lufs - -16.0) <= 1.0 and peak <= -1.0
    played, *ems = airings(bc)
    assert played["kind"] == "play" and "手动越过静音时段" in played["reason"]
    assert [(r["kind"], r["status"]) for r in ems] == [("emergency", "completed")] * 2
    assert all(r["reason"].startswith("应急插播，不受静音时段限制（静音时段 ") for r in ems)
    (em,) = emergencies(bc)
    assert em["status"] == "aired"
    year = t(played["scheduled_at"]).year
    r = bc("report", "--year", str(year), "--output", str(bc.folder / "报告"))
    assert r.exit_code == 0, r.output
    assert "此外，应急插播2次，未计入上述普法节目统计。" in r.output
    assert "播出普法节目共1次" in r.output
    # the voices and the no-sound-card disclosure count the same 普法 airings as the total
    voices = re.search(r"按播出所用语音：([^。]*)。", r.output)[1]
    assert re.fullmatch(r"[^、]*1次(（[^）]*）)?", voices), r.output
    assert "上述1次中有" not in r.output, r.output
    out = bc.folder / "台账.csv"
    assert bc("log", "export", "-o", str(out)).exit_code == 0
    kinds_column = [line.rsplit(",", 1)[1] for line in out.read_text("utf-8-sig").splitlines()]
    assert kinds_column == ["类别", "手动", "应急插播", "应急插播"]
    listed = bc("log", "list").output
    assert listed.count("【应急插播】应急通知") == 2


def test_a_recorded_notice_airs_with_the_chime(air_station, instant_player, tmp_path):
    bc = air_station
    wav = tmp_path / "通知.wav"
    subprocess.run(
        ["espeak-ng", "-v", "cmn-latn-pinyin", "-w", str(wav), "ge4 wei4 cun1 min2 qing3 zhu4 yi4"],
        check=True,
    )
    r = bc("emergency", "--file", str(wav), "--repeat", "1", "--now", "--title", "录音通知")
    assert r.exit_code == 0, r.output
    (row,) = airings(bc)
    assert (row["kind"], row["engine"], row["title"]) == ("emergency", "recording", "录音通知")
    assert instant_player.played[0][1] > 2.6  # the chime is in front


# --- bad input: one line each, nothing written ---


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "应急广播内容为空；"),
        ([], "应急广播内容为空；"),
        ([NOTICE, "--villages", "大村"], "--villages: 未知的村：大村"),
        ([NOTICE, "--zones", "北片"], "--zones: 未知的分区：北片"),
        ([NOTICE, "--repeat", "0"], "--repeat: 至少播出 1 遍（得到 0）"),
        ([NOTICE, "--villages", "青石村", "--zones", "东片"], "--villages 和 --zones 只能选一个"),
        (["--file", "没有这个文件.m4a"], "--file: 找不到文件 没有这个文件.m4a"),
        ([NOTICE, "--file", "x.m4a"], "应急广播的内容只能二选一"),
        ([NOTICE, "--title", " "], "--title: 标题不能为空"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(air_station, args, message):
    bc = air_station
    before = bc.db_counts()
    r = bc("emergency", *args, "--now")
    assert r.exit_code == 1, r.output
    assert len(r.output.splitlines()) == 1 and r.output.startswith(f"Error: {message}"), r.output
    assert bc.db_counts() == before


# --- zones and relays are stored ---


def test_one_offs_store_their_zones_and_relay_kind(air_station):
    bc = air_station
    one_off(bc, "1", 3600, "--zones", "东片")
    r = bc(
        "schedule", "add", "3", "--at", f"{now() + timedelta(hours=2):%Y-%m-%d %H:%M}", "--relay"
    )
    assert r.exit_code == 0 and "已安排上级转播（优先于日常播出）" in r.output, r.output
    with sqlite3.connect(bc.folder / "station.db") as conn:
        rows = conn.execute("select kind, zones from oneoffs order by id").fetchall()
    assert rows == [("daily", '["东片"]'), ("relay", None)]
    listed = json.loads(bc("schedule", "list", "--days", "1", "--json").output)
    assert [p["kind"] for p in listed if p["oneoff_id"]] == ["oneoff", "relay"]


def test_priority_names_must_differ(bc):
    text = bc.config.read_text(encoding="utf-8").replace('daily = "日常"', 'daily = "应急"')
    bc.config.write_text(text, encoding="utf-8")
    r = bc("config", "check")
    assert r.exit_code == 1
    assert (
        "config.toml: priorities: 三个级别的名称不能相同（应急、上级转播、应急）；请改成不同的名称"
        in r.output
    )


@pytest.mark.slow(4)
def test_with_approval_required_an_emergency_airs_first_and_shows_unsigned_until_signed(
    air_station, instant_player, tmp_path
):
    """先播出，后补签字: the notice airs although nobody signed it; the log and the 台账 show
    待补签 until `approve --emergency`, and then the signature, marked as given after airing."""
    from test_approval import require

    bc = air_station
    require(bc)
    r = bc("emergency", NOTICE, "--villages", "青石村", "--repeat", "1", "--now")
    assert r.exit_code == 0, r.output
    (aired,) = kinds(bc, "emergency")
    assert aired["status"] == "completed" and len(instant_player.played) == 1
    pid = aired["programme_id"]
    listed = json.loads(bc("log", "list", "--json").output)
    assert [x["approval"] for x in listed] == ["待补签（还需：负责人审核）"]
    assert "待补签（还需：负责人审核）" in bc("log", "list").output
    month = t(aired["scheduled_at"]).strftime("%Y-%m")
    pack = tmp_path / "台账"
    assert bc("ledger", "--month", month, "--output", str(pack)).exit_code == 0
    import openpyxl

    sheet = openpyxl.load_workbook(pack / f"播放使用登记表-{month}.xlsx")["播放使用登记表"]
    assert sheet["H2"].value == "待补签（还需：负责人审核）"  # 审核人
    assert sheet["D2"].value == "【应急插播】应急通知"  # 节目名称, marked as in `log list`
    assert sheet["I2"].value == "司法所"  # 操作人: [station] operator, not the login name
    assert aired["operator"] == "司法所"

    r = bc("approve", str(pid), "--by", "王乡长", "--emergency")
    assert r.exit_code == 0, r.output
    listed = json.loads(bc("log", "list", "--json").output)
    assert [x["approval"] for x in listed] == [""]
    assert bc("ledger", "--month", month, "--output", str(pack)).exit_code == 0
    sheet = openpyxl.load_workbook(pack / f"播放使用登记表-{month}.xlsx")["播放使用登记表"]
    assert sheet["H2"].value == "王乡长（负责人审核，补签）"
    assert bc("log", "verify").output.startswith("校验通过（PASS）：")
