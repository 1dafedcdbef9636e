"""The station database: created from nothing, migrated forward, never losing rows."""

from __future__ import annotations

import sqlite3

import pytest

from broadcast import db
from broadcast.errors import DatabaseError

NOW = "2026-11-27T08:00:00+08:00"


def test_migrates_an_empty_file_to_latest_in_wal_mode(tmp_path):
    path = tmp_path / "station.db"
    engine = db.open_station(f"sqlite:///{path}", NOW)
    engine.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("pragma journal_mode").fetchone() == ("wal",)
        versions = [r[0] for r in conn.execute("select version from schema_migrations order by 1")]
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert versions == [n for n, _, _ in db.MIGRATIONS]
    assert {"scripts", "queue_entries", "schema_migrations"} <= tables


def test_migrating_again_is_a_no_op_and_keeps_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'station.db'}"
    engine = db.open_station(url, NOW)
    with engine.begin() as conn:
        conn.execute(
            db.scripts.insert().values(
                title="t",
                topic="普法",
                topic_source="default",
                text="正文",
                sha256="0" * 64,
                source_name="a.txt",
                source_format="txt",
                encoding="UTF-8",
                chars=2,
                added_at=NOW,
            )
        )
    assert db.migrate(engine, NOW) == []
    engine.dispose()
    engine = db.open_station(url, NOW)
    with engine.connect() as conn:
        assert conn.execute(db.scripts.select()).one().title == "t"
    engine.dispose()


def test_in_memory_database():
    engine = db.open_station("sqlite://", NOW)
    with engine.connect() as conn:
        assert db.current_version(conn) == db.LATEST
    engine.dispose()


def test_database_newer_than_the_program_is_refused(tmp_path):
    path = tmp_path / "station.db"
    db.open_station(f"sqlite:///{path}", NOW).dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("insert into schema_migrations values (999, 'future', ?)", (NOW,))
    with pytest.raises(DatabaseError) as e:
        db.open_station(f"sqlite:///{path}", NOW)
    assert (
        str(e.value)
        == f"数据库结构版本 999 比本程序支持的 {db.LATEST} 新；请升级 broadcast 后再运行"
    )


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatabaseError) as e:
        db.create_engine(f"sqlite:///{tmp_path / 'nope' / 'station.db'}")
    assert str(e.value) == f"数据库文件夹不存在：{tmp_path / 'nope'}；请检查 [station] database"
