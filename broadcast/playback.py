"""Putting a programme on the loudspeakers, and recording that it happened.

- Players (:mod:`players`): :func:`make_player` chooses ``CommandPlayer`` (an argv template
  without a shell: ffplay, aplay, mpv) or ``NullPlayer`` (no sound card: plays nothing audible but
  takes the programme's real duration, so hooks, records and timing run the same).
- Hooks: ``[playback] pre_air`` / ``post_air`` argv templates (power the amplifier, switch zone
  relays) with ``{villages}``, ``{zones}``, ``{title}``, ``{programme}``, ``{file}``.
- :func:`air` is one airing, start to finish, written to the airing log twice (``started``,
  then ``completed`` / ``interrupted`` / ``failed``). It takes a ``clock`` instead of reading the
  time itself. One output, one airing at a time: an OS file lock shared by the daemon and
  ``broadcast play`` keeps airings from overlapping.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import PlaybackError
from .players import CommandPlayer, NullPlayer, Player, PlayerFailed, fill

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine

    from .config import Config
    from .config_sections import Playback

Clock = Callable[[], datetime]


def has_audio_device(snd: Path = Path("/dev/snd")) -> bool:
    """A playback PCM device exists (ALSA) and can be opened (busy counts: it exists)."""
    import errno

    if not snd.is_dir():
        return False
    for p in snd.iterdir():
        if not (p.name.startswith("pcmC") and p.name.endswith("p")):
            continue
        try:
            os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK))
            return True
        except OSError as e:
            if e.errno == errno.EBUSY:  # another program plays on it: it works
                return True
    return False


def make_player(pb: Playback) -> Player:
    """``[playback] player``: command, null, or auto (command when a sound card can be opened)."""
    if pb.player == "null" or (pb.player == "auto" and not has_audio_device()):
        return NullPlayer()
    return CommandPlayer(pb.command)


def run_hook(template: Sequence[str], what: str, **values: str) -> None:
    """Run a pre/post-air hook; PlaybackError with its output when it fails."""
    if not template:
        return
    args = fill(template, **values)
    try:
        p = subprocess.run(args, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    except FileNotFoundError as e:
        raise PlaybackError(f"{what}命令不存在：{args[0]}") from e
    except OSError as e:  # not executable, bad interpreter …
        raise PlaybackError(f"{what}命令无法运行：{args[0]}（{e.strerror}）") from e
    except subprocess.TimeoutExpired as e:
        raise PlaybackError(f"{what}命令超时（60 秒）：{args[0]}") from e
    if p.returncode != 0:
        err = (p.stderr or p.stdout).decode(errors="replace").strip()
        raise PlaybackError(f"{what}命令失败（退出码 {p.returncode}）：{err[-200:] or args[0]}")


@contextmanager
def output_lock(path: Path, timeout: float, stop: threading.Event) -> Iterator[bool]:
    """Hold the sound output; yields False when it stayed busy for ``timeout`` seconds."""
    from . import files

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = files.open_lock(path)
    except OSError as e:
        raise PlaybackError(f"无法打开播出锁文件 {path}（{e.strerror}）；它不能是符号链接") from e
    got = False
    try:
        deadline = time.monotonic() + max(0.0, timeout)
        while not (got := files.try_lock(fd)):
            if time.monotonic() >= deadline or stop.wait(0.1):
                break
        yield got
    finally:
        if got:
            files.unlock(fd)
        os.close(fd)


# --- one airing ---


class Stop(threading.Event):
    """A stop signal for one airing that can say why: the daemon stopping (no reason) or a
    higher priority taking the air (``reason``, e.g. 应急插播：《…》), which :func:`air`
    writes into the interrupted row."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None

    def interrupt(self, reason: str) -> None:
        self.reason = reason
        self.set()


@dataclass(frozen=True)
class Request:
    """An airing to carry out now (from a slot, a one-off, or `broadcast play`)."""

    key: str
    kind: str
    scheduled_at: datetime
    villages: tuple[str, ...]
    operator: str
    programme_id: int | None
    queue_entry_id: int | None = None
    slot_name: str | None = None
    oneoff_id: int | None = None
    title: str | None = None
    topic: str | None = None
    note: str | None = None  # always part of the record (应急插播，不受静音时段限制)


@dataclass(frozen=True)
class Outcome:
    airing_id: int | None
    status: str  # completed | interrupted | failed | missed | duplicate
    reason: str | None = None
    seconds: float = 0.0


def lock_path(cfg: Config) -> Path:
    return cfg.base / ".broadcast-output.lock"


def journal_path(cfg: Config) -> Path:
    """The journal of airing-log writes the database refused (see :class:`airlog_journal.Journal`)."""
    from .airlog_journal import JOURNAL_NAME

    url = cfg.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":  # beside the database file
        return Path(url.removeprefix("sqlite:///")).parent / JOURNAL_NAME
    return cfg.base / JOURNAL_NAME


def air(
    engine: Engine,
    cfg: Config,
    req: Request,
    player: Player,
    clock: Clock,
    stop: threading.Event,
    *,
    wait_seconds: float,
    log: Callable[[str], None] = lambda _m: None,
    late_reason: str | None = None,
    refuse_when_busy: bool = False,
    journal: Any = None,
) -> Outcome:
    """Carry out one airing and record it; never raises for a failed airing.

    With ``refuse_when_busy`` (`broadcast play`), a busy output raises PlaybackError and
    writes nothing: a manual play that was refused is not an airing. The airing's rows go
    through ``journal`` (an :class:`airlog_journal.Journal`): a locked or full database delays the
    rows, never the airing, and never changes what they say."""
    from . import airlog
    from .airlog_journal import KEPT, Journal
    from .db import describe_db_error
    from .programmes import get
    from .rules import zones_of

    if journal is None:
        journal = Journal(journal_path(cfg))

    audience = airlog.estimate_audience(req.villages, cfg.villages, cfg.report.audience_factor)
    what = airlog.What(title=req.title, topic=req.topic, queue_entry_id=req.queue_entry_id)
    zones = zones_of(req.villages, cfg.zones)  # covered in full
    programme = None
    if req.programme_id is not None:
        with engine.connect() as conn:
            programme = get(conn, req.programme_id)
        what = airlog.What(
            title=programme.title,
            topic=req.topic,
            script_id=programme.script_id,
            programme_id=programme.id,
            queue_entry_id=req.queue_entry_id,
            engine=programme.engine,
            voice=programme.voice,
            programme_hash=programme.recipe,
        )
    common = dict(
        schedule_key=req.key,
        kind=req.kind,
        scheduled_at=req.scheduled_at.isoformat(),
        villages=req.villages,
        operator=req.operator,
        audience=audience,
        what=what,
        slot_name=req.slot_name,
        oneoff_id=req.oneoff_id,
        zones=zones,
    )

    def record(status: str, reason: str) -> Outcome:
        """A row for an airing that never started: nobody heard it, so no audience."""
        new = journal.write(
            engine,
            "insert",
            values={**common, "audience": 0, "status": status, "reason": reason},
        )
        log(
            f"{req.scheduled_at:%H:%M:%S} {what.title or '（无节目）'}：{airlog.STATUS_LABELS[status]}，{reason}"
        )
        if new is KEPT:
            log(f"警告：{journal.problem}，播出记录暂存，数据库恢复后自动写入")
            return Outcome(None, status, reason)
        return Outcome(new, status if new else "duplicate", reason)

    with engine.connect() as conn:
        if airlog.exists(conn, req.key, req.scheduled_at.isoformat()):
            return Outcome(None, "duplicate")
    if programme is None:
        return record("missed", "待播队列中没有可播出的节目")
    if not Path(programme.file).exists():
        return record(
            "failed",
            f"节目文件不存在：{programme.file}；请运行 `broadcast produce --force {programme.script_id}`",
        )
    from .approval import gate

    with engine.connect() as conn:  # approved, and the file is still what was approved?
        verdict = gate(conn, cfg, programme, req.kind)
    if verdict.status is not None:
        return record(verdict.status, verdict.reason or "")
    if verdict.note:
        log(f"{req.scheduled_at:%H:%M:%S} 《{programme.title}》{verdict.note}")

    if wait_seconds < 0:  # it waited behind other airings (or the PC slept) past its grace
        return record("missed", late_reason or "前一次播出尚未结束，等待超过宽限时间")
    with output_lock(lock_path(cfg), wait_seconds, stop) as free:
        if not free and refuse_when_busy:
            raise PlaybackError("正在播出另一个节目，请等它播完后再试")
        if not free and stop.is_set():
            return record("missed", "广播程序停止时仍在等待前一次播出结束")
        if not free:
            return record("missed", "与另一次播出冲突，等待超过宽限时间")
        with engine.connect() as conn:
            if airlog.exists(conn, req.key, req.scheduled_at.isoformat()):
                return Outcome(None, "duplicate")
        values = dict(
            villages="，".join(req.villages),
            zones="，".join(zones),
            title=programme.title,
            programme=str(programme.id),
            file=programme.file,
        )
        try:
            run_hook(cfg.playback.pre_air, "播前（功放/分区）", **values)
        except PlaybackError as e:
            return record("failed", str(e))
        if cfg.playback.warmup_seconds and stop.wait(cfg.playback.warmup_seconds):
            return record("missed", "广播程序在功放预热时停止")
        started = clock()
        airing_id = journal.write(
            engine,
            "insert",
            values={
                **common,
                "status": "started",
                "started_at": started.isoformat(),
                "audible": player.audible,
            },
        )
        if airing_id is None:
            return Outcome(None, "duplicate")
        if airing_id is KEPT and refuse_when_busy:  # `broadcast play`: staff can retry
            journal.forget_last()
            raise PlaybackError(f"{journal.problem}，无法记录播出，因此没有播出；请排除后重试")
        if airing_id is KEPT:  # the database is locked or full: air now, write later
            airing_id = None
            log(f"警告：{journal.problem}，照常播出，播出记录暂存，数据库恢复后自动写入")
        late = (started - req.scheduled_at).total_seconds()
        log(
            f"{req.scheduled_at:%H:%M:%S} 开始播出《{programme.title}》（{'、'.join(req.villages)}）"
            + (
                f"，比预定时间晚 {late:.0f} 秒"
                if late >= 5 and req.kind not in ("play", "emergency")
                else ""
            )
        )

        def on_progress(seconds: float) -> None:
            from sqlalchemy.exc import SQLAlchemyError

            if airing_id is None:
                return
            try:  # best effort: a locked database must not hold up the player
                with engine.begin() as conn:
                    if engine.dialect.name == "sqlite":
                        conn.exec_driver_sql("PRAGMA busy_timeout=200")
                    try:
                        airlog.progress(conn, airing_id, seconds)
                    finally:
                        if engine.dialect.name == "sqlite":
                            conn.exec_driver_sql("PRAGMA busy_timeout=10000")
            except SQLAlchemyError:
                pass

        played = 0.0
        status = "interrupted"
        reason: str | None = "广播程序被停止（播放中断）"
        t0 = time.monotonic()
        try:
            played, finished = player.play(
                Path(programme.file), programme.duration_s, stop, on_progress
            )
            if not finished and getattr(stop, "reason", None):  # a higher priority took the air
                reason = stop.reason  # type: ignore[attr-defined]
            if finished:
                status, reason = "completed", None
                if not player.audible:
                    reason = "无声卡：使用静音播放器，仅按节目时长计时，现场听不到声音"
        except PlayerFailed as e:
            status, reason, played = "failed", str(e), e.seconds
        except PlaybackError as e:
            status, reason, played = "failed", str(e), time.monotonic() - t0
        except Exception as e:  # noqa: BLE001 - whatever happens, the row is finalised
            from sqlalchemy.exc import SQLAlchemyError

            said = describe_db_error(e) if isinstance(e, SQLAlchemyError) else str(e)[:200]
            status, reason = "failed", f"播放出错：{e.__class__.__name__}: {said}"
            played = time.monotonic() - t0
        except BaseException:  # KeyboardInterrupt/SystemExit: interrupted, with the real seconds
            played = time.monotonic() - t0
            raise
        finally:  # never leave the row `started`
            if req.note:
                reason = f"{req.note}；{reason}" if reason else req.note
            kept = journal.write(
                engine,
                "finish",
                key=req.key,
                at=req.scheduled_at.isoformat(),
                values=dict(
                    status=status,
                    ended_at=clock().isoformat(),
                    seconds_played=played,
                    reason=reason,
                ),
            )
            if kept is KEPT:
                log(f"警告：{journal.problem}，播出记录暂存，数据库恢复后自动写入")
            log(
                f"{req.scheduled_at:%H:%M:%S} 《{programme.title}》{airlog.STATUS_LABELS[status]}"
                f"（{played:.0f} 秒）{'：' + reason if reason and status != 'completed' else ''}"
            )
            try:
                run_hook(cfg.playback.post_air, "播后（功放/分区）", **values)
            except PlaybackError as e:
                log(f"警告：{e}")
    return Outcome(airing_id, status, reason, played)


# --- `broadcast play` ---


def play_now(
    engine: Engine,
    cfg: Config,
    item: str,
    villages: str | None,
    clock: Callable[[], datetime],
    operator: str,
    log: Callable[[str], None],
    override: bool = False,
) -> str:
    """`broadcast play`: air a programme now on this PC, recorded like any airing. Quiet
    hours apply (噪声污染防治法) unless ``override`` (`--override`), which the record states."""
    from . import programmes, queue, script_library
    from .rules import quiet_conflict
    from .schedule import resolve_villages

    chosen = queue.parse_villages(villages, cfg.villages)
    with engine.connect() as conn:
        prog, _ = programmes.for_item(conn, item)
        topic = script_library.get(conn, prog.script_id).topic
    now = clock()
    window = quiet_conflict(now, prog.duration_s, cfg.rules)
    note = None
    if window is not None and not override:
        into = "现在是" if window.contains(now.time()) else "播完前会进入"
        raise PlaybackError(
            f"{into}静音时段 {window}，不能播出（{window.law()}）；"
            "紧急情况请用 `broadcast emergency`，确需播出请加 --override"
        )
    if window is not None:
        note = f"手动越过静音时段 {window} 播出（--override）"
    key = f"play:{now.isoformat()}"
    with engine.connect() as conn:  # a second play within the same second (one was refused)
        from .airlog import exists

        n = 1
        while exists(conn, key, now.isoformat()):
            n += 1
            key = f"play:{now.isoformat()}#{n}"
    req = Request(
        key=key,
        kind="play",
        scheduled_at=now,
        villages=resolve_villages(chosen, "all", list(cfg.villages)),
        operator=operator,
        programme_id=prog.id,
        title=prog.title,
        topic=topic,
        note=note,
    )
    stop = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in signals}
    try:
        out = air(
            engine,
            cfg,
            req,
            make_player(cfg.playback),
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

    raise PlaybackError(
        f"《{prog.title}》{STATUS_LABELS.get(out.status, out.status)}：{out.reason}"
    )
