"""Approval (审核) bound to the audio that airs: `broadcast approve`, `approvals list`, the air gate.

An approval row binds a programme id, the sha256 of its audio file as it was when signed, its
spoken-text hash (``programmes.text_hash``), the level (``[approval] levels``, signed in order),
who signed, a note and when. Re-producing a script makes a new programme row, which needs its own
signatures. At air time :func:`gate` decides: a file that no longer matches its approved sha256 is
refused (``failed``, whatever ``required`` says); with ``[approval] required = true`` an
unapproved programme does not air (``missed``, "未审核（…）") — except the kinds in
:data:`AIR_FIRST_KINDS` (emergencies: "先播出，后补签字"), which air and stay "待补签" until signed
with ``approve --emergency``.

Nothing here reads the clock: ``now`` is passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ApprovalError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from .config import Config
    from .programmes import Programme

#: airing kinds that air first and are signed afterwards (紧急情况可先播出，后补签字)
AIR_FIRST_KINDS = ("emergency",)
AIRED = ("started", "completed", "interrupted", "failed")  # statuses of an airing that began


@dataclass(frozen=True)
class Signature:
    programme_id: int
    level: str
    approver: str
    at: str
    note: str | None
    after_air: bool  # 补签: signed after an emergency airing
    audio_sha256: str
    text_hash: str

    def text(self) -> str:
        when = self.at[5:16].replace("T", " ")
        return f"{self.level} {self.approver}（{when}{'，补签' if self.after_air else ''}）"


@dataclass(frozen=True)
class Gate:
    """What :func:`gate` says: ``status``/``reason`` of an airing that must not go ahead (None:
    it may air), and a ``note`` for the log when it airs unsigned (待补签)."""

    status: str | None = None
    reason: str | None = None
    note: str | None = None


def file_sha256(path: str | Path) -> str | None:
    """sha256 of a file, None when it is missing or unreadable."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def signatures(conn: Connection, programme_ids: Iterable[int]) -> dict[int, list[Signature]]:
    """Per programme, its signatures in the order they were given (empty list: none)."""
    from sqlalchemy import select

    from .db import approvals as a

    ids = sorted({int(i) for i in programme_ids if i is not None})
    out: dict[int, list[Signature]] = {i: [] for i in ids}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        rows = conn.execute(select(a).where(a.c.programme_id.in_(chunk)).order_by(a.c.id))
        for r in rows:
            out[r.programme_id].append(
                Signature(
                    programme_id=r.programme_id,
                    level=r.level,
                    approver=r.approver,
                    at=r.at,
                    note=r.note,
                    after_air=bool(r.after_air),
                    audio_sha256=r.audio_sha256,
                    text_hash=r.text_hash,
                )
            )
    return out


def missing_levels(cfg: Config, sigs: Sequence[Signature]) -> list[str]:
    signed = {s.level for s in sigs}
    return [lv for lv in cfg.approval.levels if lv not in signed]


def signed_text(sigs: Sequence[Signature]) -> str:
    """'初审 张三（12-02 10:00）；复审 李四（12-02 11:00）' — for the ledger's 审核人 column."""
    return "；".join(s.text() for s in sigs)


def pending_text(cfg: Config, sigs: Sequence[Signature], kind: str | None = None) -> str:
    """'' when every level is signed; '待补签（还需：…）' for an air-first kind (an emergency),
    else '未审核（还需：…）'."""
    need = missing_levels(cfg, sigs)
    if not need:
        return ""
    word = "待补签" if kind in AIR_FIRST_KINDS else "未审核"
    return f"{word}（还需：{'、'.join(need)}）"


def unsigned_programmes(
    conn: Connection, cfg: Config, programme_ids: Iterable[int]
) -> dict[int, str]:
    """programme id -> '待补签（还需：…）' for programmes of air-first airings (emergencies)
    that some level has not signed yet; fully signed ones are left out. `log list` and
    `log export` show it for each such airing."""
    by_id = signatures(conn, programme_ids)
    out = {pid: pending_text(cfg, sigs, AIR_FIRST_KINDS[0]) for pid, sigs in by_id.items()}
    return {pid: text for pid, text in out.items() if text}


def _changed(programme: Programme, sigs: Sequence[Signature], sha: str | None) -> str | None:
    """Why the audio or text is no longer what was signed, or None."""
    if not sigs:
        return None
    first = sigs[0]
    if sha is None:
        return None  # a missing file is refused by the caller with its own reason
    bad = next((s for s in sigs if s.audio_sha256 != sha), None)
    if bad is not None:
        return (
            f"节目文件在审核后被改动（现 sha256 {sha[:12]}…，{bad.level}时为 "
            f"{bad.audio_sha256[:12]}…）；请重新制作（broadcast produce --force "
            f"{programme.script_id}）并重新审核"
        )
    if first.text_hash != programme.text_hash:
        return "节目的文字摘要与审核时不同（数据库被改动）；请重新制作并重新审核"
    return None


def gate(conn: Connection, cfg: Config, programme: Programme, kind: str) -> Gate:
    """May ``programme`` air now as an airing of ``kind``? (see the module docstring)"""
    sigs = signatures(conn, [programme.id])[programme.id]
    if sigs:
        why = _changed(programme, sigs, file_sha256(programme.file))
        if why is not None:
            return Gate("failed", why)
    need = missing_levels(cfg, sigs)
    if not cfg.approval.required or not need:
        return Gate()
    if kind in AIR_FIRST_KINDS:
        return Gate(note=f"应急先播出，待补签（还需：{'、'.join(need)}）")
    return Gate(
        "missed",
        f"未审核（节目 {programme.id} 还需：{'、'.join(need)}；"
        f"请运行 broadcast approve {programme.id} --by 姓名）",
    )


def schedule_remarks(conn: Connection, cfg: Config, programme_ids: Iterable[int]) -> dict[int, str]:
    """For `schedule list`: the programmes that will not air because of approval, and why."""
    from .programmes import get

    out: dict[int, str] = {}
    sigs = signatures(conn, programme_ids)
    for pid, mine in sigs.items():
        if mine:
            programme = get(conn, pid)
            if _changed(programme, mine, file_sha256(programme.file)):
                out[pid] = "审核后文件被改动，不会播出"
                continue
        need = missing_levels(cfg, mine)
        if cfg.approval.required and need:
            out[pid] = f"未审核（还需{'、'.join(need)}），不会播出"
    return out


# --- `broadcast approve` ---


def _has_aired(conn: Connection, programme_id: int) -> bool:
    from sqlalchemy import select

    from .db import airings

    stmt = select(airings.c.id).where(
        airings.c.programme_id == programme_id, airings.c.status.in_(AIRED)
    )
    return conn.execute(stmt.limit(1)).first() is not None


def approve(
    engine: Engine,
    cfg: Config,
    programme_id: int,
    approver: str,
    *,
    level: str | None,
    note: str | None,
    emergency: bool,
    now: datetime,
) -> str:
    """`broadcast approve`: sign ``level`` (default: the next unsigned one) for a programme."""
    from .console import did_you_mean
    from .db import approvals, programmes
    from .programmes import get

    levels = list(cfg.approval.levels)
    approver = approver.strip()
    if not approver:
        raise ApprovalError("--by: 请写审核人姓名，如 --by 张三")
    if level is not None and level not in levels:
        raise ApprovalError(
            f"--level: 未知的审核级别“{level}”{did_you_mean(level, levels)}；"
            f"可用：{'、'.join(levels)}（config.toml [approval] levels）"
        )
    with engine.begin() as conn:
        programme = get(conn, programme_id)
        if programme.status != "current":
            from sqlalchemy import select

            newer = conn.execute(
                select(programmes.c.id).where(
                    programmes.c.script_id == programme.script_id,
                    programmes.c.status == "current",
                )
            ).scalar()
            instead = f"，请审核当前节目 {newer}" if newer else ""
            raise ApprovalError(
                f"节目 {programme.id}《{programme.title}》已被重新制作的节目替换，不能再审核{instead}"
                "（用 `broadcast approvals list` 查看待审核的节目）"
            )
        sigs = signatures(conn, [programme.id])[programme.id]
        need = missing_levels(cfg, sigs)
        if level is None:
            if not need:
                raise ApprovalError(
                    f"节目 {programme.id}《{programme.title}》已审核完毕（{signed_text(sigs)}）"
                )
            level = need[0]
        done = next((s for s in sigs if s.level == level), None)
        if done is not None:
            raise ApprovalError(
                f"--level: 节目 {programme.id} 的“{level}”已由 {done.approver} 于 "
                f"{done.at[:16].replace('T', ' ')} 签过，同一级别不能重复签"
            )
        before = [lv for lv in levels[: levels.index(level)] if lv in need]
        if before:
            raise ApprovalError(
                f"--level: 节目 {programme.id} 还没有“{before[0]}”，请按 {'→'.join(levels)} 的顺序审核"
            )
        sha = file_sha256(programme.file)
        if sha is None:
            raise ApprovalError(
                f"节目文件不存在或无法读取：{programme.file}；请运行 "
                f"`broadcast produce --force {programme.script_id}` 重新制作后再审核"
            )
        why = _changed(programme, sigs, sha)
        if why is not None:
            raise ApprovalError(why)
        if emergency and not _has_aired(conn, programme.id):
            raise ApprovalError(
                f"--emergency: 节目 {programme.id} 没有先播出的记录，无需补签；正常审核请去掉 --emergency"
            )
        conn.execute(
            approvals.insert().values(
                programme_id=programme.id,
                level=level,
                approver=approver,
                note=(note or "").strip() or None,
                at=now.isoformat(),
                audio_sha256=sha,
                text_hash=programme.text_hash,
                after_air=emergency,
            )
        )
    left = [lv for lv in need if lv != level]
    what = "补签" if emergency else "审核"
    head = f"已{what}节目 {programme.id}《{programme.title}》：{level} {approver}（{now:%Y-%m-%d %H:%M}）"
    tail = f"还需：{'、'.join(left)}" if left else "审核完毕，可以播出"
    return f"{head}，音频 sha256 {sha[:16]}…；{tail}"


# --- `broadcast approvals list` ---


def _status(cfg: Config, sigs: Sequence[Signature], aired_first: bool) -> str:
    need = missing_levels(cfg, sigs)
    if not need:
        return "已审核"
    return ("待补签" if aired_first else "待审核") + f"（还需：{'、'.join(need)}）"


def listing(engine: Engine, cfg: Config, *, pending: bool, as_json: bool) -> str:
    """Current programmes with their signatures (``pending``: only those still to be signed)."""
    from sqlalchemy import select

    from .console import cut, table, to_json
    from .db import airings
    from .programmes import listing as programme_listing

    with engine.connect() as conn:
        progs = programme_listing(conn)
        sigs = signatures(conn, [p.id for p in progs])
        first = {
            r[0]
            for r in conn.execute(
                select(airings.c.programme_id).where(
                    airings.c.kind.in_(AIR_FIRST_KINDS), airings.c.status.in_(AIRED)
                )
            )
        }
    items = [
        (p, sigs[p.id], _status(cfg, sigs[p.id], p.id in first))
        for p in progs
        if not (pending and not missing_levels(cfg, sigs[p.id]))
    ]
    if as_json:
        return to_json(
            [
                {
                    "programme_id": p.id,
                    "script_id": p.script_id,
                    "title": p.title,
                    "produced_at": p.produced_at,
                    "status": status,
                    "missing": missing_levels(cfg, mine),
                    "signatures": [asdict(s) for s in mine],
                }
                for p, mine, status in items
            ]
        )
    notice = (
        []
        if cfg.approval.required
        else ["注意：config.toml 中 [approval] required = false，未审核的节目也照常播出"]
    )
    if not items:
        return "\n".join([*notice, "没有待审核的节目。" if pending else "还没有节目。"])
    rows = [
        (p.id, cut(p.title, 30), p.produced_at[:16].replace("T", " "), status, signed_text(mine))
        for p, mine, status in items
    ]
    return "\n".join([*notice, table(("节目", "标题", "制作时间", "状态", "签字"), rows)])
