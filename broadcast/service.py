"""A systemd unit that starts `broadcast run` at boot and restarts it when it fails.

The service runs as an unprivileged user (``broadcast`` by default, in the ``audio`` group for
the sound card) with systemd's sandboxing: the file system is read-only except the station's own
folders, private /tmp, no new privileges, only the sound devices. Every value written into the
unit is checked and escaped: a newline in the station name must not add a line to the unit,
and a space, quote, ``$`` or ``%`` in a path must reach the program unchanged.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BroadcastError

if TYPE_CHECKING:
    from .config import Config

UNIT_NAME = "broadcast.service"
DEFAULT_USER = "broadcast"


def _check(value: str, what: str) -> str:
    """A value may not contain a newline or another control character (it would end the line)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BroadcastError(
            f"{what} 含换行或控制字符，不能写入服务文件：{value!r}；请改正后再安装"
        )
    return value


def quote_arg(value: str, what: str) -> str:
    """One argument of ExecStart: double-quoted, with \\ and " escaped, % as %% and $ as $$."""
    _check(value, what)
    v = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + v.replace("%", "%%").replace("$", "$$") + '"'


def plain(value: str, what: str) -> str:
    """A whole-line value (Description, WorkingDirectory, ReadWritePaths): % as %%."""
    return _check(value, what).replace("%", "%%")


def _writable_folders(cfg: Config) -> list[Path]:
    """The folders the daemon writes: the station folder, and the database's and audio's
    folders where they live elsewhere."""
    folders = [cfg.base]
    url = cfg.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        folders.append(Path(url.removeprefix("sqlite:///")).parent)
    folders += [cfg.audio.programmes, cfg.audio.recordings, cfg.tts.cache]
    out: list[Path] = []
    for f in folders:
        f = f.absolute()
        if not any(f == o or o in f.parents for o in out):
            out.append(f)
    return out


def unit_text(cfg: Config, user: str = DEFAULT_USER) -> str:
    if not user or not all(c.isalnum() or c in "_-." for c in user):
        raise BroadcastError(f"--user: 用户名无效：{user!r}")
    exe = shutil.which("broadcast")
    argv = [exe] if exe else [sys.executable, "-m", "broadcast"]
    argv += ["--config", str(cfg.path), "run"]
    exec_start = " ".join(quote_arg(a, "程序或配置文件路径") for a in argv)
    # ReadWritePaths takes space-separated paths: a path with a space is quoted
    rw = " ".join(
        quote_arg(str(f), "站点文件夹路径") if " " in str(f) else plain(str(f), "站点文件夹路径")
        for f in _writable_folders(cfg)
    )
    name = plain(cfg.station.name, "[station] name")
    return f"""[Unit]
Description=村村响普法广播（{name}）
After=network-online.target sound.target
Wants=network-online.target

[Service]
Type=simple
User={user}
SupplementaryGroups=audio
WorkingDirectory={plain(str(cfg.base), "站点文件夹路径")}
ExecStart={exec_start}
# a system service has no desktop sound server: let SDL players talk to the sound card directly
Environment=SDL_AUDIODRIVER=alsa
Restart=on-failure
RestartSec=10
# SIGTERM: the airing in progress is recorded as interrupted, then the daemon exits
KillSignal=SIGTERM
TimeoutStopSec=30
# sandbox: read-only system, the station's folders writable, only the sound devices
ProtectSystem=strict
ReadWritePaths={rw}
ProtectHome=read-only
PrivateTmp=yes
NoNewPrivileges=yes
DevicePolicy=closed
DeviceAllow=char-alsa rw
CapabilityBoundingSet=
AmbientCapabilities=
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
UMask=0027

[Install]
WantedBy=multi-user.target
"""


def install(cfg: Config, *, print_only: bool = False, user: str = DEFAULT_USER) -> str:
    """Write /etc/systemd/system/broadcast.service (as root); or return the unit text."""
    text = unit_text(cfg, user)
    if print_only:
        return text.rstrip()
    target = Path("/etc/systemd/system") / UNIT_NAME
    if os.geteuid() != 0:
        raise BroadcastError(
            f"安装服务需要管理员权限；请运行：sudo {Path(sys.argv[0]).name} --config {cfg.path} service install"
        )
    import pwd

    try:
        pwd.getpwnam(user)
    except KeyError:
        raise BroadcastError(
            f"系统中没有用户 {user}；请先创建（不要用 root 运行广播程序）：\n"
            f"  useradd --system --no-create-home --groups audio {user} && chown -R {user}: {cfg.base}"
        ) from None
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as e:
        raise BroadcastError(f"无法写入 {target}（{e.strerror}）") from e
    return (
        f"已写入 {target}（以用户 {user} 运行）。启用并启动：\n"
        f"  systemctl daemon-reload && systemctl enable --now {UNIT_NAME}\n"
        f"查看运行情况：systemctl status {UNIT_NAME}；日志：journalctl -u {UNIT_NAME}"
    )
