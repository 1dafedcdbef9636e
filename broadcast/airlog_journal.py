"""Airing-log writes the database refused (locked, disk full, read-only), kept and replayed.

The daemon and `broadcast play` write the airing log through one :class:`Journal`: a write the
database refuses is kept in memory and appended to a journal file beside the database, then
replayed in order before the next write and at the daemon's start, so an airing that really
played is never lost to a busy or full disk.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .airlog import What, finish_by_key, insert
from .db import describe_db_error

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


JOURNAL_NAME = ".broadcast-pending.jsonl"


KEPT = object()  # Journal.write: the database refused; the write is kept and will be replayed


class Journal:
    """Airing-log writes the database refused (locked, disk full, read-only): kept in memory and
    appended to a journal file beside the database, and replayed — in order — before the next
    write and at the daemon's start. Replaying twice is harmless: an insert of a slot and time
    that already has a row is skipped, and a finish sets the same values again."""

    def __init__(self, path: Path | None, busy_ms: int = 500):
        self.path = path
        self.busy_ms = busy_ms
        self.memory: list[dict[str, Any]] = []
        self.problem: str | None = None  # the last database trouble, for the daemon's log
        self.lock = threading.RLock()  # the airing and the reconciler write through one journal

    def _ops(self) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = []
        seen: set[str] = set()
        if self.path is not None:
            try:
                lines = self.path.read_text(encoding="utf-8").splitlines()
            except OSError:
                lines = []
            for line in lines:
                try:
                    op = json.loads(line)
                except ValueError:  # a line cut off when the disk filled
                    continue
                if op.get("uid") not in seen:
                    seen.add(op.get("uid"))
                    ops.append(op)
        ops += [op for op in self.memory if op["uid"] not in seen]
        return ops

    def pending(self) -> int:
        return len(self._ops())

    def _apply(self, engine: Engine, op: dict[str, Any]) -> Any:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(self.busy_ms)}")
            try:
                if op["op"] == "insert":
                    v = dict(op["values"])
                    v["what"] = What(**v.get("what", {}))
                    return insert(conn, **v)
                if op["op"] == "finish":
                    finish_by_key(conn, op["key"], op["at"], **op["values"])
                elif op["op"] == "stopped":
                    from .db import daemon_runs

                    conn.execute(
                        daemon_runs.update()
                        .where(daemon_runs.c.id == op["run_id"])
                        .values(last_seen=op["at"], stopped_at=op["at"])
                    )
                return None
            finally:
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA busy_timeout=10000")

    def replay(self, engine: Engine) -> int:
        """Apply the kept writes in order; return how many were applied (stops at the first refusal)."""
        with self.lock:
            return self._replay(engine)

    def _replay(self, engine: Engine) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        ops = self._ops()
        done = 0
        for op in ops:
            try:
                self._apply(engine, op)
            except SQLAlchemyError as e:
                self.problem = describe_db_error(e)
                break
            done += 1
        if done and done == len(ops):
            self.memory.clear()
            if self.path is not None:
                self.path.unlink(missing_ok=True)
            self.problem = None
        elif done:
            left = ops[done:]
            self.memory = left
            self._rewrite(left)
        return done

    def _rewrite(self, ops: list[dict[str, Any]]) -> None:
        if self.path is None:
            return
        from .files import atomic_path

        try:
            with atomic_path(self.path) as tmp:
                text = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in ops)
                tmp.write_text(text, "utf-8")
        except OSError:
            pass  # the old journal stays; replaying it again is harmless

    def _keep(self, op: dict[str, Any]) -> None:
        self.memory.append(op)
        if self.path is None:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            try:
                os.write(fd, (json.dumps(op, ensure_ascii=False) + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass  # disk full too: it stays in memory and is retried while the process runs

    def forget_last(self) -> None:
        """Take back the write just kept (`broadcast play` refuses to air what it cannot record)."""
        with self.lock:
            if self.memory:
                self.memory.pop()
                self._rewrite(self.memory)

    def write(self, engine: Engine, op: str, **fields: Any) -> Any:
        """Apply one write (``insert`` / ``finish`` / ``stopped``) after any kept ones; on a
        database refusal keep it and return :data:`KEPT`."""

        if "values" in fields and isinstance(fields["values"].get("what"), What):
            fields["values"] = {**fields["values"], "what": fields["values"]["what"].columns()}
        item = {"uid": uuid.uuid4().hex, "op": op, **fields}
        with self.lock:
            return self._write(engine, item)

    def _write(self, engine: Engine, item: dict[str, Any]) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        if self.memory or (self.path is not None and self.path.exists()):
            self._replay(engine)
        if not self.memory and not (self.path is not None and self.path.exists()):
            try:
                return self._apply(engine, item)
            except SQLAlchemyError as e:
                self.problem = describe_db_error(e)
        self._keep(item)
        return KEPT
