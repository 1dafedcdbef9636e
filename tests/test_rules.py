"""Station rules: quiet hours, no-broadcast days, statutory holidays with 调休, zones.

Pure where it can be: fixed dates are passed in; only the daemon reads the clock."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broadcast import config, rules
from broadcast.config_sections import Slot
from broadcast.errors import ConfigError, QueueError, ScheduleError
from broadcast.players import fill
from broadcast.queue import parse_targets
from broadcast.rules import Blackout, Rules, Window, parse_window
from broadcast.schedule import Candidate, OneOff, State, check_oneoff, oneoff_airing, plan

TZ = ZoneInfo("Asia/Shanghai")
VILLAGES = ["青石村", "东岭村", "西河村"]
ZONES = {"东片": ("青石村", "东岭村")}
MINIMAL = (
    '[station]\ntownship = "青石乡"\n[villages]\n"青石村" = 100\n"东岭村" = 50\n'
    '[zones]\n"东片" = ["青石村", "东岭村"]\n'
)
NIGHT_LAW = (
    "《噪声污染防治法》第八十八条：夜间指 22:00 至次日 06:00；"
    "第六十四条：噪声敏感建筑物集中区域禁用高音广播喇叭，紧急情况除外"
)


@pytest.fixture(autouse=True)
def _fresh_warnings():
    rules.reset_warnings()
    yield
    rules.reset_warnings()


def load(tmp_path: Path, text: str) -> config.Config:
    p = tmp_path / "config.toml"
    p.write_text(MINIMAL + text, encoding="utf-8")
    return config.load(p)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, text)
    return e.value.problems


def slot(hh: int, mm: int = 0, **kw) -> Slot:
    return Slot(time=time(hh, mm), days=kw.pop("days", tuple(range(7))), **kw)


def cand(entry_id: int, seconds: float = 120.0) -> Candidate:
    return Candidate(
        entry_id=entry_id,
        position=entry_id,
        script_id=entry_id,
        title=f"稿件{entry_id}",
        topic="普法",
        times=None,
        completed=0,
        date_from=None,
        date_until=None,
        villages="all",
        programme_id=entry_id,
        duration_s=seconds,
    )


def day(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def listing(items) -> list[tuple[str, str | None, str | None, tuple[str, ...]]]:
    return [(p.at.strftime("%m-%d %H:%M"), p.title, p.suppressed, p.villages) for p in items]


# --- quiet hours ---


def test_default_quiet_hours_are_the_legal_night(tmp_path):
    assert load(tmp_path, "").rules.quiet_hours == (Window(time(22), time(6)),)


def test_config_check_refuses_a_slot_in_quiet_hours_citing_the_law(tmp_path):
    text = (
        '[rules]\nquiet_hours = ["22:00-06:00", "12:30-14:00"]\n'
        '[[slots]]\ntime = "22:30"\n[[slots]]\ntime = "13:00"\n[[slots]]\ntime = "07:00"\n'
    )
    assert problems(tmp_path, text) == [
        f"config.toml: slots[1].time: 22:30 在静音时段 22:00-06:00 内，不得定时播出（{NIGHT_LAW}）；"
        "请改到静音时段以外",
        "config.toml: slots[2].time: 13:00 在静音时段 12:30-14:00 内，不得定时播出"
        "（本站 [rules] quiet_hours 规定）；请改到静音时段以外",
    ]


def test_bad_rules_are_all_reported_at_once(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text(
        '[station]\ntownship = "青石乡"\n[villages]\n"青石村" = 100\n'
        '[zones]\n"东片" = ["青石村", "大村"]\n'
        '[rules]\nquiet_hours = ["22:00-06:00", "05:30-07:00"]\n'
        '[[rules.blackout]]\nfrom = 2027-06-08\nuntil = 2027-06-07\nreason = "高考"\n'
        'zones = ["南片"]\n'
        '[[slots]]\ntime = "08:00"\nzones = ["北片"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as e:
        config.load(p)
    assert e.value.problems == [
        "config.toml: zones.东片: 未知的村 '大村'，已配置：青石村",
        "config.toml: rules.quiet_hours: 时段 22:00-06:00 与 05:30-07:00 重叠；请合并成一个时段"
        " (got ['22:00-06:00', '05:30-07:00'])",
        "config.toml: rules.blackout[1].until: 结束日期 2027-06-07 早于开始日期 2027-06-08；请检查日期",
        "config.toml: rules.blackout[1].zones: 未知的分区 '南片'；请先在 [zones] 中定义分区",
        "config.toml: slots[1].zones: 未知的分区 '北片'；请先在 [zones] 中定义分区",
    ]


def test_one_off_in_or_running_into_quiet_hours_is_refused():
    r = Rules()
    with pytest.raises(ScheduleError) as e:
        check_oneoff(day(2026, 12, 4, 22, 30), "all", r)
    assert str(e.value) == (
        f"--at: 22:30 在静音时段 22:00-06:00，不能安排播出（{NIGHT_LAW}）；请改到静音时段以外"
    )
    with pytest.raises(ScheduleError) as e:
        check_oneoff(day(2026, 12, 4, 21, 58), "all", r, seconds=300)
    assert str(e.value).startswith("--at: 21:58 播出时会进入静音时段 22:00-06:00，不能安排播出")
    check_oneoff(day(2026, 12, 4, 21, 50), "all", r, seconds=300)  # ends 21:55: fine
    check_oneoff(day(2026, 12, 4, 22, 30), "all", Rules(quiet_hours=()))  # no quiet hours


def test_a_programme_that_would_run_into_quiet_hours_is_refused_not_suppressed():
    state = State((cand(1, seconds=600), cand(2, seconds=60)), (), None)
    items = plan(state, [slot(21, 55)], day(2026, 12, 4), day(2026, 12, 5), TZ, VILLAGES, Rules())
    assert len(items) == 1 and items[0].title == "稿件1" and items[0].suppressed is None
    assert items[0].refused == (
        f"节目长 10 分 0 秒，会播入静音时段 22:00-06:00，未开始播出（{NIGHT_LAW}）"
    )
    # a short one fits; emergencies are exempt from the rule
    state = State((cand(2, seconds=60),), (), None)
    assert (
        plan(state, [slot(21, 55)], day(2026, 12, 4), day(2026, 12, 5), TZ, VILLAGES, Rules())[
            0
        ].refused
        is None
    )
    assert rules.quiet_conflict(day(2026, 12, 4, 23), 60, Rules(), exempt=True) is None


def test_windows_parse_and_wrap():
    w = parse_window("22:00-06:00")
    assert w.contains(time(23, 59)) and w.contains(time(0)) and not w.contains(time(6))
    assert parse_window("12:30-14:00").law() == "本站 [rules] quiet_hours 规定"
    with pytest.raises(ValueError):
        parse_window("22:00")


# --- blackouts ---


GAOKAO = Blackout(date(2027, 6, 7), date(2027, 6, 8), "高考", villages=("青石村",), zones=())


def test_blackout_everywhere_suppresses_the_slot_time_with_its_reason():
    r = Rules(blackouts=(replace(GAOKAO, villages="all"),))
    state = State((cand(1),), (), None)
    items = plan(state, [slot(7)], day(2027, 6, 6), day(2027, 6, 10), TZ, VILLAGES, r)
    assert listing(items) == [
        ("06-06 07:00", "稿件1", None, tuple(VILLAGES)),
        ("06-07 07:00", None, "禁播：高考", tuple(VILLAGES)),
        ("06-08 07:00", None, "禁播：高考", tuple(VILLAGES)),
        ("06-09 07:00", "稿件1", None, tuple(VILLAGES)),
    ]


def test_partial_blackout_drops_villages_and_times():
    r = Rules(blackouts=(replace(GAOKAO, times=(parse_window("06:00-12:00"),)),))
    state = State((cand(1),), (), None)
    items = plan(state, [slot(7), slot(18)], day(2027, 6, 7), day(2027, 6, 8), TZ, VILLAGES, r)
    assert listing(items) == [
        ("06-07 07:00", "稿件1", None, ("东岭村", "西河村")),  # 青石村 is near the school
        ("06-07 18:00", "稿件1", None, tuple(VILLAGES)),  # outside the blackout's times
    ]
    one = OneOff(1, day(2027, 6, 7, 9), 1, "通知", "普法", 1, ("青石村",))
    assert oneoff_airing(one, VILLAGES, r).suppressed == "禁播：高考"
    with pytest.raises(ScheduleError, match="是禁播时间（高考）"):
        check_oneoff(one.at, ("青石村",), r, all_villages=VILLAGES)


def test_blackout_by_zone_from_config(tmp_path):
    cfg = load(
        tmp_path,
        '[[rules.blackout]]\nfrom = "2027-06-07"\nuntil = "2027-06-08"\n'
        'zones = ["东片"]\nreason = "高考"\n',
    )
    (b,) = cfg.rules.blackouts
    assert (b.villages, b.zones, b.reason) == (("青石村", "东岭村"), ("东片",), "高考")
    shown = tmp_path / "shown.toml"
    shown.write_text(config.to_toml(cfg), encoding="utf-8")
    assert config.load(shown).rules == cfg.rules  # `config show` round-trips the rules


# --- holidays and 调休 ---


def test_skip_holidays_on_national_day_and_a_调休_saturday():
    workdays = slot(7, days=(0, 1, 2, 3, 4), skip_holidays=True)
    daily = slot(12)
    state = State((cand(1),), (), None)
    r = Rules()
    items = plan(state, [workdays, daily], day(2026, 10, 1), day(2026, 10, 2), TZ, VILLAGES, r)
    assert [(p.at.strftime("%H:%M"), p.suppressed) for p in items] == [
        ("07:00", "法定节假日（国庆节）不播出"),
        ("12:00", None),  # a slot without skip_holidays airs on holidays
    ]
    # Saturday 2026-10-10 is a 调休 working day: the mon-fri slot airs; Sunday the 11th it does not
    items = plan(state, [workdays], day(2026, 10, 10), day(2026, 10, 12), TZ, VILLAGES, r)
    assert [(p.at.strftime("%m-%d %H:%M"), p.suppressed) for p in items] == [("10-10 07:00", None)]


def test_a_year_without_official_data_falls_back_with_one_warning_and_config_wins():
    said: list[str] = []
    r = Rules(warn=said.append)
    assert rules.holiday_skip(date(2027, 10, 1), r) == "法定节假日（国庆节）不播出"
    assert rules.holiday_skip(date(2027, 10, 2), r) is not None
    assert rules.holiday_skip(date(2027, 3, 3), r) is None
    assert len(said) == 1 and said[0].startswith(
        "警告：chinesecalendar 还没有 2027 年的法定节假日数据"
    )
    # the station's own list wins over both calendars
    r = Rules(holidays=(date(2027, 3, 3),), workdays=(date(2027, 10, 1),), warn=said.append)
    assert rules.holiday_skip(date(2027, 3, 3), r) == "法定节假日（节假日（本站配置））不播出"
    assert rules.holiday_skip(date(2027, 10, 1), r) is None
    assert rules.statutory(date(2027, 10, 1), r).workday
    assert len(said) == 1


def test_schedule_list_shows_skipped_holiday_slots_with_the_reason(bc):
    r = bc("schedule", "list", "--from", "2026-10-01", "--days", "3")
    assert r.exit_code == 0, r.output
    lines = [line.rstrip() for line in r.output.splitlines()]
    assert lines[0].split() == ["时间", "时段", "节目", "主题", "备注", "覆盖村"]
    assert lines[2:] == [
        "10-01 07:00:00  早间  （不播出）            法定节假日（国庆节）不播出  全部村",
        "10-01 12:00:00  午间  （无可播节目）        无节目                      全部村",
        "10-01 18:30:00  晚间  （无可播节目）        无节目                      全部村",
        "10-02 07:00:00  早间  （不播出）            法定节假日（国庆节）不播出  全部村",
        "10-02 12:00:00  午间  （无可播节目）        无节目                      全部村",
        "10-02 18:30:00  晚间  （无可播节目）        无节目                      全部村",
        "10-03 07:00:00  早间  （不播出）            法定节假日（国庆节）不播出  全部村",
        "10-03 12:00:00  午间  （无可播节目）        无节目                      全部村",
        "10-03 18:30:00  晚间  （无可播节目）        无节目                      全部村",
    ]
    r = bc("schedule", "list", "--from", "2026-10-01", "--json")
    first = __import__("json").loads(r.output)[0]
    assert first["suppressed"] == "法定节假日（国庆节）不播出" and first["refused"] is None


# --- zones ---


def test_slot_zones_resolve_to_villages_and_are_kept(tmp_path):
    cfg = load(tmp_path, '[[slots]]\ntime = "07:00"\nzones = ["东片"]\n')
    (s,) = cfg.slots
    assert (s.zones, s.villages) == (("东片",), ("青石村", "东岭村"))
    shown = tmp_path / "shown.toml"
    shown.write_text(config.to_toml(cfg), encoding="utf-8")
    again = config.load(shown)
    assert again.slots == cfg.slots and again.zones == cfg.zones and again.rules == cfg.rules


def test_zone_options_on_the_command_line():
    known = {"青石村": 1, "东岭村": 1, "西河村": 1}
    assert parse_targets(None, "东片", known, ZONES) == ("青石村", "东岭村")
    assert parse_targets("西河村", "东片", known, ZONES) == ("青石村", "东岭村", "西河村")
    assert parse_targets(None, None, known, ZONES) == "all"
    with pytest.raises(QueueError) as e:
        parse_targets(None, "西片", known, ZONES)
    assert re.match(r"--zones: 未知的分区：西片.*；已配置的分区：东片$", str(e.value))


def test_unknown_zone_in_schedule_add_writes_nothing(bc):
    before = bc.db_counts().get("oneoffs", 0)
    r = bc("schedule", "add", "1", "--at", "2030-01-01 09:00", "--zones", "北片")
    assert r.exit_code == 1
    assert r.output == (
        "Error: --zones: 未知的分区：北片（是否为“南北片”？）；已配置的分区：东片、西片、南北片\n"
    )
    assert bc.db_counts().get("oneoffs", 0) == before


def test_hooks_get_the_zones_an_airing_covers_in_full():
    assert rules.zones_of(("青石村", "东岭村", "西河村"), ZONES) == ("东片",)
    assert rules.zones_of(("青石村",), ZONES) == ()
    argv = fill(["relay", "{zones}", "{villages}"], zones="东片", villages="青石村，东岭村")
    assert argv == ["relay", "东片", "青石村，东岭村"]


# --- with the real CLI and daemon ---


@pytest.mark.slow(4)
def test_one_off_in_quiet_hours_is_refused_with_one_line_and_nothing_written(bc, tmp_path):
    from test_daemon import SHORT, add_script

    add_script(bc, tmp_path, "短", SHORT)
    before = bc.db_counts()["oneoffs"]
    r = bc("schedule", "add", "1", "--at", "2030-01-01 22:30")
    assert r.exit_code == 1
    assert r.output == (
        f"Error: --at: 22:30 在静音时段 22:00-06:00，不能安排播出（{NIGHT_LAW}）；"
        "请改到静音时段以外\n"
    )
    assert bc.db_counts()["oneoffs"] == before


def test_daemon_airs_nothing_and_records_nothing_on_a_no_broadcast_day(air_station):
    """On the daemon's fake clock (tests/fake_clock.py): nothing airs, and a restart after the
    blackout's slot and one-off times have passed records neither as missed."""
    from datetime import timedelta

    from fake_clock import Driver
    from test_daemon import airings, configure, now, one_off

    bc = air_station
    assert bc("queue", "add", "1", "--no-produce").exit_code == 0
    t0 = now().replace(microsecond=0)
    one_off(bc, "1", 3)  # planned before the blackout was decided
    configure(bc, slots=[t0 + timedelta(seconds=2)])
    today = t0.date()
    with bc.config.open("a", encoding="utf-8") as f:
        f.write(f'\n[[rules.blackout]]\nfrom = "{today}"\nuntil = "{today}"\nreason = "测试禁播"\n')
    listed = bc("schedule", "list", "--json")
    assert {p["suppressed"] for p in __import__("json").loads(listed.output)} == {"禁播：测试禁播"}
    d = Driver(bc.config, t0)
    try:
        d.start()
        # no job today: only tomorrow's slot time
        assert [j.at.date() for j in d.scheduler.jobs.values()] == [today + timedelta(days=1)]
        d.run_for(5)
    finally:
        d.close()
    assert airings(bc) == []  # not an airing
    d = Driver(bc.config, t0 + timedelta(minutes=20))  # down over both times, beyond the grace
    try:
        d.start()
        d.run_for(1)
    finally:
        d.close()
    assert airings(bc) == []  # and never missed
