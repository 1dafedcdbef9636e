"""How well and how fast does the normaliser read the category table of issue 9?

Prints the pass rate per category of tests/data/normalize_cases.tsv (ours, and cn2an's own
``transform`` on the same cases as a baseline), then the time per 1,000 characters of both
over the whole table, and the ratio. Exits 1 if a case raises.
Usage: python bench/normalize.py [ROUNDS]
"""

from __future__ import annotations

import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from broadcast.text import normalize

TABLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "normalize_cases.tsv"


Normalizer = Callable[[str], str]


def load_cases(path: Path = TABLE) -> list[tuple[str, str, str]]:
    """(category, written, spoken) rows of the table the tests use."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            category, written, spoken = line.split("\t")
            rows.append((category, written.replace("\\n", "\n"), spoken.replace("\\n", "\n")))
    return rows


def cn2an_transform(text: str) -> str:
    """The baseline: cn2an's own Arabic-to-Chinese transform of a whole sentence."""
    import cn2an

    return cn2an.transform(text, "an2cn")


def pass_rates(cases: list[tuple[str, str, str]], fn: Normalizer) -> dict[str, tuple[int, int]]:
    rates: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for category, written, spoken in cases:
        try:
            ok = fn(written) == spoken
        except Exception:  # the baseline may raise on odd input
            ok = False
        rates[category][0] += ok
        rates[category][1] += 1
    return {c: (p, n) for c, (p, n) in rates.items()}


def ms_per_1000_chars(texts: list[str], fn: Normalizer, rounds: int) -> float:
    chars = sum(len(t) for t in texts)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for t in texts:
            fn(t)
        best = min(best, time.perf_counter() - t0)
    return best * 1000 / chars * 1000


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    warnings.simplefilter("ignore")  # cn2an warns on numbers longer than 16 digits
    cases = load_cases()
    for _, written, _ in cases:
        normalize(written)  # a crash fails the bench; also warms cn2an up
    cn2an_transform("1")
    ours = pass_rates(cases, normalize)
    base = pass_rates(cases, cn2an_transform)
    print(f"cases: {len(cases)}, characters: {sum(len(w) for _, w, _ in cases)}")
    print(f"{'category':10} {'cases':>5} {'normalize':>10} {'cn2an':>8}")
    for category, (passed, n) in ours.items():
        b = base[category][0]
        print(f"{category:10} {n:5d} {passed / n:9.1%} {b / n:8.1%}")
    total = sum(p for p, _ in ours.values())
    total_b = sum(p for p, _ in base.values())
    print(f"{'all':10} {len(cases):5d} {total / len(cases):9.1%} {total_b / len(cases):8.1%}")
    texts = [w for _, w, _ in cases]
    t_ours = ms_per_1000_chars(texts, normalize, rounds)
    t_base = ms_per_1000_chars(texts, cn2an_transform, rounds)
    print(f"normalize          {t_ours:7.2f} ms per 1,000 characters")
    print(f"cn2an.transform    {t_base:7.2f} ms per 1,000 characters")
    print(f"ratio              {t_ours / t_base:7.2f}x (best of {rounds} rounds)")


if __name__ == "__main__":
    main()
