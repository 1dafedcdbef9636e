"""A private temporary folder for one production run, and the clean-up after a killed one.

A produce run killed with -9 (or by a power cut) leaves ``.part`` files beside the programmes
and tens of MB of mixing intermediates in the temp folder. Each run works in
``.broadcast-tmp/<pid>/`` in the station folder (``tempfile`` points there, so pydub and the mixer
use it too); the next run removes the folders of runs that are no longer alive and, when no other
run is producing, the ``.part`` files they left.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .config import Config


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_leftovers(cfg: Config) -> int:
    """Remove what killed runs left; return how many files and folders were removed."""
    root = cfg.base / ".broadcast-tmp"
    removed, others = 0, False
    if root.is_dir():
        for d in root.iterdir():
            pid = int(d.name) if d.name.isdigit() else None
            if pid is not None and pid != os.getpid() and _alive(pid):
                others = True
                continue
            if pid != os.getpid():
                shutil.rmtree(d, ignore_errors=True)
                removed += 1
    if not others:
        for folder in (cfg.audio.programmes, cfg.audio.recordings):
            if folder.is_dir():
                for p in folder.iterdir():
                    if p.is_file() and (p.name.endswith(".part") or ".part." in p.name):
                        p.unlink(missing_ok=True)
                        removed += 1
    return removed


@contextmanager
def scratch(cfg: Config) -> Iterator[Path]:
    """Clean up after killed runs, then work in a private temp folder removed at the end."""
    clean_leftovers(cfg)
    mine = cfg.base / ".broadcast-tmp" / str(os.getpid())
    try:
        mine.mkdir(parents=True, exist_ok=True)
    except OSError:  # an unwritable station folder: the system temp folder, as before
        yield Path(tempfile.gettempdir())
        return
    previous = tempfile.tempdir
    tempfile.tempdir = str(mine)
    try:
        yield mine
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(mine, ignore_errors=True)
        try:
            mine.parent.rmdir()
        except OSError:
            pass
