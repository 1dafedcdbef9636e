"""Players: what puts a file on the output, behind one small interface (:class:`Player`).

``CommandPlayer`` runs an argv template without a shell (ffplay, aplay, mpv) and checks that it
ran for the programme's duration; ``NullPlayer`` plays nothing audible but takes the programme's
real duration, so the whole chain — hooks, records, timing — runs the same on a PC without a
sound card. :func:`playback.make_player` chooses one from ``[playback]``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .errors import PlaybackError

PROGRESS_EVERY = 2.0  # seconds between progress writes during an airing


def fill(template: Sequence[str], **values: str) -> list[str]:
    """Replace each argument that is exactly ``{name}`` by its value: one argument each, never
    spliced into a longer one (no shell, and no `sh -c "… {title}"` either)."""
    return [
        values.get(arg[1:-1], arg) if arg.startswith("{") and arg.endswith("}") else arg
        for arg in template
    ]


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


# A finished player counts as "played" only when it ran for the programme's duration, less
# EARLY_TOLERANCE_S plus EARLY_TOLERANCE_SHARE of it: the ALSA buffer (up to ~0.5 s) lets a player
# return before its last sample sounds, and `ffmpeg -re` paces the input by the system clock, so an
# honest player never returns more than ~0.2 s early (measured: 3.11 s for a 3.00 s file). A player
# that could not open the device or the file returns in 0.005–0.4 s.
EARLY_TOLERANCE_S = 1.0
EARLY_TOLERANCE_SHARE = 0.01
# A player still running this long after the programme should have ended is stopped.
HANG_MARGIN_S = 10.0
HANG_MARGIN_SHARE = 0.05


class PlayerFailed(PlaybackError):
    """The player failed after it had run ``seconds`` (recorded as the seconds played)."""

    def __init__(self, message: str, seconds: float):
        super().__init__(message)
        self.seconds = seconds


def _die_with_parent(parent: int) -> Callable[[], None]:
    """preexec_fn: the player gets SIGKILL when the daemon dies (even by kill -9)."""

    def setup() -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the daemon died before prctl took effect
            os._exit(1)

    return setup


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 5 s."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class CommandPlayer:
    """Runs ``argv`` (with ``{file}`` filled in) and waits for it; no shell.

    Its exit code alone is not believed: ffplay exits 0 when it cannot open the sound device or
    the file. A player that returns before the programme's duration has failed; one that runs
    far past it is stopped."""

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
        hang = duration + HANG_MARGIN_S + HANG_MARGIN_SHARE * duration
        with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty player never blocks
            t0 = time.monotonic()
            try:
                proc = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                    preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509
                )
            except OSError as e:
                raise PlaybackError(f"无法启动播放程序 {args[0]}（{e.strerror}）") from e
            last = t0
            while proc.poll() is None:
                if stop.wait(0.2):
                    stop_process(proc)
                    return time.monotonic() - t0, False
                ran = time.monotonic() - t0
                if ran >= hang:
                    stop_process(proc)
                    raise PlayerFailed(
                        f"播放程序超时未退出，已强制停止：运行 {ran:.1f} 秒，节目 {duration:.1f} 秒",
                        ran,
                    )
                if time.monotonic() - last >= PROGRESS_EVERY:
                    last = time.monotonic()
                    on_progress(last - t0)
            played = time.monotonic() - t0
            errors.seek(0)
            err = " ".join(errors.read().decode(errors="replace").split())
        said = f"：{err[:200]}" if err else ""
        if proc.returncode != 0:
            raise PlayerFailed(
                f"播放程序 {args[0]} 出错（退出码 {proc.returncode}，播放 {played:.1f} 秒）{said}",
                played,
            )
        if played < duration - EARLY_TOLERANCE_S - EARLY_TOLERANCE_SHARE * duration:
            raise PlayerFailed(
                f"播放程序提前退出：播放 {played:.1f} 秒，节目 {duration:.1f} 秒{said}", played
            )
        return played, True
