"""The report's two charts (airings by month, minutes by village) as PNG; the only importer of
matplotlib. A glyph the chosen font cannot draw is an error, not boxes in the chart."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from .errors import ExportError
from .export import atomic_path
from .report import CHART_MONTHS, CHART_VILLAGES, Figures, month_name

FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian/Ubuntu fonts-noto-cjk
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch
    "C:/Windows/Fonts/msyh.ttc",  # 微软雅黑
    "C:/Windows/Fonts/simhei.ttf",  # 黑体
)


def cjk_font(path: str | Path | None = None) -> str:
    """Register a Chinese font with matplotlib; return its family name."""
    from matplotlib import font_manager

    candidates = [Path(path)] if path else [Path(p) for p in FONT_FILES]
    for file in candidates:
        if not file.is_file():
            continue
        known = [f for f in font_manager.fontManager.ttflist if Path(f.fname) == file]
        if not known:
            font_manager.fontManager.addfont(str(file))
            known = [f for f in font_manager.fontManager.ttflist if Path(f.fname) == file]
        names = [f.name for f in known]
        return next((n for n in names if n.endswith(" SC")), names[0])
    raise ExportError(
        "找不到中文字体（Noto Sans CJK），图表中的中文无法显示；请安装：sudo apt-get install fonts-noto-cjk"
    )


def _checked_save(fig: object, path: Path, family: str) -> None:
    """Save a figure atomically; ExportError if any character is missing from the font."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", bbox_inches="tight")  # type: ignore[attr-defined]
            missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
            if missing:
                raise ExportError(
                    f"{path.name}: 图表中有字体 {family} 显示不了的字（{missing[0]}）；"
                    f"请安装中文字体：sudo apt-get install fonts-noto-cjk"
                )


def _rc(family: str) -> Any:  # matplotlib types its rc keys as literals
    return {"font.family": [family], "axes.unicode_minus": False, "font.size": 10}


def chart_months(fig: Figures, path: Path, family: str) -> None:
    """Completed airings per month, stacked by topic."""
    from matplotlib import colormaps, rc_context
    from matplotlib.figure import Figure

    months = fig.period.months()
    topics = [t.name for t in fig.topic_lines()]
    palette = colormaps["tab20"]
    with rc_context(_rc(family)):
        figure = Figure(figsize=(10, 5.6), dpi=150)
        ax = figure.add_subplot()
        bottom = [0] * len(months)
        for i, topic in enumerate(topics):
            values = [fig.month_topics.get(m, {}).get(topic, 0) for m in months]
            ax.bar(
                range(len(months)),
                values,
                bottom=bottom,
                width=0.7,
                label=topic,
                color=palette(i % 20),
            )
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        for x, total in enumerate(bottom):
            if total:
                ax.text(x, total, str(total), ha="center", va="bottom", fontsize=8)
        labels = [month_name(m, fig.period) for m in months]
        ax.set_xticks(range(len(months)), labels, rotation=45 if len(months) > 12 else 0)
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts are whole airings
        ax.set_ylabel("播出次数（已播完）")
        ax.set_title(f"{fig.township}{fig.period.label}各月播出普法节目次数（按主题）")
        handles, names = ax.get_legend_handles_labels()  # top of the stack first
        ax.legend(
            handles[::-1],
            names[::-1],
            title="主题",
            loc="upper left",
            bbox_to_anchor=(1.01, 1),
            frameon=False,
        )
        _tidy(ax)
        _checked_save(figure, path, family)


def chart_villages(fig: Figures, path: Path, family: str) -> None:
    """Minutes of completed airings per village (horizontal bars, largest on top)."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    lines = sorted(fig.village_lines(), key=lambda v: v.minutes_x100)
    minutes = [v.minutes_x100 / 100 for v in lines]
    with rc_context(_rc(family)):
        figure = Figure(figsize=(10, 0.45 * len(lines) + 1.6), dpi=150)
        ax = figure.add_subplot()
        ax.barh([v.name for v in lines], minutes, color="#2E75B6", height=0.6)
        for y, m in enumerate(minutes):
            ax.text(m, y, f" {m:.0f}分钟" if m >= 10 else f" {m:.1f}分钟", va="center", fontsize=9)
        ax.set_xlabel("播出时长（分钟，已播完）")
        ax.set_title(f"{fig.township}{fig.period.label}各村累计播出时长")
        ax.set_xlim(0, max(minutes + [1]) * 1.15)
        _tidy(ax, axis="x")
        _checked_save(figure, path, family)


def _tidy(ax: object, axis: str = "y") -> None:
    ax.spines[["top", "right"]].set_visible(False)  # type: ignore[attr-defined]
    ax.grid(True, axis=axis, alpha=0.3)  # type: ignore[attr-defined]
    ax.set_axisbelow(True)  # type: ignore[attr-defined]


def render_charts(fig: Figures, folder: Path, font: str | Path | None = None) -> dict[str, Path]:
    """Write both charts into ``folder``; return {table heading: PNG path}."""
    family = cjk_font(font)
    months, villages = folder / CHART_MONTHS, folder / CHART_VILLAGES
    chart_months(fig, months, family)
    chart_villages(fig, villages, family)
    return {"按月统计": months, "按村统计": villages}
