"""A systemd unit that starts `broadcast run` at boot and restarts it when it fails."""

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


def unit_text(cfg: Config, user: str) -> str:
    exe = shutil.which("broadcast") or f"{sys.executable} -m broadcast"
    return f"""[Unit]
Description=村村响普法广播（{cfg.station.name}）
After=network-online.target sound.target
Wants=network-online.target

[Service]
Type=simple
User={user}
WorkingDirectory={cfg.base}
ExecStart={exe} --config {cfg.path} run
# a system service has no desktop sound server: let SDL players talk to the sound card directly
Environment=SDL_AUDIODRIVER=alsa
Restart=on-failure
RestartSec=10
# SIGTERM: the airing in progress is recorded as interrupted, then the daemon exits
KillSignal=SIGTERM
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
"""


def install(cfg: Config, *, print_only: bool = False) -> str:
    """Write /etc/systemd/system/broadcast.service (as root); or return the unit text."""
    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or "root"
    text = unit_text(cfg, user)
    if print_only:
        return text.rstrip()
    target = Path("/etc/systemd/system") / UNIT_NAME
    if os.geteuid() != 0:
        raise BroadcastError(
            f"安装服务需要管理员权限；请运行：sudo {Path(sys.argv[0]).name} --config {cfg.path} service install"
        )
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as e:
        raise BroadcastError(f"无法写入 {target}（{e.strerror}）") from e
    return (
        f"已写入 {target}。启用并启动：\n"
        f"  systemctl daemon-reload && systemctl enable --now {UNIT_NAME}\n"
        f"查看运行情况：systemctl status {UNIT_NAME}；日志：journalctl -u {UNIT_NAME}"
    )
