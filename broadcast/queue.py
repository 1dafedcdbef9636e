"""The queue (待播队列): which scripts air, in what order, how often, where and when.

Entries are rows of ``queue_entries``; ``position`` orders the active ones (1, 2, 3 …). A removed
entry keeps its row (status ``removed``) so airing records that point at it stay meaningful.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from .errors import QueueError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


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


def _villages_db(v: tuple[str, ...] | str) -> str:
    return "all" if v == "all" else json.dumps(list(v), ensure_ascii=False)


def _villages_py(s: str) -> tuple[str, ...] | str:
    return "all" if s == "all" else tuple(json.loads(s))


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
    m = dict(row._mapping)
    m["villages"] = _villages_py(m["villages"])
    return Entry(**m)


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

    from .db import queue_entries as q

    if times is not None and times < 1:
        raise QueueError(f"--times: 播出次数应至少为 1（得到 {times}）；不限次数时请省略 --times")
    if date_from and date_until and date_from > date_until:
        raise QueueError(f"--from {date_from} 晚于 --until {date_until}；请检查起止日期")
    last = conn.execute(select(func.max(q.c.position)).where(q.c.status == "active")).scalar()
    new_id = conn.execute(
        q.insert().values(
            script_id=script_id,
            position=(last or 0) + 1,
            times=times,
            date_from=date_from.isoformat() if date_from else None,
            date_until=date_until.isoformat() if date_until else None,
            villages=_villages_db(villages),
            status="active",
            added_at=now_iso,
        )
    ).inserted_primary_key[0]
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
