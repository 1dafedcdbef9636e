"""How fast does `broadcast --help` start, compared with Python importing click alone?

Runs each command N times in the same session, prints the medians and the ratio (goal ≤ 2×).
Usage: python bench/startup.py [N]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median_seconds(argv: list[str], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    baseline = median_seconds([sys.executable, "-c", "import click"], n)
    help_cmd = median_seconds([sys.executable, "-m", "broadcast", "--help"], n)
    queue_help = median_seconds([sys.executable, "-m", "broadcast", "queue", "add", "--help"], n)
    print(f"runs per command: {n}")
    print(f"python -c 'import click'        {baseline * 1000:7.1f} ms")
    print(
        f"broadcast --help                {help_cmd * 1000:7.1f} ms   ratio {help_cmd / baseline:.2f}x"
    )
    print(
        f"broadcast queue add --help      {queue_help * 1000:7.1f} ms   ratio {queue_help / baseline:.2f}x"
    )
    print("goal: ratio <= 2.0x")


if __name__ == "__main__":
    main()
