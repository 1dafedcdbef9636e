"""The daemon's emergency watcher (应急插播): a thread that polls for requests and airs them.

Every :data:`emergency.POLL_SECONDS` of monotonic time it claims the oldest pending request,
takes the air at the highest level (interrupting what is on air: its row becomes
``interrupted``), produces the notice with the voices kept warm (:func:`warm_up`, at daemon
start) and airs it ``repeat`` times. The daemon passes itself in: its clock, database, player,
log and :class:`air.Air` are what the watcher uses.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .errors import BroadcastError

if TYPE_CHECKING:
    from .daemon import Daemon
    from .playback import Stop

LEVEL = 3  # config_sections.Priorities.level("emergency")


def watch(d: Daemon) -> None:
    """The watcher thread's body: expire stale requests, then poll until the daemon stops."""
    from .emergency import POLL_SECONDS, STALE_MINUTES, expire_stale

    try:
        n = expire_stale(d.engine, d.now())
        if n:
            d.log(
                f"有 {n} 条应急广播请求在广播程序停止期间发出、已超过 {STALE_MINUTES} 分钟，不再播出"
            )
    except Exception as e:  # noqa: BLE001 - the watcher must keep running
        d.trouble(f"应急广播出错：{e.__class__.__name__}: {str(e)[:200]}")
    while not d.stop.wait(POLL_SECONDS):
        try:
            check(d)
        except Exception as e:  # noqa: BLE001 - the watcher must keep running
            d.trouble(f"应急广播出错：{e.__class__.__name__}: {str(e)[:200]}")


def check(d: Daemon) -> None:
    """Take the oldest pending emergency, interrupt what is on air, air it ``repeat`` times."""
    from . import emergency

    em = emergency.claim_next(d.engine, d.now(), d.cfg.station.tz)
    if em is None:
        return
    d.log(f"收到应急广播 {em.id}《{em.title}》，立即插播（{em.repeat} 遍）")
    d.on_air.take(LEVEL, f"应急插播：{em.title}；被中断的节目不再补播")

    def on_stop(s: Stop) -> None:
        d.on_air.on(LEVEL, s)

    try:
        if em.programme_id is None:
            t0 = d.clock.monotonic()
            try:
                prog = emergency.produce(d.engine, d.cfg, em.script_id, d.now())
            except BroadcastError as e:
                d.log(f"错误：应急广播 {em.id}《{em.title}》制作失败：{e}")
                emergency.mark(d.engine, em.id, "failed")
                return
            emergency.mark(d.engine, em.id, "airing", prog.id)
            em = replace(em, programme_id=prog.id)
            d.log(
                f"应急广播 {em.id} 已制作（{prog.engine}，{prog.duration_s:.0f} 秒），"
                f"用时 {d.clock.monotonic() - t0:.1f} 秒"
            )
        emergency.air_repeats(
            d.engine,
            d.cfg,
            em,
            d.player,
            d.now,
            d.stop,
            operator=d.operator,
            log=d.log,
            journal=d.journal,
            on_stop=on_stop,
        )
        emergency.mark(d.engine, em.id, "done")
        d.log(f"应急广播 {em.id}《{em.title}》播出结束，恢复日常播出")
    finally:
        d.on_air.off()
        d.on_air.give()


def warm_up(d: Daemon) -> None:
    """Background, at start: load what an emergency notice needs (see emergency.warm_up)."""
    from .emergency import warm_up

    t0 = d.clock.monotonic()
    try:
        loaded = warm_up(d.cfg)
    except Exception as e:  # noqa: BLE001 - a cold start later is slower, not broken
        if not d.stop.is_set():  # stopping closes the worker under it: not a failure
            d.log(f"警告：应急广播语音预热失败（{e.__class__.__name__}: {str(e)[:200]}）")
        return
    if loaded and not d.stop.is_set():
        d.log(f"应急广播语音已就绪（{loaded}，用时 {d.clock.monotonic() - t0:.1f} 秒）")
