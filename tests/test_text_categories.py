"""Table tests per category of spoken-form normalisation (issue 9), from 普法 material styles.

The table lives in ``tests/data/normalize_cases.tsv`` (category, written, spoken) so that
``bench/normalize.py`` scores the same cases.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from broadcast.text import normalize

TABLE = Path(__file__).resolve().parent / "data" / "normalize_cases.tsv"
ANY_DIGIT = re.compile(r"\d")
SYMBOLS = re.compile(
    r"[℃℉°²³㎡¥￥$€£‰%％±×÷≥≤≠=<>＜＞+]|(?<![A-Za-z])(?:kg|km|ml|mL|RMB|CNY)(?![A-Za-z])"
)


def load_cases(path: Path = TABLE) -> list[tuple[str, str, str]]:
    """(category, written, spoken) rows; ``\\n`` in a field is a line break."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        category, written, spoken = line.split("\t")
        rows.append((category, written.replace("\\n", "\n"), spoken.replace("\\n", "\n")))
    return rows


CASES = load_cases()


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 300
    assert len({(c, w) for c, w, _ in CASES}) == len(CASES), "duplicate rows"


@pytest.mark.parametrize(
    ("category", "written", "spoken"), CASES, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)]
)
def test_category_case(category: str, written: str, spoken: str) -> None:
    out = normalize(written)
    assert out == spoken
    assert not ANY_DIGIT.search(out)
    assert not SYMBOLS.search(out), out


def test_no_rule_crosses_a_line_break() -> None:
    for category, written, _ in CASES:
        if "\n" in written:
            parts = [normalize(p) for p in written.split("\n")]
            assert normalize(written) == "\n".join(parts), (category, written)


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("工号20318", "工号二零三幺八"),
        ("卡号尾号3391", "卡号尾号三三九幺"),
        ("可以拨打12315来反映", "可以拨打幺二三幺五来反映"),
        ("车牌冀A12345", "车牌冀A幺二三四五"),
        ("78年出生", "七八年出生"),  # years keep 一
        ("送了111朵花", "送了一百一十一朵花"),  # counts keep 一
    ],
)
def test_codes_follow_phone_one(written: str, spoken: str) -> None:
    assert normalize(written, phone_one="幺") == spoken
