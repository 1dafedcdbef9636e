"""The airing-log filters: one check for `log list` and `log export` (and the report's period).

:func:`parse_filters` checks ``--from/--to/--status/--topic/--village`` against the config
(a status in English or as its Chinese label) and returns :class:`Filters`; :func:`where` adds
them to a SELECT over ``airings``. Bad input raises one ExportError naming the option.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from .airlog import STATUS_LABELS, STATUSES
from .console import did_you_mean
from .errors import ExportError

if TYPE_CHECKING:
    from sqlalchemy.sql import Select

    from .config import Config


@dataclass(frozen=True)
class Filters:
    """Which airings: scheduled from ``start`` to ``end`` (inclusive), and optional matches."""

    start: date | None = None
    end: date | None = None
    status: str | None = None
    topic: str | None = None
    village: str | None = None

    def describe(self) -> str:
        """时间：2024-01-01 至 2024-12-31；状态：已播完 (for messages and the summary sheet)."""
        parts = []
        if self.start or self.end:
            start = self.start.isoformat() if self.start else "最早"
            end = self.end.isoformat() if self.end else "最近"
            parts.append(f"时间：{start} 至 {end}")
        if self.status:
            parts.append(f"状态：{STATUS_LABELS[self.status]}")
        if self.topic:
            parts.append(f"主题：{self.topic}")
        if self.village:
            parts.append(f"村：{self.village}")
        return "；".join(parts) or "全部记录"


def parse_date(value: str, option: str) -> date:
    """A date option (the same forms `queue add` takes); ExportError naming the option otherwise."""
    from .queue import read_date

    day = read_date(value)
    if day is None:
        raise ExportError(f"{option}: 日期无效：{value}；请写成 2024-03-01 的格式")
    return day


def check_period(start: date | None, end: date | None) -> None:
    if start and end and start > end:
        raise ExportError(
            f"--from {start.isoformat()} 晚于 --to {end.isoformat()}；请把开始日期写在 --from，结束日期写在 --to"
        )


def check_status(value: str) -> str:
    """'completed' or its label '已播完' -> 'completed'."""
    text = value.strip()
    by_label = {label: status for status, label in STATUS_LABELS.items()}
    if text in STATUSES or text in by_label:
        return by_label.get(text, text)
    choices = "、".join(f"{s}（{STATUS_LABELS[s]}）" for s in STATUSES)
    raise ExportError(f"--status: 未知的状态：{value}；可用：{choices}")


def check_topic(value: str, topics: Sequence[str]) -> str:
    text = value.strip()
    if text not in topics:
        raise ExportError(
            f"--topic: 未知的主题：{value}{did_you_mean(text, topics)}；可用主题：{'、'.join(topics)}"
        )
    return text


def check_village(value: str, villages: Sequence[str]) -> str:
    text = value.strip()
    if text not in villages:
        raise ExportError(
            f"--village: 未知的村：{value}{did_you_mean(text, villages)}；已配置的村：{'、'.join(villages)}"
        )
    return text


def parse_filters(
    cfg: Config,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    status: str | None = None,
    topic: str | None = None,
    village: str | None = None,
) -> Filters:
    """Check every option against the config; raise ExportError on the first bad one."""
    start = parse_date(date_from, "--from") if date_from else None
    end = parse_date(date_to, "--to") if date_to else None
    check_period(start, end)
    return Filters(
        start=start,
        end=end,
        status=check_status(status) if status else None,
        topic=check_topic(topic, cfg.station.topics) if topic else None,
        village=check_village(village, list(cfg.villages)) if village else None,
    )


def where(stmt: Select[Any], filters: Filters) -> Select[Any]:
    """Add the filters to a SELECT over ``airings`` (the airing log's own rules)."""
    from . import airlog

    return airlog.where(
        stmt,
        start=filters.start,
        end=filters.end,
        status=filters.status,
        topic=filters.topic,
        village=filters.village,
    )


def empty_error(filters: Filters) -> ExportError:
    return ExportError(
        f"没有符合条件的播出记录（{filters.describe()}）；未写入文件，请检查 --from/--to 和筛选条件"
    )
