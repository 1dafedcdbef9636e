"""Putting a programme on the loudspeakers, and recording that it happened.

- Players: ``CommandPlayer`` runs an argv template without a shell (ffplay, aplay, mpv);
  ``NullPlayer`` plays nothing audible but takes the programme's real duration, so the whole
  chain — hooks, records, timing — runs the same on a PC without a sound card.
- Hooks: ``[playback] pre_air`` / ``post_air`` argv templates (power the amplifier, switch zone
  relays) with ``{villages}``, ``{zones}``, ``{title}``, ``{programme}``, ``{file}``.
- :func:`air` is one airing, start to finish, written to the airing log twice (``started``,
  then ``completed`` / ``interrupted`` / ``failed``). It takes a ``clock`` instead of reading the
  time itself. One output, one airing at a time: an OS file lock shared by the daemon and
  ``broadcast play`` keeps airings from overlapping.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .errors import PlaybackError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine

    from .config import Config, Playback

Clock = Callable[[], datetime]
PROGRESS_EVERY = 2.0  # seconds between progress writes during an airing


class Player(Protocol):
    name: str
    audible: bool

    def play(
        self,
        file: Path,
        duration: float,
        stop: threading.Event,
        on_progress: Callable[[float], None],
    ) -> tuple[float, bool]:
        """Play ``file``; return (seconds played, finished). Raise PlaybackError on failure."""
        ...


@dataclass
class NullPlayer:
    """Takes the programme's real duration and plays nothing audible."""

    name: str = "null"
    audible: bool = False

    def play(
        self,
        file: Path,
        duration: float,
        stop: threading.Event,
        on_progress: Callable[[float], None],
    ) -> tuple[float, bool]:
        t0 = time.monotonic()
        while True:
            played = time.monotonic() - t0
            if played >= duration:
                return duration, True
            if stop.wait(min(PROGRESS_EVERY, duration - played)):
                return time.monotonic() - t0, False
            on_progress(time.monotonic() - t0)


@dataclass
class CommandPlayer:
    """Runs ``argv`` (with ``{file}`` filled in) and waits for it; no shell."""

    argv: tuple[str, ...]
    name: str = "command"
    audible: bool = True

    def play(
        self,
        file: Path,
        duration: float,
        stop: threading.Event,
        on_progress: Callable[[float], None],
    ) -> tuple[float, bool]:
        args = fill(self.argv, file=str(file))
        if shutil.which(args[0]) is None:
            raise PlaybackError(f"找不到播放程序 {args[0]}；请安装它，或修改 [playback] command")
        with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty player never blocks
            t0 = time.monotonic()
            try:
                proc = subprocess.Popen(
                    args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors
                )
            except OSError as e:
                raise PlaybackError(f"无法启动播放程序 {args[0]}（{e.strerror}）") from e
            last = t0
            while proc.poll() is None:
                if stop.wait(0.2):
                    proc.terminate()
                    try:
                        proc.wait(5)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                    return time.monotonic() - t0, False
                if time.monotonic() - last >= PROGRESS_EVERY:
                    last = time.monotonic()
                    on_progress(last - t0)
            played = time.monotonic() - t0
            errors.seek(0)
            err = errors.read().decode(errors="replace").strip()
        if proc.returncode != 0:
            raise PlaybackError(
                f"播放程序 {args[0]} 出错（退出码 {proc.returncode}）：{err[-200:]}"
            )
        return played, True


def has_audio_device() -> bool:
    """A playback PCM device exists (ALSA)."""
    snd = Path("/dev/snd")
    return snd.is_dir() and any(
        p.name.startswith("pcmC") and p.name.endswith("p") for p in snd.iterdir()
    )


def make_player(pb: Playback) -> Player:
    """``[playback] player``: command, null, or auto (command when a sound card exists)."""
    if pb.player == "null" or (pb.player == "auto" and not has_audio_device()):
        return NullPlayer()
    return CommandPlayer(pb.command)


def fill(template: Sequence[str], **values: str) -> list[str]:
    """Fill ``{name}`` placeholders in each argument (no shell, so nothing is interpreted)."""
    out = []
    for arg in template:
        for k, v in values.items():
            arg = arg.replace("{" + k + "}", v)
        out.append(arg)
    return out


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    got = False
    try:
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                got = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline or stop.wait(0.1):
                    break
        yield got
    finally:
        if got:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# --- one airing ---


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


@dataclass(frozen=True)
class Outcome:
    airing_id: int | None
    status: str  # completed | interrupted | failed | missed | duplicate
    reason: str | None = None
    seconds: float = 0.0


def lock_path(cfg: Config) -> Path:
    return cfg.base / ".broadcast-output.lock"


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
) -> Outcome:
    """Carry out one airing and record it; never raises for a failed airing.

    With ``refuse_when_busy`` (`broadcast play`), a busy output raises PlaybackError and
    writes nothing: a manual play that was refused is not an airing."""
    from . import airlog
    from .programmes import get
    from .rules import zones_of

    audience = airlog.estimate_audience(req.villages, cfg.villages, cfg.report.audience_factor)
    what = airlog.What(title=req.title, topic=req.topic, queue_entry_id=req.queue_entry_id)
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
    )

    def record(status: str, reason: str) -> Outcome:
        """A row for an airing that never started: nobody heard it, so no audience."""
        with engine.begin() as conn:
            new = airlog.insert(conn, status=status, reason=reason, **{**common, "audience": 0})
        log(
            f"{req.scheduled_at:%H:%M:%S} {what.title or '（无节目）'}：{airlog.STATUS_LABELS[status]}，{reason}"
        )
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
            zones="，".join(zones_of(req.villages, cfg.zones)),  # zones covered in full
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
        with engine.begin() as conn:
            airing_id = airlog.insert(
                conn,
                status="started",
                started_at=clock().isoformat(),
                **common,
                audible=player.audible,
            )
        if airing_id is None:
            return Outcome(None, "duplicate")
        log(
            f"{req.scheduled_at:%H:%M:%S} 开始播出《{programme.title}》（{'、'.join(req.villages)}）"
        )

        def on_progress(seconds: float) -> None:
            with engine.begin() as conn:
                airlog.progress(conn, airing_id, seconds)

        status, reason, played = "interrupted", "广播程序被停止（播放中断）", 0.0
        try:
            played, finished = player.play(
                Path(programme.file), programme.duration_s, stop, on_progress
            )
            if finished:
                status, reason = "completed", None
                if not player.audible:
                    reason = "无声卡：使用静音播放器，仅按节目时长计时，现场听不到声音"
        except PlaybackError as e:
            status, reason = "failed", str(e)
        except Exception as e:  # noqa: BLE001 - whatever happens, the row is finalised
            status, reason = "failed", f"播放出错：{e.__class__.__name__}: {e}"
        finally:  # also on KeyboardInterrupt/SystemExit: never leave the row `started`
            with engine.begin() as conn:
                airlog.finish(
                    conn,
                    airing_id,
                    status=status,
                    ended_at=clock().isoformat(),
                    seconds_played=played,
                    reason=reason,
                )
            log(
                f"{req.scheduled_at:%H:%M:%S} 《{programme.title}》{airlog.STATUS_LABELS[status]}"
                f"（{played:.0f} 秒）{'：' + reason if reason and status != 'completed' else ''}"
            )
            try:
                run_hook(cfg.playback.post_air, "播后（功放/分区）", **values)
            except PlaybackError as e:
                log(f"警告：{e}")
    return Outcome(airing_id, status, reason, played)
