"""Bad input and a broken PC: one clear line, exit 1 (usage 2), nothing written, no traceback."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_truth import can_mount

HUGE = str(10**20)


def files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()} - {
        Path("station.db"),
        Path("station.db-wal"),
        Path("station.db-shm"),
    }


@pytest.fixture
def one_script(bc, tmp_path):
    p = tmp_path / "禁毒.txt"
    p.write_text("禁毒提醒\n远离毒品。", encoding="utf-8")
    assert bc("scripts", "add", str(p)).exit_code == 0
    return bc


@pytest.mark.parametrize(
    "args",
    [
        ("queue", "remove", HUGE),
        ("queue", "move", HUGE, "--to", "1"),
        ("queue", "move", "1", "--to", HUGE),
        ("queue", "add", "1", "--times", HUGE, "--no-produce"),
        ("scripts", "show", HUGE),
        ("programmes", "show", HUGE),
        ("produce", HUGE),
        ("schedule", "remove", HUGE),
        ("schedule", "list", "--days", HUGE),
        ("run", "--for", "nan"),
        ("run", "--for", "inf"),
        ("run", "--for", "1e300"),
    ],
)
def test_huge_numbers_are_usage_errors(one_script, args):
    bc = one_script
    before = bc.db_counts()
    r = bc(*args)
    assert r.exit_code == 2, r.output
    assert r.output.splitlines()[-1].startswith("Error: Invalid value for")
    assert bc.db_counts() == before


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("play", HUGE),
            f"Error: 找不到编号为 {HUGE} 的稿件；用 `broadcast scripts list` 查看编号",
        ),
        (
            ("play", "p" + HUGE),
            f"Error: 找不到编号为 {HUGE} 的节目；用 `broadcast programmes list` 查看编号",
        ),
        (
            ("schedule", "add", HUGE, "--at", "2099-01-01 07:00"),
            f"Error: 找不到编号为 {HUGE} 的稿件；用 `broadcast scripts list` 查看编号",
        ),
        (
            ("queue", "add", HUGE, "--no-produce"),
            f"Error: 找不到编号为 {HUGE} 的稿件；用 `broadcast scripts list` 查看编号",
        ),
        (
            ("run", "--until", "2026-02-30"),
            'Error: --until: 时间无效：2026-02-30；请写成 "2026-12-04 09:00" 或 "2026-12-04 09:00:30"',
        ),
    ],
)
def test_unknown_ids_and_dates_give_one_line(one_script, args, line):
    bc = one_script
    before = bc.db_counts()
    r = bc(*args)
    assert (r.exit_code, r.output) == (1, line + "\n")
    assert bc.db_counts() == before


def test_scripts_with_nothing_to_read_and_silent_recordings_leave_nothing(bc, tmp_path):
    assert bc("scripts", "list").exit_code == 0  # the database exists before
    (tmp_path / "p.txt").write_text("标题\n。。。！！？？，，", encoding="utf-8")
    (tmp_path / "e.txt").write_text("😀😀😀🎉🎉", encoding="utf-8")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=d=3", str(tmp_path / "s.wav")],
        check=True,
    )
    before, stored = bc.db_counts(), files(bc.folder)
    for name, line in [
        ("p.txt", "Error: p.txt: 正文没有可朗读的文字（只有标点、符号或表情）；请检查文件内容"),
        ("e.txt", "Error: e.txt: 正文没有可朗读的文字（只有标点、符号或表情）；请检查文件内容"),
        ("s.wav", "Error: s.wav: 录音听不到声音（全是静音）；请检查录音"),
    ]:
        r = bc("queue", "add", str(tmp_path / name))
        assert (r.exit_code, r.output) == (1, line + "\n")
    assert bc.db_counts() == before and files(bc.folder) == stored


def corrupt(db: Path) -> None:
    """The root pages of the tables the commands read or write and of their indexes (wherever the
    schema version put them)."""
    with sqlite3.connect(db) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = [
            r[0]
            for r in conn.execute(
                "select rootpage from sqlite_master where tbl_name in ('scripts', 'airings', 'daemon_runs')"
            )
        ]
    conn.close()
    data = bytearray(db.read_bytes())
    for page in roots:
        data[(page - 1) * size : page * size] = b"\xff" * size
    db.write_bytes(bytes(data))


def test_corrupt_database_gives_one_line(one_script):
    bc = one_script
    db = bc.folder / "station.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    corrupt(db)
    r = bc("schedule", "add", "1", "--at", "2099-01-01 07:00")
    assert r.exit_code == 1 and len(r.output.splitlines()) == 1, r.output
    assert "数据库文件已损坏" in r.output
    p = subprocess.run(
        [sys.executable, "-m", "broadcast", "--config", str(bc.config), "run", "--for", "1"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith("Error: 数据库文件已损坏")


def test_config_check_catches_what_only_this_pc_shows(bc):
    text = bc.config.read_text(encoding="utf-8")
    cases = [
        (re.sub(r"^\[villages\]", '[villages]\n"" = 5', text, flags=re.M), "村名不能为空"),
        (re.sub(r'^voice = "cmn-latn-pinyin"', 'voice = "klingon"', text, flags=re.M), "klingon"),
        (
            re.sub(r"^database = .*$", 'database = "nowhere/station.db"', text, flags=re.M),
            "数据库文件夹不存在",
        ),
    ]
    for changed, words in cases:
        bc.config.write_text(changed, encoding="utf-8")
        r = bc("config", "check")
        assert r.exit_code == 1 and words in r.output, r.output
    assert not (bc.folder / "nowhere").exists()


@pytest.mark.slow(14)
def test_twenty_parallel_queue_adds_keep_positions_unique_and_dense(one_script):
    bc = one_script
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "broadcast", "--config", str(bc.config)]
            + ["queue", "add", "1", "--no-produce"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(20)
    ]
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read()
    with sqlite3.connect(bc.folder / "station.db") as conn:
        positions = sorted(
            r[0] for r in conn.execute("select position from queue_entries where status='active'")
        )
    assert positions == list(range(1, 21))


@pytest.fixture
def full_station(bc, tmp_path_factory):
    """The station folder on a real 16 MB tmpfs; `fill(leave)` fills it up to ``leave`` bytes."""
    why = can_mount()
    if why:
        pytest.skip(why)
    mnt = tmp_path_factory.mktemp("disk")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], check=True)
    subprocess.run(["cp", "-a", f"{bc.folder}/.", str(mnt)], check=False)

    def fill(leave: int = 0) -> None:
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
        os.close(fd)

    from conftest import Broadcast

    yield Broadcast(mnt), fill
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.slow(4)
def test_full_disk_gives_one_line_and_writes_nothing(full_station, tmp_path):
    bc, fill = full_station
    text = bc.config.read_text(encoding="utf-8")
    bc.config.write_text(
        re.sub(r"^engines = .*$", 'engines = ["espeak"]', text, flags=re.M), encoding="utf-8"
    )
    (tmp_path / "a.txt").write_text("禁毒提醒\n远离毒品，珍爱生命。", encoding="utf-8")
    assert bc("queue", "add", str(tmp_path / "a.txt")).exit_code == 0
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=30", "-ac", "2"]
        + ["-ar", "48000", str(tmp_path / "rec.wav")],
        check=True,
    )
    fill(leave=64 * 1024)
    before, stored = bc.db_counts(), files(bc.folder)
    for args in (
        ("queue", "add", str(tmp_path / "rec.wav"), "--title", "录音"),
        ("produce", "--force", "1"),
    ):
        r = bc(*args)
        assert r.exit_code == 1, r.output
        assert r.output.splitlines()[-1].startswith("Error: "), r.output
        assert "Traceback" not in r.output
        assert bc.db_counts() == before
        assert {p for p in files(bc.folder) - stored if ".part" in p.name} == set()


def test_the_next_produce_cleans_what_a_killed_one_left(one_script):
    bc = one_script
    text = bc.config.read_text(encoding="utf-8")
    bc.config.write_text(
        re.sub(r"^engines = .*$", 'engines = ["espeak"]', text, flags=re.M), encoding="utf-8"
    )
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = bc.folder / ".broadcast-tmp" / str(dead.pid) / "broadcast-mix-x"
    left.mkdir(parents=True)
    (left / "voice.wav").write_bytes(b"\0" * 1000)
    programmes = bc.folder / "audio" / "programmes"
    programmes.mkdir(parents=True, exist_ok=True)
    (programmes / ".broadcast-abc.part.mp3").write_bytes(b"x")
    (programmes / "s0001-x.srt.part").write_bytes(b"x")
    r = bc("produce", "1")
    assert r.exit_code == 0, r.output
    assert not (bc.folder / ".broadcast-tmp").exists()
    assert [p.name for p in programmes.iterdir() if "part" in p.name] == []


def test_read_only_database_gives_one_line_and_plays_nothing(one_script, tmp_path_factory):
    why = can_mount()
    if why:
        pytest.skip(why)
    bc = one_script
    ro = tmp_path_factory.mktemp("ro")
    subprocess.run(["mount", "--bind", str(bc.folder), str(ro)], check=True)
    try:
        p = subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], capture_output=True)
        if p.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {p.stderr.decode().strip()}")
        from conftest import Broadcast

        ro_bc = Broadcast(ro)
        r = ro_bc("schedule", "add", "1", "--at", "2099-01-01 07:00")
        assert r.exit_code == 1 and len(r.output.splitlines()) == 1, r.output
        assert r.output.startswith("Error: ") and "SELECT" not in r.output, r.output
        p = subprocess.run(
            [sys.executable, "-m", "broadcast", "--config", str(ro_bc.config), "run", "--for", "1"],
            capture_output=True,
            text=True,
        )
        assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)


def test_schedule_add_and_play_on_a_full_disk(full_station, tmp_path):
    bc, fill = full_station
    text = bc.config.read_text(encoding="utf-8")
    bc.config.write_text(
        re.sub(r"^engines = .*$", 'engines = ["espeak"]', text, flags=re.M), encoding="utf-8"
    )
    (tmp_path / "a.txt").write_text("禁毒提醒\n远离毒品，珍爱生命。", encoding="utf-8")
    assert bc("queue", "add", str(tmp_path / "a.txt")).exit_code == 0
    before = bc.db_counts()
    fill()
    for args in (("schedule", "add", "1", "--at", "2099-01-01 07:00"), ("play", "1")):
        r = bc(*args)
        assert r.exit_code == 1 and len(r.output.splitlines()) == 1, r.output
        assert r.output.startswith("Error: ") and "Traceback" not in r.output
    (bc.folder / "filler").unlink()
    assert bc.db_counts() == before
