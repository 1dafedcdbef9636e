"""Files written whole or not at all, and lock files: each helper written once.

An atomic write goes to a temporary ``.<name>.<random>.part`` file beside the target, is
fsynced, renamed over the target and the folder fsynced, so a crash, a full disk or Ctrl-C
never leaves a half-written file (``scratch.clean_leftovers`` removes ``.part`` files a killed
run left). The temporary file is created like any new file (mode 0666 less the umask) and never
follows a symbolic link.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temp_beside(path: Path) -> Path:
    """Create an empty temporary file in ``path``'s folder (OSError if it cannot)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp


def commit(tmp: Path, path: Path) -> None:
    """fsync the finished ``tmp``, rename it over ``path`` atomically, fsync the folder."""
    fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # platforms without directory fds
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it becomes ``path`` only if the block succeeds.

    Example: ``with atomic_path(out) as tmp: tmp.write_text(text, "utf-8")``
    """
    tmp = temp_beside(path)
    try:
        yield tmp
        commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def temp_dir_beside(path: Path) -> Path:
    """Create an empty temporary folder in ``path``'s folder (OSError if it cannot)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            os.mkdir(tmp, 0o777)
        except FileExistsError:
            continue
        return tmp


@contextmanager
def atomic_dir(final: Path, *, replace: bool = True) -> Iterator[Path]:
    """Yield a new folder beside ``final``; it becomes ``final`` only if the block succeeds.

    ``replace=False``: when ``final`` appeared meanwhile (another process made the same
    folder first), it is kept and the new one dropped."""
    tmp = temp_dir_beside(final)  # 0777 less the umask (0755), not mkdtemp's private 0700
    try:
        yield tmp
        if replace and final.exists():
            shutil.rmtree(final)
        try:
            os.replace(tmp, final)
        except OSError:
            if replace or not final.exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def open_lock(path: Path) -> int:
    """Open (creating it) a lock file and return its descriptor; OSError for a symbolic link."""
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)


def try_lock(fd: int) -> bool:
    """Take the exclusive lock on ``fd`` if no other process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def unlock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
