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


def test_version_1_database_with_rows_migrates_without_loss(tmp_path):
    """A station created by the first release (v1 schema) keeps every row after upgrading."""
    path = tmp_path / "station.db"
    engine = db.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        db.schema_migrations.create(conn)
        db.MIGRATIONS[0][2](conn)
        conn.execute(
            db.schema_migrations.insert().values(version=1, description="v1", applied_at=NOW)
        )
    engine.dispose()
    with sqlite3.connect(path) as conn:
        assert "kind" not in [r[1] for r in conn.execute("pragma table_info(scripts)")]
        conn.execute(
            "insert into scripts (title, topic, topic_source, text, sha256, source_name,"
            " source_format, encoding, chars, added_at) values"
            " ('禁毒', '禁毒', 'guess', '远离毒品', ?, 'a.txt', 'txt', 'UTF-8', 4, ?)",
            ("a" * 64, NOW),
        )
        conn.execute(
            "insert into queue_entries (script_id, position, villages, status, added_at)"
            " values (1, 1, 'all', 'active', ?)",
            (NOW,),
        )
    engine = db.open_station(f"sqlite:///{path}", NOW)
    engine.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("select title, text, kind, audio_file from scripts").fetchall() == [
            ("禁毒", "远离毒品", "text", None)
        ]
        assert conn.execute("select script_id, status from queue_entries").fetchall() == [
            (1, "active")
        ]
        assert [r[0] for r in conn.execute("select version from schema_migrations")] == [
            1,
            2,
            3,
            4,
            5,
            6,
        ]


def test_village_lists_are_stored_as_json_text(tmp_path):
    path = tmp_path / "station.db"
    engine = db.open_station(f"sqlite:///{path}", NOW)
    with engine.begin() as conn:
        conn.execute(
            db.scripts.insert().values(
                title="t", topic="普法", topic_source="default", text="正文", sha256="0" * 64,
                source_name="a.txt", source_format="txt", encoding="UTF-8", chars=2, added_at=NOW,
            )
        )  # fmt: skip
        for villages in ("all", ("青石村", "东岭村")):
            conn.execute(
                db.queue_entries.insert().values(
                    script_id=1, position=1, villages=villages, status="active", added_at=NOW
                )
            )
        read = [r.villages for r in conn.execute(db.queue_entries.select())]
    engine.dispose()
    assert read == ["all", ("青石村", "东岭村")]
    with sqlite3.connect(path) as conn:
        stored = [r[0] for r in conn.execute("select villages from queue_entries order by id")]
    assert stored == ["all", '["青石村", "东岭村"]']
