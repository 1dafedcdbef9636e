"""`broadcast log list`: the airing log as a table or JSON, filtered by :mod:`log_filters`
(the same check as `log export`); emergencies aired before signing show 待补签."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .airlog import KIND_LABELS, SPECIAL_KINDS

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from .config import Config

from .log_filters import parse_filters

# --- `broadcast log list` ---


def log_listing(
    engine: Engine,
    cfg: Config,
    *,
    date_from: str | None,
    date_to: str | None,
    status: str | None,
    topic: str | None,
    village: str | None,
    as_json: bool,
) -> str:
    """The airings :func:`parse_filters` lets through (the same check as `log export`)."""
    from . import airlog
    from .console import cut, table, to_json, villages_text

    f = parse_filters(
        cfg, date_from=date_from, date_to=date_to, status=status, topic=topic, village=village
    )
    with engine.connect() as conn:
        rows = airlog.query(
            conn, start=f.start, end=f.end, status=f.status, topic=f.topic, village=f.village
        )
        unsigned = _unsigned(conn, cfg, rows)
    if as_json:
        return to_json([{**a.as_dict(), "approval": unsigned.get(a.id, "")} for a in rows])
    if not rows:
        return "没有符合条件的播出记录。"
    table_rows = [
        (
            a.id,
            a.scheduled_at[5:19].replace("T", " "),
            (a.started_at or "")[11:19],
            f"{a.seconds_played / 60:.1f}",
            # emergency and relay airings are marked: they are not the station's 普法 programmes
            cut(
                (f"【{KIND_LABELS[a.kind]}】" if a.kind in SPECIAL_KINDS else "") + (a.title or ""),
                26,
            ),
            a.topic or "",
            airlog.STATUS_LABELS[a.status],
            cut(villages_text(a.villages, list(cfg.villages)), 16),
            cut("；".join(x for x in (unsigned.get(a.id), a.reason) if x), 30),
        )
        for a in rows
    ]
    return table(
        ("记录", "计划时间", "开始", "分钟", "节目", "主题", "状态", "覆盖村", "原因"), table_rows
    )


def _unsigned(conn: Connection, cfg: Config, rows: Sequence[Any]) -> dict[int, str]:
    """airing id -> '待补签（还需：…）' for emergencies aired before every level signed."""
    from . import approval

    first = [a for a in rows if a.kind in approval.AIR_FIRST_KINDS and a.programme_id]
    pending = approval.unsigned_programmes(conn, cfg, [a.programme_id for a in first])
    return {a.id: pending[a.programme_id] for a in first if a.programme_id in pending}
