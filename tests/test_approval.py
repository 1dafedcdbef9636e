"""Approval bound to the audio: the daemon airs only what was approved; a file changed after
approval is refused; re-producing needs a new approval; levels go in order; emergencies air first
and stay 待补签 until signed; bad input is one line and writes nothing. Real espeak-ng programmes,
real SQLite files, the null player."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from datetime import timedelta

import pytest
from test_daemon import airings, now, one_off, row_at

from broadcast import airlog, approval, config, db, programmes

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d"


def require(bc, levels: list[str] | None = None) -> None:
    """[approval] required = true (and these levels)."""
    text = bc.config.read_text(encoding="utf-8")
    text = re.sub(r"^required = .*$", "required = true", text, flags=re.M)
    if levels is not None:
        value = json.dumps(levels, ensure_ascii=False)
        text = re.sub(r"^levels = .*$", f"levels = {value}", text, flags=re.M)
    bc.config.write_text(text, encoding="utf-8")


def approvals_rows(bc) -> list[tuple]:
    with sqlite3.connect(bc.folder / "station.db") as conn:
        rows = conn.execute(
            "select programme_id, level, approver, note, audio_sha256, after_air from approvals"
        ).fetchall()
    conn.close()
    return rows


def programme_file(bc, programme_id: int) -> str:
    with sqlite3.connect(bc.folder / "station.db") as conn:
        f = conn.execute("select file from programmes where id = ?", (programme_id,)).fetchone()
    conn.close()
    return f[0]


def own_copy(bc, programme_id: int) -> str:
    """Give this station its own copy of a programme's file (the fixture shares them)."""
    src = programme_file(bc, programme_id)
    dst = bc.folder / f"p{programme_id}.mp3"
    shutil.copy(src, dst)
    conn = sqlite3.connect(bc.folder / "station.db")
    with conn:
        conn.execute("update programmes set file = ? where id = ?", (str(dst), programme_id))
    conn.close()
    return str(dst)


@pytest.mark.slow(4)
def test_daemon_airs_the_approved_programme_and_records_the_unapproved_missed(air_station):
    """The real Daemon in-process on the fake clock (tests/fake_clock.py): the approval gate is
    in `playback.air`, the same for every airing; real processes are tested in test_daemon."""
    from fake_clock import Driver

    bc = air_station
    require(bc)
    r = bc("approve", "3", "--by", "张三", "--note", "同意播出")
    assert r.exit_code == 0, r.output
    sha = hashlib.sha256(open(programme_file(bc, 3), "rb").read()).hexdigest()
    assert re.fullmatch(
        rf"已审核节目 3《宪法提醒》：负责人审核 张三（{STAMP}），音频 sha256 {sha[:16]}…；"
        r"审核完毕，可以播出\n",
        r.output,
    ), r.output
    assert approvals_rows(bc) == [(3, "负责人审核", "张三", "同意播出", sha, 0)]
    t1 = one_off(bc, "p1", 5)
    t3 = one_off(bc, "p3", 7)
    listing = bc("schedule", "list").output  # warned ahead of time
    assert listing.startswith(
        "警告：1 个节目因审核不会播出（见备注）；用 `broadcast approvals list --pending` 查看，"
        "`broadcast approve 节目编号 --by 姓名` 审核\n"
    ), listing
    (line1,) = [x for x in listing.splitlines() if "禁毒提醒" in x]
    (line3,) = [x for x in listing.splitlines() if "宪法提醒" in x]
    assert "未审核（还需负责人审核），不会播出" in line1 and "不会播出" not in line3

    d = Driver(bc.config, now().replace(microsecond=0))
    try:
        d.start()
        d.run_until(t3 + timedelta(seconds=30))
    finally:
        d.close()
    assert row_at(bc, t3, "completed"), d.text()
    rows = {r["programme_id"]: r for r in airings(bc)}
    assert (rows[1]["scheduled_at"], rows[1]["status"], rows[1]["started_at"]) == (
        t1.isoformat(),
        "missed",
        None,
    )
    reason = "未审核（节目 1 还需：负责人审核；请运行 broadcast approve 1 --by 姓名）"
    assert rows[1]["reason"] == reason
    assert f"禁毒提醒：未播出，{reason}" in d.text()
    assert rows[3]["status"] == "completed"

    # after `broadcast approve`, it airs
    assert bc("approve", "1", "--by", "张三").exit_code == 0
    r = bc("play", "p1")
    assert r.exit_code == 0 and "《禁毒提醒》已播完" in r.output, r.output
    r = bc("log", "verify")
    assert r.exit_code == 0 and r.output.startswith("校验通过（PASS）：5 条播出事件、3 条播出记录")


def test_a_file_changed_after_approval_is_refused_and_recorded_failed(air_station):
    bc = air_station  # approval not required: an approved file is still checked
    path = own_copy(bc, 1)
    assert bc("approve", "1", "--by", "张三").exit_code == 0
    approved = hashlib.sha256(open(path, "rb").read()).hexdigest()
    with open(path, "ab") as f:
        f.write(b"\0" * 417)  # one frame's worth of something else
    now = hashlib.sha256(open(path, "rb").read()).hexdigest()
    reason = (
        f"节目文件在审核后被改动（现 sha256 {now[:12]}…，负责人审核时为 {approved[:12]}…）；"
        "请重新制作（broadcast produce --force 1）并重新审核"
    )
    one_off(bc, "p1", 3600)
    listing = bc("schedule", "list").output
    assert "审核后文件被改动，不会播出" in listing, listing
    (planned,) = json.loads(bc("schedule", "list", "--json").output)
    assert (planned["programme_id"], planned["approval"]) == (1, "审核后文件被改动，不会播出")
    r = bc("play", "p1")
    assert r.exit_code == 1
    assert r.output.endswith(f"Error: 《禁毒提醒》失败：{reason}\n"), r.output
    (row,) = airings(bc)
    assert (row["status"], row["reason"], row["started_at"], row["audience"]) == (
        "failed",
        reason,
        None,
        0,
    )


@pytest.mark.slow(4)
def test_reproducing_needs_approval_again(air_station):
    bc = air_station
    require(bc)
    own_copy(bc, 1)  # re-producing deletes the superseded file: not the fixture's
    assert bc("approve", "1", "--by", "张三").exit_code == 0
    r = bc("produce", "--force", "--engine", "espeak", "1")
    assert r.exit_code == 0, r.output
    with sqlite3.connect(bc.folder / "station.db") as conn:
        (new,) = conn.execute(
            "select id from programmes where script_id = 1 and status = 'current'"
        ).fetchone()
    conn.close()
    assert new == 4
    pending = bc("approvals", "list", "--pending").output
    assert re.search(r"^4\s+禁毒提醒\s+\S+ \S+\s+待审核（还需：负责人审核）\s*$", pending, re.M), (
        pending
    )
    r = bc("play", "1")
    assert r.exit_code == 1
    assert r.output.endswith(
        "Error: 《禁毒提醒》未播出：未审核（节目 4 还需：负责人审核；请运行 broadcast approve 4 --by 姓名）\n"
    ), r.output
    before = bc.db_counts()
    r = bc("approve", "1", "--by", "张三")
    assert (r.exit_code, r.output) == (
        1,
        "Error: 节目 1《禁毒提醒》已被重新制作的节目替换，不能再审核，请审核当前节目 4"
        "（用 `broadcast approvals list` 查看待审核的节目）\n",
    )
    assert bc.db_counts() == before
    assert bc("approve", "4", "--by", "张三").exit_code == 0
    r = bc("play", "1")
    assert r.exit_code == 0 and "已播完" in r.output, r.output


@pytest.mark.parametrize(
    ("args", "code", "line"),
    [
        (
            ["99", "--by", "张三"],
            1,
            "Error: 找不到编号为 99 的节目；用 `broadcast programmes list` 查看编号",
        ),
        (
            ["1", "--by", "张三", "--level", "局长"],
            1,
            "Error: --level: 未知的审核级别“局长”；可用：负责人审核（config.toml [approval] levels）",
        ),
        (["1", "--by", "  "], 1, "Error: --by: 请写审核人姓名，如 --by 张三"),
        (
            ["1", "--by", "张三", "--emergency"],
            1,
            "Error: --emergency: 节目 1 没有先播出的记录，无需补签；正常审核请去掉 --emergency",
        ),
        (["x1", "--by", "张三"], 2, "Error: Invalid value for 'PROGRAMME_ID': 应为整数：x1"),
        (
            ["0", "--by", "张三"],
            2,
            "Error: Invalid value for 'PROGRAMME_ID': 应在 1 到 9223372036854775807 之间：0",
        ),
    ],
    ids=["missing", "unknown-level", "no-name", "emergency-not-aired", "not-a-number", "zero"],
)
def test_bad_approvals_are_one_line_and_write_nothing(air_station, args, code, line):
    bc = air_station
    before = bc.db_counts()
    r = bc("approve", *args)
    assert r.exit_code == code
    assert r.output.strip().splitlines()[-1] == line
    assert bc.db_counts() == before


def test_the_same_level_twice_is_refused(air_station):
    bc = air_station
    assert bc("approve", "1", "--by", "张三").exit_code == 0
    before = bc.db_counts()
    r = bc("approve", "1", "--by", "李四", "--level", "负责人审核")
    assert r.exit_code == 1
    assert re.fullmatch(
        rf"Error: --level: 节目 1 的“负责人审核”已由 张三 于 {STAMP} 签过，同一级别不能重复签\n",
        r.output,
    ), r.output
    r = bc("approve", "1", "--by", "李四")
    assert r.exit_code == 1
    assert re.fullmatch(
        r"Error: 节目 1《禁毒提醒》已审核完毕（负责人审核 张三（\d\d-\d\d \d\d:\d\d））\n",
        r.output,
    ), r.output
    assert bc.db_counts() == before


@pytest.mark.slow(3)
def test_three_levels_sign_in_order_and_air_only_when_all_signed(air_station):
    bc = air_station
    require(bc, ["初审", "复审", "终审"])
    r = bc("approve", "3", "--by", "乙", "--level", "复审")
    assert (r.exit_code, r.output) == (
        1,
        "Error: --level: 节目 3 还没有“初审”，请按 初审→复审→终审 的顺序审核\n",
    )
    r = bc("approve", "3", "--by", "甲")
    assert r.exit_code == 0 and r.output.endswith("；还需：复审、终审\n"), r.output
    assert bc("approve", "3", "--by", "乙").exit_code == 0
    data = json.loads(bc("approvals", "list", "--json").output)
    (p3,) = [p for p in data if p["programme_id"] == 3]
    assert (p3["status"], p3["missing"]) == ("待审核（还需：终审）", ["终审"])
    assert [(s["level"], s["approver"]) for s in p3["signatures"]] == [
        ("初审", "甲"),
        ("复审", "乙"),
    ]
    r = bc("play", "p3")
    assert r.exit_code == 1 and r.output.endswith(
        "未审核（节目 3 还需：终审；请运行 broadcast approve 3 --by 姓名）\n"
    ), r.output
    r = bc("approve", "3", "--by", "丙", "--note", "同意")
    assert r.exit_code == 0 and r.output.endswith("；审核完毕，可以播出\n"), r.output
    pending = json.loads(bc("approvals", "list", "--pending", "--json").output)
    assert [p["programme_id"] for p in pending] == [1, 2]
    assert bc("play", "p3").exit_code == 0


def test_approval_config_is_checked_with_every_problem(bc):
    text = bc.config.read_text(encoding="utf-8")
    text = re.sub(r"^required = .*$", 'required = "yes"', text, flags=re.M)
    text = re.sub(r"^levels = .*$", 'levels = ["初审", "复审", "终审", "四审"]', text, flags=re.M)
    bc.config.write_text(text, encoding="utf-8")
    r = bc("config", "check")
    assert r.exit_code == 1
    assert 'config.toml: approval.required: 应为 true 或 false (got "yes")' in r.output
    assert 'config.toml: approval.levels: 最多 3 级，如 ["初审", "复审", "终审"]' in r.output
    bc.config.write_text(
        re.sub(r"^levels = .*$", 'levels = ["初审", "初审"]', text, flags=re.M), encoding="utf-8"
    )
    assert "approval.levels: 级别名称不能重复" in bc("config", "check").output


def test_emergencies_air_first_and_show_pending_until_signed_after_air(air_station):
    """The approval side of 先播出，后补签字, for airings of kind "emergency"."""
    bc = air_station
    require(bc)
    cfg = config.load(str(bc.config))
    engine = db.open_station(cfg.database_url, "2026-12-02T10:00:00+08:00")
    try:
        with engine.begin() as conn:
            prog = programmes.get(conn, 1)
            assert approval.gate(conn, cfg, prog, "emergency") == approval.Gate(
                note="应急先播出，待补签（还需：负责人审核）"
            )
            assert approval.gate(conn, cfg, prog, "slot").status == "missed"
            airlog.insert(
                conn, schedule_key="emergency:1", kind="emergency", villages=["青石村"],
                scheduled_at="2026-12-02T10:00:00+08:00", started_at="2026-12-02T10:00:00+08:00",
                ended_at="2026-12-02T10:00:05+08:00", status="completed", operator="司法所",
                audience=1260, what=airlog.What(title=prog.title, programme_id=1),
            )  # fmt: skip
            sigs = approval.signatures(conn, [1, 3])
            assert sigs == {1: [], 3: []}
            assert approval.pending_text(cfg, sigs[1], "emergency") == "待补签（还需：负责人审核）"
            assert approval.pending_text(cfg, sigs[1], "slot") == "未审核（还需：负责人审核）"
    finally:
        engine.dispose()
    pending = bc("approvals", "list", "--pending").output
    assert re.search(r"^1\s+禁毒提醒\s+.*待补签（还需：负责人审核）", pending, re.M), pending
    r = bc("approve", "1", "--by", "王乡长", "--emergency", "--note", "电话指令先播出")
    assert r.exit_code == 0 and r.output.startswith(
        "已补签节目 1《禁毒提醒》：负责人审核 王乡长"
    ), r.output
    listed = bc("approvals", "list").output
    assert re.search(
        r"^1\s+禁毒提醒\s+.*已审核\s+负责人审核 王乡长（\d\d-\d\d \d\d:\d\d，补签）$", listed, re.M
    ), listed
    engine = db.open_station(cfg.database_url, "2026-12-02T10:00:00+08:00")
    try:
        with engine.connect() as conn:
            (sig,) = approval.signatures(conn, [1])[1]
            assert (sig.level, sig.approver, sig.after_air, sig.note) == (
                "负责人审核", "王乡长", True, "电话指令先播出",
            )  # fmt: skip
            assert approval.pending_text(cfg, [sig], "emergency") == ""
            assert approval.signed_text([sig]).startswith("负责人审核 王乡长（")
    finally:
        engine.dispose()


@pytest.mark.slow(3)
def test_a_play_refused_and_retried_within_the_same_second_are_two_records(air_station):
    """Refused (未审核), approved, played again — all within one second of the clock."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from broadcast.errors import PlaybackError
    from broadcast.playback import play_now

    bc = air_station
    require(bc)
    cfg = config.load(str(bc.config))
    engine = db.open_station(cfg.database_url, "2026-12-02T10:00:00+08:00")
    fixed = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    try:
        with pytest.raises(PlaybackError, match="未审核"):
            play_now(engine, cfg, "p3", None, lambda: fixed, "司法所", lambda _m: None)
        assert bc("approve", "3", "--by", "张三").exit_code == 0
        said = play_now(engine, cfg, "p3", None, lambda: fixed, "司法所", lambda _m: None)
        assert "已播完" in said
    finally:
        engine.dispose()
    rows = [(r["schedule_key"], r["status"]) for r in airings(bc)]
    key = f"play:{fixed.isoformat()}"
    assert rows == [(key, "missed"), (f"{key}#2", "completed")]


@pytest.mark.slow(5)
def test_with_approval_required_the_daemon_does_not_revoice_behind_the_staffs_back(bc, tmp_path):
    """An approved espeak programme; edge-tts answers again: with approval required the daemon
    leaves it (a re-voiced programme would need approval again and stop airing); without, it
    re-voices as before."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from edge_server import EdgeServer
    from fake_clock import Driver
    from test_daemon import add_script, configure
    from test_production import use_endpoint

    configure(bc)
    text = bc.config.read_text(encoding="utf-8")
    bc.config.write_text(
        text.replace('engines = ["espeak"]', 'engines = ["edge", "espeak"]'), "utf-8"
    )
    add_script(bc, tmp_path, "禁毒", "禁毒提醒\n远离毒品。")
    assert bc("queue", "add", "1", "--no-produce").exit_code == 0  # it may still air
    assert bc("approve", "1", "--by", "张三").exit_code == 0
    require(bc)
    with EdgeServer() as server:
        use_endpoint(bc, server.wss_url)
        start = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
        d = Driver(bc.config, start)
        try:
            d.daemon.upgrade_voices()
            d.daemon.upgrade_voices()
            said = [x for x in d.lines if "不自动用更好的语音重做节目" in x]
            assert len(said) == 1  # said once, not every interval
            listed = json.loads(bc("programmes", "list", "--json", "--all").output)
            assert [(p["id"], p["engine"], p["status"]) for p in listed] == [
                (1, "espeak", "current")
            ]
            text = bc.config.read_text(encoding="utf-8")
            bc.config.write_text(text.replace("required = true", "required = false"), "utf-8")
            d.daemon.cfg = config.load(str(bc.config))
            d.daemon.upgrade_voices()
        finally:
            d.close()
    listed = json.loads(bc("programmes", "list", "--json", "--all").output)
    assert [(p["engine"], p["status"]) for p in listed] == [
        ("espeak", "superseded"),
        ("edge", "current"),
    ]
