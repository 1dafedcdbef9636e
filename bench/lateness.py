"""How late does `broadcast run` start airings, compared with a bare APScheduler?

Builds a throw-away station (sample config.toml, lexicon.toml and jingles copied into a temp
folder; espeak only, no intro/outro, null player, no daily slots, no pre/post-air hooks, no
warm-up), makes one ~1.5-s programme and schedules COUNT one-offs SPACING seconds apart with
`broadcast schedule add` (one CLI process each, ~0.25 s apiece). All one-offs exist *before*
the daemon starts — the first one is placed far enough ahead to cover the scheduling and the
daemon's start-up, and the script refuses to go on if it is less than 3 s ahead when the daemon
reports it has started. Then one `broadcast run --for N` covers them all, and the `airings`
table is read with plain sqlite3: lateness = started_at − scheduled_at.

Baseline, in the same run and at the same time: a bare APScheduler BlockingScheduler in its own
process with COUNT DateTrigger jobs SPACING seconds apart whose job only records
time.time() − scheduled. Its times are offset by SPACING/2 from the daemon's so the two processes
never wake at the same instant. The ratio daemon/baseline is printed for p50, p95 and max.

Goal: daemon p95 ≤ 0.5 s and COUNT completed airings. Exit code 1 when either is not met.
Usage: python bench/lateness.py [--count 50] [--spacing 3]   (~3 minutes at the defaults)
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
GOAL_P95 = 0.5
SCRIPT = "普法\n法。\n"  # a title and one syllable: about 1.5 s from espeak-ng
START_MARGIN = 3.0  # the first one-off must be at least this far ahead when the daemon is up

BASELINE = r"""
import json, sys, time
from datetime import datetime
from zoneinfo import ZoneInfo
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger

tz = ZoneInfo(sys.argv[1])
times = json.loads(sys.argv[2])  # epoch seconds
late = []
sched = BlockingScheduler(timezone=tz)

def job(at):
    late.append(time.time() - at)

for i, at in enumerate(times):
    sched.add_job(job, DateTrigger(run_date=datetime.fromtimestamp(at, tz)), args=[at],
                  id=f"job{i}", misfire_grace_time=600)
sched.add_job(lambda: sched.shutdown(wait=False),
              DateTrigger(run_date=datetime.fromtimestamp(times[-1] + 1, tz)), id="stop")
print("ready", flush=True)
sched.start()
print(json.dumps(late), flush=True)
"""


def percentile(xs: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    s = sorted(xs)
    k = (len(s) - 1) * q
    f = math.floor(k)
    c = min(f + 1, len(s) - 1)
    return s[f] + (s[c] - s[f]) * (k - f)


def stats(xs: list[float]) -> tuple[float, float, float]:
    return percentile(xs, 0.5), percentile(xs, 0.95), max(xs)


def make_station(folder: Path) -> Path:
    """Sample config and lexicon, espeak only, no jingles/hooks/warm-up, null player, no slots, no
    quiet hours (the benchmark runs at any hour)."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[\[slots\]\]\n(?:[^\[\n][^\n]*\n|\n)*", "", text)
    subs = {
        "engines": '["espeak"]',
        "intro": '""',
        "outro": '""',
        "player": '"null"',
        "pre_air": "[]",
        "post_air": "[]",
        "warmup_seconds": "0",
        "quiet_hours": "[]",
    }
    for key, value in subs.items():
        text, n = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
        if n != 1:
            sys.exit(f"config.toml: cannot set {key}")
    config = folder / "config.toml"
    config.write_text(text, encoding="utf-8")
    if (ROOT / "lexicon.toml").exists():
        shutil.copy(ROOT / "lexicon.toml", folder / "lexicon.toml")
    (folder / "audio").mkdir()
    for wav in (ROOT / "audio").glob("*.wav"):
        shutil.copy(wav, folder / "audio" / wav.name)
    return config


def cli(config: Path, *args: str) -> str:
    p = subprocess.run(
        [sys.executable, "-m", "broadcast", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=config.parent,
    )
    if p.returncode != 0:
        sys.exit(f"broadcast {' '.join(args)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def row(label: str, values: tuple[float, float, float]) -> str:
    return f"{label:<22}" + "".join(f"{v * 1000:>10.1f}" for v in values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=50, help="number of one-offs (default 50)")
    ap.add_argument(
        "--spacing",
        type=int,
        default=3,
        help="whole seconds between one-offs (default 3; `schedule add --at` takes whole seconds)",
    )
    args = ap.parse_args()
    if args.count < 1 or args.spacing < 1:
        ap.error("--count and --spacing must be at least 1")

    t_begin = time.monotonic()
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="broadcast-lateness-") as tmp:
        folder = Path(tmp)
        config = make_station(folder)
        tz = ZoneInfo(tomllib.loads(config.read_text(encoding="utf-8"))["station"]["timezone"])
        try:
            # --- a programme of about 1.5 s ---
            (folder / "short.txt").write_text(SCRIPT, encoding="utf-8")
            t0 = time.monotonic()
            out = cli(config, "scripts", "add", str(folder / "short.txt"))
            per_call = time.monotonic() - t0
            script_id = re.search(r"稿件 (\d+)", out)[1]
            cli(config, "produce", "--engine", "espeak", script_id)
            duration = json.loads(cli(config, "programmes", "list", "--json"))[0]["duration_s"]
            if duration + 0.5 > args.spacing:
                sys.exit(f"programme is {duration:.2f} s: --spacing must be ≥ {duration + 0.5:.1f}")

            # --- the one-offs, all created before the daemon starts ---
            lead = args.count * per_call * 1.3 + 5
            first = (datetime.now(tz) + timedelta(seconds=lead)).replace(microsecond=0)
            times = [first + timedelta(seconds=i * args.spacing) for i in range(args.count)]
            t0 = time.monotonic()
            for at in times:
                cli(config, "schedule", "add", script_id, "--at", f"{at:%Y-%m-%d %H:%M:%S}")
            scheduling = time.monotonic() - t0

            # --- baseline (half a spacing later) and daemon, side by side ---
            base_times = [at.timestamp() + args.spacing / 2 for at in times]
            base = subprocess.Popen(
                [sys.executable, "-c", BASELINE, str(tz), json.dumps(base_times)],
                stdout=subprocess.PIPE,
                text=True,
            )
            procs.append(base)
            if base.stdout.readline().strip() != "ready":
                sys.exit("baseline scheduler did not start")
            run_for = (times[-1] - datetime.now(tz)).total_seconds() + duration + 5
            log_path = folder / "daemon.log"
            with log_path.open("w") as log:
                daemon = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "broadcast",
                        "--config",
                        str(config),
                        "run",
                        "--for",
                        f"{run_for:.0f}",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=folder,
                )
                procs.append(daemon)
                started = wait_for(
                    lambda: (
                        "广播程序已启动" in log_path.read_text(encoding="utf-8")
                        or daemon.poll() is not None
                    ),
                    30,
                )
                ahead = (first - datetime.now(tz)).total_seconds()
                if not started or daemon.poll() is not None:
                    sys.exit("daemon did not start:\n" + log_path.read_text(encoding="utf-8"))
                if ahead < START_MARGIN:
                    sys.exit(f"first one-off only {ahead:.1f} s ahead at daemon start; rerun")
                print(
                    f"{args.count} one-offs every {args.spacing} s, programme {duration:.2f} s; "
                    f"scheduled by {args.count} CLI calls in {scheduling:.1f} s before the daemon "
                    f"started; first airing {ahead:.1f} s after daemon start",
                    flush=True,
                )
                code = daemon.wait(run_for + 60)
            base_out, _ = base.communicate(timeout=60)
            daemon_log = log_path.read_text(encoding="utf-8")
            if code != 0:
                print(f"daemon exited with {code}:\n{daemon_log}")
            baseline = json.loads(base_out)

            # --- the airing log, read with plain sqlite3 ---
            with sqlite3.connect(folder / "station.db") as conn:
                rows = conn.execute(
                    "select scheduled_at, started_at, status from airings where kind = 'oneoff'"
                    " order by scheduled_at"
                ).fetchall()
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()

    late = [
        (datetime.fromisoformat(started) - datetime.fromisoformat(at)).total_seconds()
        for at, started, status in rows
        if status == "completed" and started
    ]
    by_status: dict[str, int] = {}
    for _, _, status in rows:
        by_status[status] = by_status.get(status, 0) + 1

    print()
    print(f"{'lateness (ms)':<22}{'p50':>10}{'p95':>10}{'max':>10}")
    d = stats(late) if late else (math.nan,) * 3
    b = stats(baseline) if baseline else (math.nan,) * 3
    print(row(f"daemon (n={len(late)})", d))
    print(row(f"APScheduler (n={len(baseline)})", b))
    print(
        f"{'ratio daemon/baseline':<22}"
        + "".join(f"{x / y if y > 0 else math.inf:>9.1f}x" for x, y in zip(d, b, strict=True))
    )
    if late:
        print(
            f"daemon min lateness {min(late) * 1000:.1f} ms; "
            f"late > {GOAL_P95} s: {sum(x > GOAL_P95 for x in late)}"
        )
    print()
    completed = by_status.get("completed", 0)
    print(f"airings by status: {json.dumps(by_status, ensure_ascii=False)}")
    ok_count = completed == args.count
    ok_p95 = bool(late) and d[1] <= GOAL_P95
    print(f"completed: {completed}/{args.count}  {'OK' if ok_count else 'FAIL'}")
    print(f"goal p95 <= {GOAL_P95} s: {d[1]:.3f} s  {'OK' if ok_p95 else 'FAIL'}")
    print(f"total run time {time.monotonic() - t_begin:.0f} s")
    return 0 if ok_count and ok_p95 else 1


if __name__ == "__main__":
    sys.exit(main())
