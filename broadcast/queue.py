"""The queue (待播队列): which scripts air, in what order, how often, where and when.

Entries are rows of ``queue_entries``; ``position`` orders the active ones (1, 2, 3 …). A removed
entry keeps its row (status ``removed``) so airing records that point at it stay meaningful.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import QueueError

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.engine import Connection, Engine

    from .config import Config


@dataclass(frozen=True)
class Entry:
    id: int
    position: int
    script_id: int
    title: str
    topic: str
    times: int | None
    date_from: str | None
    date_until: str | None
    villages: tuple[str, ...] | str  # "all" or names
    status: str
    added_at: str
    completed: int = 0  # completed airings so far

    @property
    def remaining(self) -> int | None:
        """Airings still to go (``--times`` less completed airings); None means no limit."""
        return None if self.times is None else max(0, self.times - self.completed)

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["villages"] = self.villages if self.villages == "all" else list(self.villages)
        d["remaining"] = self.remaining
        return d


def read_date(value: str) -> date | None:
    """'2026-12-04', '2026/12/4', '2026.12.4' or '2026年12月4日' -> date; None if it is not one."""
    import re

    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", value.strip())
    try:
        return date(int(m[1]), int(m[2]), int(m[3])) if m else None
    except ValueError:
        return None


def parse_date(value: str, option: str) -> date:
    """A date option; QueueError naming the option otherwise."""
    day = read_date(value)
    if day is None:
        raise QueueError(f"{option}: 日期无效：{value}；请写成 2026-12-04 的格式")
    return day


def parse_villages(value: str | None, known: dict[str, int]) -> tuple[str, ...] | str:
    """'all' / None -> 'all'; '大村,东村' (also ，、 separated) -> checked names."""
    import re

    from .console import did_you_mean

    if value is None or value.strip().lower() in ("all", "全部", ""):
        return "all"
    names = tuple(dict.fromkeys(n.strip() for n in re.split(r"[,，、\s]+", value) if n.strip()))
    for n in names:
        if n not in known:
            raise QueueError(
                f"--villages: 未知的村：{n}{did_you_mean(n, known)}；已配置的村：{'、'.join(known)}"
            )
    return names


def parse_targets(
    villages: str | None,
    zones: str | None,
    known: dict[str, int],
    zone_map: dict[str, tuple[str, ...]],
) -> tuple[str, ...] | str:
    """--villages and --zones together -> 'all' or the villages they cover, in config order."""
    import re

    from .console import did_you_mean

    chosen = parse_villages(villages, known)
    if zones is None or not zones.strip():
        return chosen
    names = tuple(dict.fromkeys(n.strip() for n in re.split(r"[,，、\s]+", zones) if n.strip()))
    for n in names:
        if n not in zone_map:
            listed = (
                f"已配置的分区：{'、'.join(zone_map)}" if zone_map else "请先在 [zones] 中定义分区"
            )
            raise QueueError(f"--zones: 未知的分区：{n}{did_you_mean(n, zone_map)}；{listed}")
    wanted = {v for n in names for v in zone_map[n]}
    if villages is not None and chosen != "all":
        wanted |= set(chosen)
    return tuple(v for v in known if v in wanted)


def _select():
    from sqlalchemy import func, select

    from .db import airings as a
    from .db import queue_entries as q
    from .db import scripts as s

    completed = (
        select(func.count())
        .where(a.c.queue_entry_id == q.c.id, a.c.status == "completed")
        .scalar_subquery()
        .label("completed")
    )
    return select(
        q.c.id,
        q.c.position,
        q.c.script_id,
        s.c.title,
        s.c.topic,
        q.c.times,
        q.c.date_from,
        q.c.date_until,
        q.c.villages,
        q.c.status,
        q.c.added_at,
        completed,
    ).join(s, s.c.id == q.c.script_id)


def _entry(row: Any) -> Entry:
    return Entry(**row._mapping)


def entries(conn: Connection, include_removed: bool = False) -> list[Entry]:
    from .db import queue_entries as q

    stmt = _select()
    if not include_removed:
        stmt = stmt.where(q.c.status == "active")
    stmt = stmt.order_by((q.c.status != "active"), q.c.position, q.c.id)
    return [_entry(r) for r in conn.execute(stmt)]


def get(conn: Connection, entry_id: int) -> Entry:
    from .db import queue_entries as q

    row = conn.execute(_select().where(q.c.id == entry_id)).first()
    if row is None:
        raise QueueError(f"找不到编号为 {entry_id} 的待播条目；用 `broadcast queue list` 查看编号")
    return _entry(row)


def add(
    conn: Connection,
    script_id: int,
    *,
    now_iso: str,
    times: int | None = None,
    date_from: date | None = None,
    date_until: date | None = None,
    villages: tuple[str, ...] | str = "all",
) -> Entry:
    """Append a script to the end of the queue."""
    from sqlalchemy import func, select

    from .db import inserted_id
    from .db import queue_entries as q

    if times is not None and times < 1:
        raise QueueError(f"--times: 播出次数应至少为 1（得到 {times}）；不限次数时请省略 --times")
    if date_from and date_until and date_from > date_until:
        raise QueueError(f"--from {date_from} 晚于 --until {date_until}；请检查起止日期")
    # one statement reads the last position and writes the next: two `queue add` at once
    # cannot both take the same place (a separate SELECT runs outside SQLite's write lock)
    last = select(func.coalesce(func.max(q.c.position), 0) + 1).where(q.c.status == "active")
    new_id = inserted_id(
        conn.execute(
            q.insert().values(
                script_id=script_id,
                position=last.scalar_subquery(),
                times=times,
                date_from=date_from.isoformat() if date_from else None,
                date_until=date_until.isoformat() if date_until else None,
                villages=villages,
                status="active",
                added_at=now_iso,
            )
        )
    )
    return get(conn, new_id)


def _renumber(conn: Connection, ordered_ids: list[int]) -> None:
    from .db import queue_entries as q

    for pos, entry_id in enumerate(ordered_ids, 1):
        conn.execute(q.update().where(q.c.id == entry_id).values(position=pos))


def remove(conn: Connection, entry_id: int, *, now_iso: str) -> Entry:
    """Take an entry out of the queue (its row stays, marked removed)."""
    from .db import queue_entries as q

    entry = get(conn, entry_id)
    if entry.status != "active":
        raise QueueError(f"待播条目 {entry_id} 已经移除")
    conn.execute(q.update().where(q.c.id == entry_id).values(status="removed", removed_at=now_iso))
    _renumber(conn, [e.id for e in entries(conn)])
    return get(conn, entry_id)


def move(conn: Connection, entry_id: int, to: int) -> list[Entry]:
    """Move an active entry to position ``to`` (1 = next to air); return the new order."""
    active = entries(conn)
    ids = [e.id for e in active]
    if entry_id not in ids:
        get(conn, entry_id)  # raises for an unknown id
        raise QueueError(f"待播条目 {entry_id} 已经移除，不能调整顺序")
    if not 1 <= to <= len(ids):
        raise QueueError(f"--to: 位置应在 1 到 {len(ids)} 之间（得到 {to}）")
    ids.remove(entry_id)
    ids.insert(to - 1, entry_id)
    _renumber(conn, ids)
    return entries(conn)


# --- `broadcast queue`: validate everything, then write in one transaction ---


@dataclass(frozen=True)
class QueueRequest:
    """What `queue add` was asked: files or script ids, and the entry's options."""

    items: Sequence[str]
    topic: str | None = None
    title: str | None = None
    times: int | None = None
    date_from: str | None = None
    date_until: str | None = None
    villages: str | None = None
    zones: str | None = None


def _is_script_id(item: str) -> bool:
    return item.isdigit() and not Path(item).exists()


def add_items(
    engine: Engine, cfg: Config, req: QueueRequest, now: datetime
) -> tuple[list[str], list[int]]:
    """Import files as needed and append each item to the queue; all or nothing.

    Returns the lines to print and the ids of the queued scripts (to produce next)."""
    from . import script_library, scripts
    from .console import villages_text

    date_from = parse_date(req.date_from, "--from") if req.date_from else None
    date_until = parse_date(req.date_until, "--until") if req.date_until else None
    villages = parse_targets(req.villages, req.zones, cfg.villages, cfg.zones)
    if req.topic:
        scripts.check_topic(req.topic, cfg.station.topics)
    files = {
        i: scripts.read(Path(i), cfg.scripts.max_bytes) for i in req.items if not _is_script_id(i)
    }
    lines: list[str] = []
    ids: list[int] = []
    with engine.begin() as conn:
        for item in req.items:
            if item in files:
                added = script_library.add(
                    conn,
                    files[item],
                    now_iso=now.isoformat(),
                    topics=cfg.station.topics,
                    topic=req.topic,
                    title=req.title,
                    recordings=cfg.audio.recordings,
                )
                lines.append(script_library.added_line(added))
                script = added.script
            else:
                script = script_library.get(conn, int(item))
            ids.append(script.id)
            entry = add(
                conn,
                script.id,
                now_iso=now.isoformat(),
                times=req.times,
                date_from=date_from,
                date_until=date_until,
                villages=villages,
            )
            lines.append(
                f"已加入待播队列：第 {entry.position} 位（条目 {entry.id}）《{entry.title}》，"
                f"{_times(entry.times)}，{_dates(entry)}，覆盖{villages_text(entry.villages)}"
            )
    return lines, list(dict.fromkeys(ids))


def _times(times: int | None) -> str:
    return "不限次数" if times is None else f"播出 {times} 次"


def _dates(e: Entry) -> str:
    if not e.date_from and not e.date_until:
        return "长期"
    return f"{e.date_from or '即日'} 至 {e.date_until or '长期'}"


_STATUS = {"active": "待播", "removed": "已移除", "done": "已播完"}


def listing(engine: Engine, as_json: bool, include_removed: bool = False) -> str:
    """`broadcast queue list`: a table, or JSON."""
    from .console import cut, table, to_json, villages_text

    with engine.connect() as conn:
        items = entries(conn, include_removed)
    if as_json:
        return to_json([e.as_dict() for e in items])
    if not items:
        return "待播队列是空的。用 `broadcast queue add 文件或稿件编号` 加入。"
    rows = [
        (
            e.position if e.status == "active" else "-",
            e.id,
            cut(e.title, 30),
            e.topic,
            "不限" if e.remaining is None else e.remaining,
            _dates(e),
            cut(villages_text(e.villages), 24),
            _STATUS["done" if e.status == "active" and e.remaining == 0 else e.status],
        )
        for e in items
    ]
    return table(("顺序", "条目", "稿件", "主题", "剩余次数", "日期", "覆盖村", "状态"), rows)


def remove_entry(engine: Engine, entry_id: int, now: datetime) -> str:
    """`broadcast queue remove`."""
    with engine.begin() as conn:
        e = remove(conn, entry_id, now_iso=now.isoformat())
    return f"已从待播队列移除条目 {e.id}《{e.title}》（播出记录保留）"


def move_entry(engine: Engine, entry_id: int, to: int) -> str:
    """`broadcast queue move`."""
    with engine.begin() as conn:
        order = move(conn, entry_id, to)
    moved = next(e for e in order if e.id == entry_id)
    return f"条目 {entry_id}《{moved.title}》已移到第 {moved.position} 位"
