"""One daemon per station: the lock file beside config.toml that `broadcast run` holds.

:class:`StationLock` takes it (or says which process has it) and writes the holder's pid into
it; :func:`daemon_running` asks, without taking it, whether a daemon holds it (`broadcast
emergency` hands its notice to a running daemon). Both use the one lock-file helper in
:mod:`files`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from . import files
from .errors import DaemonError

if TYPE_CHECKING:
    from .config import Config


def lock_path(cfg: Config) -> Path:
    """The station lock file: ``.broadcast-daemon.lock`` beside config.toml."""
    return cfg.base / ".broadcast-daemon.lock"


class StationLock:
    """An exclusive lock file beside the config: one daemon per station."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = files.open_lock(self.path)
        except OSError as e:
            raise DaemonError(
                f"无法打开站点锁文件 {self.path}（{e.strerror}）；它不能是符号链接"
            ) from None
        if not files.try_lock(fd):
            pid = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DaemonError(
                f"本站的广播程序已在运行（进程 {pid}）；同一站点只能运行一个 `broadcast run`"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            files.unlock(self.fd)
            os.close(self.fd)
            self.fd = None


def daemon_running(cfg: Config) -> bool:
    """The station lock is held: `broadcast run` is running for this station."""
    path = lock_path(cfg)
    if not path.exists():
        return False
    try:
        fd = files.open_lock(path)
    except OSError:
        return False
    try:
        if files.try_lock(fd):
            files.unlock(fd)
            return False
        return True
    finally:
        os.close(fd)
