"""The tamper-evident airing log: every kind of tampering made with plain sqlite3 on the station
file is found and named by `broadcast log verify`; normal writes (progress, finalisation, a
journal replayed once or twice) pass; the daily digest catches a rewritten tail; the migration
chains the rows a station already had; the daemon writes the digest after midnight."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broadcast import airlog, airlog_journal, chain, db

TZ = ZoneInfo("Asia/Shanghai")
NOW = "2026-12-01T06:00:00+08:00"  # when the station database was created (the chain began)
SINCE = "；自 2026-12-01 06:00 起的记录受校验链保护"


def t(hms: str, day: str = "2026-12-01") -> str:
    return f"{day}T{hms}+08:00"


def fill(engine) -> None:
    """Four airings, six events: completed (with progress), missed, failed, on air."""
    common = dict(operator="司法所", villages=["青石村", "东岭村"], kind="slot")
    what = airlog.What(title="禁毒提醒", topic="禁毒")
    with engine.begin() as c:
        a1 = airlog.insert(
            c, schedule_key="slot:07:00#1", scheduled_at=t("07:00:00"), status="started",
            audience=2000, started_at=t("07:00:01"), what=what, **common,
        )  # fmt: skip
        airlog.progress(c, a1, 10.0)
        airlog.finish(c, a1, status="completed", ended_at=t("07:03:00"), seconds_played=179.0)
        airlog.insert(
            c, schedule_key="slot:12:00#1", scheduled_at=t("12:00:00"), status="missed",
            audience=0, reason="广播程序未运行（停电、关机或程序未启动）", **common,
        )  # fmt: skip
        airlog.insert(
            c, schedule_key="slot:18:30#1", scheduled_at=t("18:30:00"), status="started",
            audience=2000, started_at=t("18:30:00"), what=what, **common,
        )  # fmt: skip
        airlog.finish_by_key(
            c, "slot:18:30#1", t("18:30:00"), status="failed", ended_at=t("18:30:02"),
            seconds_played=1.5, reason="播放程序提前退出",
        )  # fmt: skip
        a4 = airlog.insert(
            c, schedule_key="play:x", scheduled_at=t("20:00:00"), status="started",
            audience=2000, started_at=t("20:00:00"), what=what, **common,
        )  # fmt: skip
        airlog.progress(c, a4, 4.0)


@pytest.fixture
def logged(bc):
    engine = db.open_station(f"sqlite:///{bc.folder / 'station.db'}", NOW)
    fill(engine)
    engine.dispose()
    return bc


def sql(bc, *statements: str) -> None:
    """Plain sqlite3 on the station file, as someone with a SQLite browser would."""
    conn = sqlite3.connect(bc.folder / "station.db")
    with conn:
        for s in statements:
            conn.execute(s)
    conn.close()


def head(bc) -> str:
    conn = sqlite3.connect(bc.folder / "station.db")
    h = conn.execute("select hash from airing_events order by seq desc limit 1").fetchone()[0]
    conn.close()
    return h


def verify(bc, *args: str) -> tuple[int, str]:
    r = bc("log", "verify", *args)
    return r.exit_code, r.output.strip()


def test_normal_writes_pass_with_count_and_head(logged):
    code, line = verify(logged)
    assert (code, line) == (
        0,
        f"校验通过（PASS）：6 条播出事件、4 条播出记录，链头 {head(logged)}{SINCE}",
    )
    # the airing still on air writes progress: not an event, not tampering
    sql(logged, "update airings set seconds_played = 6.0 where id = 4")
    assert verify(logged)[0] == 0


def test_finalising_the_row_on_air_adds_one_event_and_passes(logged):
    engine = db.open_station(f"sqlite:///{logged.folder / 'station.db'}", NOW)
    with engine.begin() as c:
        airlog.finish(c, 4, status="completed", ended_at=t("20:03:00"), seconds_played=180.0)
    engine.dispose()
    code, line = verify(logged)
    assert code == 0 and line.startswith("校验通过（PASS）：7 条播出事件、4 条播出记录"), line


@pytest.mark.parametrize(
    ("statements", "named"),
    [
        (
            ["update airings set status = 'completed', reason = null where id = 3"],
            "播出记录 3 被改动（status 原为“failed”，现为“completed”；"
            "reason 原为“播放程序提前退出”，现为空），与第 5 号播出事件不符",
        ),
        (
            ["update airings set seconds_played = 1790.0 where id = 1"],
            "播出记录 1 被改动（seconds_played 原为179.0，现为1790.0），与第 2 号播出事件不符",
        ),
        (
            ["update airings set villages = '[\"青石村\"]' where id = 1"],
            '播出记录 1 被改动（villages 原为“["青石村", "东岭村"]”，现为“["青石村"]”），'
            "与第 2 号播出事件不符",
        ),
        (["delete from airings where id = 2"], "播出记录 2 被删除（第 3 号播出事件记有它）"),
        (
            [
                "insert into airings (schedule_key, kind, villages, scheduled_at, started_at,"
                " ended_at, seconds_played, status, operator, audience, title) values"
                " ('slot:09:00#1', 'slot', '[\"青石村\"]', '2026-12-01T09:00:00+08:00',"
                " '2026-12-01T09:00:00+08:00', '2026-12-01T09:03:00+08:00', 180, 'completed',"
                " '司法所', 1260, '伪造')"
            ],
            "播出记录 5 不在校验链中：被直接插入（伪造）",
        ),
        (["delete from airing_events where seq = 3"], "第 3 号播出事件缺失（被删除或重新编号）"),
        (
            ["update airing_events set seq = 100 where seq = 4"],
            "第 4 号播出事件缺失（被删除或重新编号）",
        ),
        (  # two events swapped by renumbering
            [
                "update airing_events set seq = -1 where seq = 2",
                "update airing_events set seq = 2 where seq = 3",
                "update airing_events set seq = 3 where seq = -1",
            ],
            "第 2 号播出事件（播出记录 2）被改动：与其校验值不符",
        ),
        (
            [
                "update airing_events set payload = replace(payload, '179.0', '1790.0') where seq = 2"
            ],
            "第 2 号播出事件（播出记录 1）被改动：与其校验值不符",
        ),
        (
            ["update airing_events set at = '2026-11-30T07:00:00+08:00' where seq = 1"],
            "第 1 号播出事件（播出记录 1）被改动：与其校验值不符",
        ),
    ],
    ids=[
        "row-status",
        "row-seconds",
        "row-villages",
        "row-deleted",
        "row-inserted",
        "event-deleted",
        "event-renumbered",
        "events-swapped",
        "event-payload",
        "event-time",
    ],
)
def test_each_kind_of_tampering_is_named(logged, statements, named):
    before = head(logged)
    sql(logged, *statements)
    code, line = verify(logged)
    assert code == 1
    assert line.startswith(f"校验失败（FAIL）：{named}"), line
    assert line.endswith(SINCE)
    assert before  # the head written before tampering existed


def test_renumbered_row_and_dropped_chain_are_named(logged):
    sql(logged, "update airings set id = 100 where id = 4")
    code, line = verify(logged)
    assert code == 1 and line.startswith(
        "校验失败（FAIL）：播出记录 4 被删除（第 6 号播出事件记有它）；另有 1 处问题"
    ), line
    sql(logged, "drop table airing_events")
    assert verify(logged) == (1, "校验失败（FAIL）：播出事件表 airing_events 不存在（被删除）")


def test_an_event_rewritten_with_a_fresh_hash_breaks_the_link_to_the_next(logged):
    """Someone who knows the algorithm edits event 2 and recomputes its hash: event 3 no
    longer follows it."""
    conn = sqlite3.connect(logged.folder / "station.db")
    seq, kind, aid, at, payload, prev = conn.execute(
        "select seq, kind, airing_id, at, payload, prev_hash from airing_events where seq = 2"
    ).fetchone()
    payload = payload.replace("179.0", "1790.0")
    with conn:
        conn.execute(
            "update airing_events set payload = ?, hash = ? where seq = 2",
            (payload, chain.event_hash(seq, kind, aid, at, payload, prev)),
        )
        conn.execute("update airings set seconds_played = 1790.0 where id = 1")
    conn.close()
    code, line = verify(logged)
    assert code == 1
    assert line.startswith(
        "校验失败（FAIL）：第 3 号播出事件（播出记录 2）与前一事件接不上："
        "事件被插入、删除或调换了顺序"
    ), line


def test_digest_written_once_and_checked(logged):
    r = logged("log", "digest", "--date", "2026-12-01")
    h = head(logged)
    line = f"2026-12-01  截至当日共 6 条播出事件  链头 {h}"
    assert r.exit_code == 0 and r.output == f"已写入每日摘要 airlog-digest.txt：{line}\n"
    r = logged("log", "digest", "--date", "2026-12-01")  # append-only: never twice
    assert r.output == f"airlog-digest.txt 中已有这一天的摘要（不重复写入）：{line}\n"
    digest = logged.folder / "airlog-digest.txt"
    assert digest.read_text(encoding="utf-8") == line + "\n"
    code, out = verify(logged, "--digest", str(digest))
    assert code == 0 and out.endswith(f"{SINCE}；与摘要文件 airlog-digest.txt 的 1 行一致"), out


def test_digest_catches_a_rewritten_tail_the_chain_alone_cannot(logged):
    """The last event rewritten with a fresh hash, and its row to match: the chain is
    consistent again; only the digest printed before shows it."""
    digest = logged.folder / "airlog-digest.txt"
    assert logged("log", "digest", "--date", "2026-12-01").exit_code == 0
    old = head(logged)
    conn = sqlite3.connect(logged.folder / "station.db")
    seq, kind, aid, at, payload, prev = conn.execute(
        "select seq, kind, airing_id, at, payload, prev_hash from airing_events where seq = 6"
    ).fetchone()
    payload = payload.replace('"audience":2000', '"audience":20000')
    with conn:
        conn.execute(
            "update airing_events set payload = ?, hash = ? where seq = 6",
            (payload, chain.event_hash(seq, kind, aid, at, payload, prev)),
        )
        conn.execute("update airings set audience = 20000 where id = 4")
    conn.close()
    assert verify(logged)[0] == 0  # undetectable without the paper
    code, line = verify(logged, "--digest", str(digest))
    assert (code, line) == (
        1,
        f"校验失败（FAIL）：与每日摘要不符：2026-12-01 的摘要记为 6 条事件、链头 {old[:16]}…，"
        f"数据库中的第 6 号事件的校验值不同{SINCE}",
    )


def test_digest_catches_deleted_tail_events_and_rows(logged):
    digest = logged.folder / "airlog-digest.txt"
    assert logged("log", "digest", "--date", "2026-12-01").exit_code == 0
    sql(logged, "delete from airing_events where seq = 6", "delete from airings where id = 4")
    assert verify(logged)[0] == 0
    code, line = verify(logged, "--digest", str(digest))
    assert code == 1
    assert "与每日摘要不符：2026-12-01 的摘要记为 6 条事件" in line
    assert "数据库中的第 6 号事件不存在" in line


def test_digest_bad_input_one_line(logged, tmp_path):
    r = logged("log", "digest", "--date", "2099-01-01")
    assert r.exit_code == 1
    assert r.output == "Error: --date: 2099-01-01 还没有过完；每日摘要只能为今天以前的日期生成\n"
    r = logged("log", "digest", "--date", "12月1日")
    assert (r.exit_code, r.output) == (1, "Error: --date: 无效的日期 12月1日；应如 2026-12-01\n")
    bad = tmp_path / "digest.txt"
    bad.write_text("2026-12-01 六条\n", encoding="utf-8")
    r = logged("log", "verify", "--digest", str(bad))
    assert r.exit_code == 1
    assert r.output.startswith(f"Error: {bad}: 第 1 行不是每日摘要")
    r = logged("log", "verify", "--digest", str(tmp_path / "nope.txt"))
    assert (r.exit_code, r.output) == (
        1,
        f"Error: --digest: 找不到摘要文件 {tmp_path / 'nope.txt'}\n",
    )
    assert not (logged.folder / "airlog-digest.txt").exists()


def test_journal_replayed_finalisation_passes_and_replaying_twice_adds_nothing(logged):
    """The finish of an airing kept while another program held the database, replayed later
    (twice: the journal may be replayed again after a crash) — one event, and the log passes."""
    path = logged.folder / "station.db"
    engine = db.open_station(f"sqlite:///{path}", NOW)
    journal = airlog_journal.Journal(path.parent / airlog_journal.JOURNAL_NAME, busy_ms=100)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        kept = journal.write(
            engine, "finish", key="play:x", at=t("20:00:00"),
            values=dict(status="completed", ended_at=t("20:03:00"), seconds_played=180.0),
        )  # fmt: skip
        assert kept is airlog_journal.KEPT
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    saved = journal.path.read_text(encoding="utf-8")
    assert journal.replay(engine) == 1
    journal.path.write_text(saved, encoding="utf-8")  # the same journal once more
    assert airlog_journal.Journal(journal.path).replay(engine) == 1
    engine.dispose()
    code, line = verify(logged)
    assert code == 0 and line.startswith("校验通过（PASS）：7 条播出事件、4 条播出记录"), line


def test_migration_chains_the_rows_a_station_already_had(station, bc):
    """A v5 station with airings: after the upgrade every row is chained, and `log verify`
    says from when the chain protects the records."""
    path = station / "station.db"
    engine = db.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        db.schema_migrations.create(conn)
        for number, description, step in db.MIGRATIONS:
            if number <= 5:
                step(conn)
                conn.execute(
                    db.schema_migrations.insert().values(
                        version=number, description=description, applied_at=NOW
                    )
                )
    engine.dispose()
    sql(
        bc,
        "insert into airings (schedule_key, kind, villages, scheduled_at, status, operator,"
        " audience, seconds_played) values ('slot:07:00#1', 'slot', '[\"青石村\"]',"
        " '2026-11-30T07:00:00+08:00', 'completed', '司法所', 1260, 180.0)",
        "insert into airings (schedule_key, kind, villages, scheduled_at, status, operator,"
        " audience, seconds_played) values ('slot:12:00#1', 'slot', '[\"青石村\"]',"
        " '2026-11-30T12:00:00+08:00', 'missed', '司法所', 0, 0)",
    )
    upgraded = "2026-12-02T09:30:00+08:00"
    db.open_station(f"sqlite:///{path}", upgraded).dispose()
    code, line = verify(bc)
    assert (code, line) == (
        0,
        f"校验通过（PASS）：2 条播出事件、2 条播出记录，链头 {head(bc)}；"
        "自 2026-12-02 09:30 起的记录受校验链保护（此前的 2 条播出记录按升级时的内容入链）",
    )
    sql(bc, "update airings set audience = 9999 where id = 1")
    code, line = verify(bc)
    assert code == 1 and line.startswith(
        "校验失败（FAIL）：播出记录 1 被改动（audience 原为1260，现为9999），与第 1 号播出事件不符"
    )


def test_daemon_writes_the_previous_days_digest_after_midnight(station):
    """The real Daemon on a fake clock, started just before midnight: once the day turns, the
    previous day's line is appended (once), and it verifies."""
    from fake_clock import Driver

    start = datetime(2026, 12, 1, 23, 59, 57, tzinfo=TZ)
    d = Driver(station / "config.toml", start)
    try:
        fill(d.engine)
        d.start()
        d.run_for(2)
        digest = station / "airlog-digest.txt"
        assert "2026-12-01" not in (digest.read_text("utf-8") if digest.exists() else "")
        d.run_for(5)
        lines = digest.read_text(encoding="utf-8").splitlines()
        # six events of fill(), and the airing left on air marked interrupted at start-up
        assert lines[-1].startswith("2026-12-01  截至当日共 7 条播出事件  链头 ")
        d.run_for(3)
        assert digest.read_text(encoding="utf-8").splitlines() == lines
        assert any(x.startswith("已写入每日摘要 airlog-digest.txt：2026-12-01") for x in d.lines)
    finally:
        d.close()
    from conftest import Broadcast

    code, line = verify(Broadcast(station), "--digest", str(digest))
    assert code == 0, line


def test_a_started_row_may_only_change_seconds_played_without_an_event(logged):
    sql(logged, "update airings set operator = 'auto' where id = 4")
    code, line = verify(logged)
    assert code == 1
    assert line.startswith(
        "校验失败（FAIL）：播出记录 4 被改动（operator 原为“司法所”，现为“auto”），"
        "与第 6 号播出事件不符"
    )


def test_canonical_fields_name_every_airings_column():
    """A column added to airings without adding it to chain.FIELDS would go unprotected."""
    assert set(chain.FIELDS) == {c.name for c in db.airings.columns}


def test_digest_path_is_in_the_station_folder(bc):
    from broadcast import config

    cfg = config.load(str(bc.config))
    assert chain.digest_path(cfg) == Path(bc.folder) / "airlog-digest.txt"


def test_digest_in_a_folder_that_cannot_be_written_is_one_line(logged):
    import os

    if os.geteuid() == 0:
        link = logged.folder / "airlog-digest.txt"
        link.symlink_to(logged.folder / "elsewhere.txt")  # root ignores permissions: a symlink
        r = logged("log", "digest", "--date", "2026-12-01")
        assert (r.exit_code, r.output) == (
            1,
            f"Error: 无法写每日摘要文件 {link}（Too many levels of symbolic links）；它不能是符号链接\n",
        )
        assert not (logged.folder / "elsewhere.txt").exists()
        return
    os.chmod(logged.folder, 0o555)
    try:
        r = logged("log", "digest", "--date", "2026-12-01")
    finally:
        os.chmod(logged.folder, 0o755)
    assert r.exit_code == 1
    assert r.output.startswith(f"Error: 无法写每日摘要文件 {logged.folder / 'airlog-digest.txt'}（")
    assert r.output.endswith("；请检查站点文件夹的写权限和磁盘空间\n")
