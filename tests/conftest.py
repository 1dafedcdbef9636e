"""Shared fixtures: a station folder with the sample config, and a CLI runner bound to it."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from broadcast.cli import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def station(tmp_path: Path) -> Path:
    """A fresh station folder: the sample config.toml and lexicon, its own station.db."""
    shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
    if (ROOT / "lexicon.toml").exists():
        shutil.copy(ROOT / "lexicon.toml", tmp_path / "lexicon.toml")
    (tmp_path / "audio").mkdir()
    for wav in (ROOT / "audio").glob("*.wav"):
        shutil.copy(wav, tmp_path / "audio" / wav.name)
    return tmp_path


class Broadcast:
    """Runs `broadcast --config <station>/config.toml …` in-process, like a user would."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.config = folder / "config.toml"

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(self.config), *map(str, args)])

    def db_counts(self) -> dict[str, int]:
        """Row counts of every table, read with plain sqlite3 (independent of our code)."""
        db = self.folder / "station.db"
        if not db.exists():
            return {}
        with sqlite3.connect(db) as conn:
            names = [
                r[0] for r in conn.execute("select name from sqlite_master where type='table'")
            ]
            return {n: conn.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names}


@pytest.fixture
def bc(station: Path) -> Broadcast:
    return Broadcast(station)
