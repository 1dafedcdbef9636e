"""The service runs as root under systemd: nothing a user types or configures may reach a device
node, a symlink target or a new line of the systemd unit."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest


def set_name(bc, name_toml: str) -> None:
    text = bc.config.read_text(encoding="utf-8")
    bc.config.write_text(
        re.sub(r"^name = .*$", lambda _m: f"name = {name_toml}", text, count=1, flags=re.M),
        encoding="utf-8",
    )


def test_a_newline_in_the_station_name_cannot_inject_a_unit_line(bc):
    set_name(bc, r'"青石乡\nExecStartPre=+/bin/touch /tmp/pwned"')
    r = bc("service", "install", "--print")
    assert r.exit_code == 1 and len(r.output.splitlines()) == 1, r.output
    assert r.output.startswith("Error: [station] name 含换行或控制字符，不能写入服务文件")


@pytest.fixture
def odd_station(tmp_path_factory):
    """A station whose folder has a space, a % and a $ in its name."""
    from conftest import ROOT, Broadcast

    folder = tmp_path_factory.mktemp("x") / "普法 100% $HOME"
    folder.mkdir()
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    shutil.copytree(ROOT / "audio", folder / "audio", ignore=shutil.ignore_patterns("*.py"))
    return Broadcast(folder)


def test_unit_quotes_paths_with_spaces_and_percent(odd_station, tmp_path):
    bc = odd_station
    set_name(bc, '"青石乡 100% 普法"')
    r = bc("service", "install", "--print")
    assert r.exit_code == 0, r.output
    unit = r.output
    folder = str(bc.folder).replace("%", "%%")
    assert f"WorkingDirectory={folder}\n" in unit
    assert f'"--config" "{folder.replace("$", "$$")}/config.toml" "run"' in unit
    assert "Description=村村响普法广播（青石乡 100%% 普法）" in unit
    for line in ("ProtectSystem=strict", "PrivateTmp=yes", "NoNewPrivileges=yes", "User=broadcast"):
        assert line in unit.splitlines()
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    path = tmp_path / "broadcast.service"
    path.write_text(unit + "\n", encoding="utf-8")
    p = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(path)],
        capture_output=True,
        text=True,
    )
    if "--offline" in p.stderr:
        pytest.skip("this systemd-analyze has no --offline")
    m = re.search(r"Overall exposure level for broadcast.service: ([\d.]+)", p.stdout)
    assert m and float(m[1]) < 3.0, p.stdout + p.stderr


@pytest.mark.parametrize("target", ["/dev/full", "/dev/stdout", "/dev/null"])
def test_log_export_refuses_a_device_as_output(bc, target):
    before = Path(target).lstat()
    r = bc("log", "export", "-o", target)
    assert (r.exit_code, r.output) == (
        1,
        f"Error: --output: {target} 不是普通文件（设备、管道或链接），不能写入；输出到屏幕请用 -o -\n",
    )
    after = Path(target).lstat()
    assert (stat.S_IFMT(before.st_mode), before.st_ino) == (
        stat.S_IFMT(after.st_mode),
        after.st_ino,
    )


def test_log_export_dash_writes_to_stdout(bc):
    r = bc("log", "export", "-o", "-")
    assert r.exit_code == 1 and "没有符合条件的播出记录" in r.output
    assert not (bc.folder / "-").exists()


def test_a_symlinked_daemon_lock_is_refused_and_its_target_kept(bc, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (bc.folder / ".broadcast-daemon.lock").symlink_to(victim)
    p = subprocess.run(
        [sys.executable, "-m", "broadcast", "--config", str(bc.config), "run", "--for", "1"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert "不能是符号链接" in p.stderr
    assert victim.read_text() == "keep me\n"


def test_a_symlinked_output_lock_is_refused(bc, tmp_path):
    from broadcast import playback

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = tmp_path / ".broadcast-output.lock"
    link.symlink_to(victim)
    import threading

    with pytest.raises(playback.PlaybackError, match="不能是符号链接"):
        with playback.output_lock(link, 0, threading.Event()):
            pass
    assert victim.read_text() == "keep me\n"


def test_a_placeholder_inside_a_shell_command_is_refused(bc):
    import json

    text = bc.config.read_text(encoding="utf-8")
    hook = json.dumps(["sh", "-c", "echo {title} >> /tmp/aired"], ensure_ascii=False)
    bc.config.write_text(
        re.sub(r"^pre_air = .*$", f"pre_air = {hook}", text, flags=re.M), encoding="utf-8"
    )
    r = bc("config", "check")
    assert r.exit_code == 1
    assert "playback.pre_air: 占位符 {title} 必须单独作为一个参数" in r.output


@pytest.mark.slow(3)
def test_a_title_reaches_an_argv_hook_as_one_inert_argument(bc, tmp_path, instant_player):

    from test_daemon import configure

    out, pwned = tmp_path / "hook.txt", tmp_path / "pwned"
    hook = ["/bin/sh", "-c", 'printf "%s" "$1" > "$2"', "hook", "{title}", str(out)]
    configure(bc, pre_air=hook)
    title = f"$(touch {pwned}); `touch {pwned}`"
    (tmp_path / "t.txt").write_text("远离毒品。", encoding="utf-8")
    assert bc("scripts", "add", str(tmp_path / "t.txt"), "--title", title).exit_code == 0
    assert bc("produce", "--engine", "espeak", "1").exit_code == 0
    r = bc("play", "1")
    assert r.exit_code == 0, r.output
    assert out.read_text() == title and not pwned.exists()
    assert len(instant_player.played) == 1
