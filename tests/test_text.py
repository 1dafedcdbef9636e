"""Tests for broadcast.text: spoken-form normalisation, lexicon, sentences, chunks."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from broadcast.errors import TextError
from broadcast.text import chunk, load_lexicon, normalize, split_sentences

ANY_DIGIT = re.compile(r"\d")  # Unicode: ASCII, full-width and other decimal digits

NORMALIZE_CASES = [
    # --- sentences from the township report and the scripts
    ("共发放宣传材料2000余份，受众人数3000余人", "共发放宣传材料两千余份，受众人数三千余人"),
    (
        "《南宫市法治政府建设实施方案（2021—2025年）》",
        "《南宫市法治政府建设实施方案（二零二一至二零二五年）》",
    ),
    (
        "如接到可疑电话，请立即拨打96110反诈专线或110报警",
        "如接到可疑电话，请立即拨打九六一一零反诈专线或一一零报警",
    ),
    ("民法典第1260条", "民法典第一千二百六十条"),
    ("每天7:30和18:30播出", "每天七点三十分和十八点三十分播出"),
    ("罚款1.5万元", "罚款一点五万元"),
    ("占比45%", "占比百分之四十五"),
    ("拨打110、119或者120求助", "拨打一一零、一一九或者一二零求助"),
    ("拨打12348法律援助热线", "拨打一二三四八法律援助热线"),
    ("也可以拨打12345政务服务便民热线反映", "也可以拨打一二三四五政务服务便民热线反映"),
    ("接到96110打来的电话，一定要接！", "接到九六一一零打来的电话，一定要接！"),
    ("每天15:00到19:00巡查", "每天十五点到十九点巡查"),
    ("全乡37处山塘", "全乡三十七处山塘"),
    ("年满18周岁的公民", "年满十八周岁的公民"),
    ("到2024年已经是第11个国家宪法日", "到二零二四年已经是第十一个国家宪法日"),
    # --- years
    ("2024年", "二零二四年"),
    ("1982年12月4日", "一九八二年十二月四日"),
    ("2021—2025年", "二零二一至二零二五年"),
    ("2021-2025年", "二零二一至二零二五年"),
    ("2021～2025年", "二零二一至二零二五年"),
    ("2021~2025年", "二零二一至二零二五年"),
    ("2021年—2025年", "二零二一年至二零二五年"),
    ("2024年度工作总结", "二零二四年度工作总结"),
    ("2000年", "二零零零年"),
    ("（2021—2025）", "（二零二一至二零二五）"),
    ("冀政办〔2024〕12号", "冀政办〔二零二四〕十二号"),
    ("2024版", "二零二四版"),
    # --- dates
    ("2024年12月4日", "二零二四年十二月四日"),
    ("12月4日", "十二月四日"),
    ("6月26日是国际禁毒日", "六月二十六日是国际禁毒日"),
    ("2月2日", "二月二日"),
    ("12.4", "十二点四"),
    ("2024-12-04", "二零二四年十二月四日"),
    ("2024/12/4", "二零二四年十二月四日"),
    ("2024.12.4", "二零二四年十二月四日"),
    ("3月份", "三月份"),
    # --- month·day without a year: · • ・ always; . and / only in a date context
    ("12·4国家宪法日", "十二月四日国家宪法日"),
    ("6·26国际禁毒日", "六月二十六日国际禁毒日"),
    ("11·9消防日", "十一月九日消防日"),
    ("6•26国际禁毒日", "六月二十六日国际禁毒日"),
    ("6・26国际禁毒日", "六月二十六日国际禁毒日"),
    ("3·15消费者权益日", "三月十五日消费者权益日"),  # no lexicon; see the lexicon tests
    ("12·04", "十二月四日"),
    ("13·4", "十三·四"),  # not a month
    ("6·32", "六·三十二"),  # not a day
    ("1·2·3", "一·二·三"),
    ("12.4国家宪法日", "十二月四日国家宪法日"),
    ("6.26国际禁毒日", "六月二十六日国际禁毒日"),
    ("11.9全国消防日", "十一月九日全国消防日"),
    ("3.12植树节", "三月十二日植树节"),
    ("12.4 国家宪法日", "十二月四日 国家宪法日"),
    ("12.4国家宪法日当天", "十二月四日国家宪法日当天"),
    ("１２．４国家宪法日", "十二月四日国家宪法日"),
    ("１．５万元", "一点五万元"),
    ("增长12.4%", "增长百分之十二点四"),
    ("12.4公里", "十二点四公里"),
    ("增长6.5今日公布", "增长六点五今日公布"),
    ("人均1.2节约用水", "人均一点二节约用水"),
    ("13.4国家宪法日", "十三点四国家宪法日"),
    ("12/4国家宪法日", "十二月四日国家宪法日"),
    ("6/26国际禁毒日", "六月二十六日国际禁毒日"),
    ("于12/4举行", "于十二月四日举行"),
    ("在12/4的会议上", "在十二月四日的会议上"),
    ("截至12/4", "截至十二月四日"),
    ("从12/1至12/31", "从十二月一日至十二月三十一日"),
    ("1/3的村民", "三分之一的村民"),
    ("有1/3的村民", "有三分之一的村民"),
    ("在1/3的村民中", "在三分之一的村民中"),
    ("降至1/3", "降至三分之一"),
    ("增加到1/2", "增加到二分之一"),
    ("从1/3提高到1/2", "从三分之一提高到二分之一"),
    ("12/4", "四分之十二"),
    # --- clock times
    ("7:30", "七点三十分"),
    ("18:30", "十八点三十分"),
    ("07:05", "七点零五分"),
    ("9:00", "九点"),
    ("12:00", "十二点"),
    ("0:00", "零点"),
    ("2:30", "两点三十分"),
    ("7：30", "七点三十分"),
    ("７：３０", "七点三十分"),
    ("8:30-17:30", "八点三十分至十七点三十分"),
    ("7:30:15", "七点三十分十五秒"),
    ("9:00:05", "九点零分零五秒"),
    ("上午9:00，乡政府广场", "上午九点，乡政府广场"),
    # --- percentages, decimals, negatives
    ("45%", "百分之四十五"),
    ("45％", "百分之四十五"),
    ("3.5%", "百分之三点五"),
    ("100%准确", "百分之一百准确"),
    ("30%-50%", "百分之三十至百分之五十"),
    ("30～50%", "百分之三十至五十"),
    ("-3%", "负百分之三"),
    ("5‰", "千分之五"),
    ("1.5", "一点五"),
    ("0.05", "零点零五"),
    ("气温-3度", "气温负三度"),
    ("-1.5", "负一点五"),
    ("1/3", "三分之一"),
    ("比分3:1", "比分三比一"),
    # --- money, quantities and 两
    ("1.5万元", "一点五万元"),
    ("3000元", "三千元"),
    ("2000余份", "两千余份"),
    ("3000余人", "三千余人"),
    ("2个", "两个"),
    ("2次", "两次"),
    ("2人", "两人"),
    ("2万", "两万"),
    ("2万元", "两万元"),
    ("2.5万", "二点五万"),
    ("20个", "二十个"),
    ("12个", "十二个"),
    ("200元", "二百元"),
    ("22000人", "两万二千人"),
    ("12000人", "一万二千人"),
    ("2亿元", "两亿元"),
    ("5名", "五名"),
    ("10户", "十户"),
    ("8件", "八件"),
    ("3起", "三起"),
    ("4条", "四条"),
    ("65岁", "六十五岁"),
    ("15天", "十五天"),
    ("3年以下有期徒刑", "三年以下有期徒刑"),
    ("2年", "两年"),
    ("10年", "十年"),
    ("2个月", "两个月"),
    ("2号", "二号"),
    ("2楼", "二楼"),
    ("2年级", "二年级"),
    ("3-5人", "三至五人"),
    ("共1,500元", "共一千五百元"),
    ("共有120人", "共有一百二十人"),
    ("110人", "一百一十人"),
    ("12345元", "一万二千三百四十五元"),
    # --- law articles and ordinals
    ("第18条第2款", "第十八条第二款"),
    ("第3项", "第三项"),
    ("第2条", "第二条"),
    ("第110条", "第一百一十条"),
    ("第1、2款", "第一、二款"),
    ("第1-3条", "第一至三条"),
    ("第2000条", "第二千条"),
    ("第一、总则", "第一、总则"),
    ("一、基本情况", "一、基本情况"),
    ("第五届全国人民代表大会", "第五届全国人民代表大会"),
    # --- telephone and hotline numbers
    ("110", "一一零"),
    ("96110", "九六一一零"),
    ("12345", "一二三四五"),
    ("12348", "一二三四八"),
    ("拨打12315投诉", "拨打一二三一五投诉"),
    ("12381预警劝阻", "一二三八一预警劝阻"),
    ("95588", "九五五八八"),
    ("0319-1234567", "零三一九，一二三四五六七"),
    ("举报电话：0319-1234567", "举报电话：零三一九，一二三四五六七"),
    ("（0319）5212345", "零三一九，五二一二三四五"),
    ("13812345678", "一三八，一二三四，五六七八"),
    ("联系电话：138 1234 5678", "联系电话：一三八，一二三四，五六七八"),
    ("咨询电话5212345", "咨询电话五二一二三四五"),
    ("5212345是举报热线", "五二一二三四五是举报热线"),
    ("400-800-1234", "四零零，八零零，一二三四"),
    ("拨打12345、12348", "拨打一二三四五、一二三四八"),
    ("冒充10086客服", "冒充一零零八六客服"),
    ("拨打10086查询", "拨打一零零八六查询"),
    ("10010", "一零零一零"),
    ("10099", "一零零九九"),
    ("10001", "一零零零一"),
    ("10011", "一零零一一"),
    ("10015", "一零零一五"),
    ("10016", "一零零一六"),
    ("10050", "一零零五零"),
    ("10060", "一零零六零"),
    ("冒充10000客服", "冒充一零零零零客服"),
    ("拨打10000", "拨打一零零零零"),
    ("10000", "一万"),  # round: a hotline only next to a phone word
    ("10086元", "一万零八十六元"),
    ("第10086号", "第一万零八十六号"),
    ("共有10086人", "共有一万零八十六人"),
    # --- other integers and digit strings
    ("3000", "三千"),
    ("2000", "两千"),
    ("1002", "一千零二"),
    ("别用生日、123456这种", "别用生日、一二三四五六这种"),
    ("身份证号130523199001011234", "身份证号一三零五二三一九九零零一零一一二三四"),
    ("邮编054000", "邮编零五四零零零"),
    ("编码GB18030", "编码GB一八零三零"),
    ("５G网络", "五G网络"),
    ("２０２４年", "二零二四年"),
    ("版本1.2.3", "版本一点二点三"),
    # --- whitespace
    ("第一段  有   空格\n\n\n第二段", "第一段 有 空格\n第二段"),
    ("  前后空白\t\n", "前后空白"),
    ("全角\u3000空格", "全角 空格"),
]


@pytest.mark.parametrize(("written", "spoken"), NORMALIZE_CASES)
def test_normalize(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("110", "幺幺零"),
        ("96110", "九六幺幺零"),
        ("冒充10086客服", "冒充幺零零八六客服"),
        ("12·4国家宪法日", "十二月四日国家宪法日"),  # dates keep 一
        ("12345", "幺二三四五"),
        ("0319-1234567", "零三幺九，幺二三四五六七"),
        ("13812345678", "幺三八，幺二三四，五六七八"),
        ("2021年", "二零二一年"),  # years keep 一
        ("第11条", "第十一条"),  # cardinals and ordinals are not digit strings
        ("11个", "十一个"),
    ],
)
def test_phone_one_yao(written: str, spoken: str) -> None:
    assert normalize(written, phone_one="幺") == spoken


def test_phone_one_invalid() -> None:
    with pytest.raises(TextError, match="phone_one"):
        normalize("110", phone_one="1")


def test_hotline_never_read_as_quantity() -> None:
    out = normalize("遇到诈骗，拨打96110")
    assert "万" not in out and out.endswith("九六一一零")


def test_normalize_long_script_has_no_digits() -> None:
    text = (
        "2022年12月1日起施行的《中华人民共和国反电信网络诈骗法》第31条明确规定。"
        "大姐一共转出去1.5万元。说一次给3000元好处费。\n"
        "宪法第111条还规定，村村响每天7:30播出，发放宣传单2000余份。"
    )
    out = normalize(text)
    assert not ANY_DIGIT.search(out)
    assert out.count("\n") == 1


_ALPHABET = (
    list("0123456789") * 3
    + list("０１２３４５６７８９٣")
    + list("%％:：.．-—～~/／,，、。；年月日号第条款个人元万余份电话拨打热线 \n+−()（）〔〕AbG·•・")
    + ["2024", "110", "96110", "0319-", "138", "12:30", "1.5", "第", "年", "电话"]
)


@pytest.mark.parametrize("seed", range(10))
def test_no_digit_survives_random_strings(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 30)))
        for one in ("一", "幺"):
            out = normalize(text, phone_one=one)
            assert not ANY_DIGIT.search(out), (text, out)


def test_no_digit_in_sample_scripts() -> None:
    scripts = Path(__file__).resolve().parents[1] / "scripts"
    files = sorted(scripts.glob("*.txt")) + sorted(scripts.glob("*.md"))
    if not files:
        pytest.skip("no sample scripts")
    for f in files:
        assert not ANY_DIGIT.search(normalize(f.read_text(encoding="utf-8"))), f.name


# --------------------------------------------------------------------------- lexicon


def test_lexicon_applied_longest_first() -> None:
    lexicon = {"重": "虫", "重庆": "崇庆", "重庆市": "崇庆是"}
    assert normalize("重庆市和重庆，重新", lexicon) == "崇庆是和崇庆，虫新"


def test_lexicon_no_cascade() -> None:
    # a replacement is never replaced again
    assert normalize("甲乙", {"甲": "乙", "乙": "丙"}) == "乙丙"


def test_lexicon_keys_with_digits_and_digit_values() -> None:
    lexicon = {"3·15": "三一五", "某热线": "热线12345"}
    assert normalize("3·15晚会", lexicon) == "三一五晚会"
    assert normalize("３·１５晚会", lexicon) == "三一五晚会"  # full-width input matches too
    # the lexicon runs first, so it wins over the month·day rule
    assert normalize("3·15晚会") == "三月十五日晚会"
    assert normalize("3·15晚会，12·4国家宪法日", lexicon) == "三一五晚会，十二月四日国家宪法日"
    assert normalize("请打某热线", lexicon) == "请打热线一二三四五"


def test_load_lexicon_good(tmp_path: Path) -> None:
    p = tmp_path / "lexicon.toml"
    p.write_text('# 说明\n[replace]\n"重庆" = "崇庆"\n"给予" = "挤予"\n', encoding="utf-8")
    assert load_lexicon(p) == {"重庆": "崇庆", "给予": "挤予"}


def test_load_lexicon_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "lexicon.toml"
    p.write_text("# 还没有词条\n", encoding="utf-8")
    assert load_lexicon(p) == {}


def test_load_lexicon_with_bom(tmp_path: Path) -> None:
    p = tmp_path / "lexicon.toml"
    p.write_bytes('[replace]\n"重庆" = "崇庆"\n'.encode("utf-8-sig"))
    assert load_lexicon(p) == {"重庆": "崇庆"}


def test_sample_lexicon_in_project_loads() -> None:
    sample = Path(__file__).resolve().parents[1] / "lexicon.toml"
    lexicon = load_lexicon(sample)
    assert lexicon and all(isinstance(v, str) and v for v in lexicon.values())
    assert not ANY_DIGIT.search(normalize("3·15 给予处分 2024年", lexicon))
    assert normalize("3·15晚会", lexicon) == "三一五晚会"


def test_load_lexicon_missing(tmp_path: Path) -> None:
    p = tmp_path / "nope.toml"
    with pytest.raises(TextError) as e:
        load_lexicon(p)
    assert "nope.toml" in str(e.value) and "找不到" in str(e.value)


@pytest.mark.parametrize(
    ("content", "line", "hint"),
    [
        ('[replace]\n"重庆" = "崇庆"\n"给予" = "挤予\n', 3, "引号"),
        ("[replace]\n重庆 崇庆\n", 2, "等号"),
        ('[replace\n"a" = "b"\n', 1, "方括号"),
        ('[replace]\n"a" = 崇庆\n', 2, "双引号"),
    ],
)
def test_load_lexicon_syntax_error(tmp_path: Path, content: str, line: int, hint: str) -> None:
    p = tmp_path / "lexicon.toml"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(TextError) as e:
        load_lexicon(p)
    msg = str(e.value)
    assert "lexicon.toml" in msg and f"第{line}行" in msg and "TOML 语法错误" in msg
    assert hint in msg


def test_load_lexicon_duplicate_key(tmp_path: Path) -> None:
    p = tmp_path / "lexicon.toml"
    p.write_text('[replace]\n"a" = "b"\n"a" = "c"\n', encoding="utf-8")
    with pytest.raises(TextError, match="写了两次"):
        load_lexicon(p)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('[replace]\n"重庆" = 1\n', "重庆"),
        ('[replace]\n"重庆" = ["崇庆"]\n', "重庆"),
        ('[replace]\n"重庆" = true\n', "重庆"),
        ('[replace."重庆"]\n"x" = "y"\n', "重庆"),
    ],
)
def test_load_lexicon_non_string_value(tmp_path: Path, content: str, needle: str) -> None:
    p = tmp_path / "lexicon.toml"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(TextError) as e:
        load_lexicon(p)
    msg = str(e.value)
    assert "lexicon.toml" in msg and needle in msg and "不是文字" in msg


def test_load_lexicon_unknown_top_level_key(tmp_path: Path) -> None:
    p = tmp_path / "lexicon.toml"
    p.write_text('[replace]\n"a" = "b"\n[replaces]\n"c" = "d"\n', encoding="utf-8")
    with pytest.raises(TextError, match="replaces"):
        load_lexicon(p)


@pytest.mark.parametrize(
    "content",
    ['replace = "x"\n', '[replace]\n"" = "x"\n', '[replace]\n"a" = ""\n'],
)
def test_load_lexicon_bad_entries(tmp_path: Path, content: str) -> None:
    p = tmp_path / "lexicon.toml"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(TextError, match="lexicon.toml"):
        load_lexicon(p)


def test_load_lexicon_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "lexicon.toml"
    p.write_bytes('[replace]\n"重庆" = "崇庆"\n'.encode("gbk"))
    with pytest.raises(TextError, match="UTF-8"):
        load_lexicon(p)


# --------------------------------------------------------------------------- sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("乡亲们好。今天讲宪法！", ["乡亲们好。", "今天讲宪法！"]),
        ("你知道吗？不知道；好吧", ["你知道吗？", "不知道；", "好吧"]),
        ("Hello! Yes? a;b", ["Hello!", "Yes?", "a;", "b"]),
        ("第一行\n第二行\n\n第三行。", ["第一行", "第二行", "第三行。"]),
        ("他说：“不合格。”大姐一听", ["他说：“不合格。”", "大姐一听"]),
        ("真的吗？！好。", ["真的吗？！", "好。"]),
        ("", []),
        ("  \n \n", []),
        ("没有句号", ["没有句号"]),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


# --------------------------------------------------------------------------- chunk


def _squash(s: str) -> str:
    return re.sub(r"\s", "", s)


def test_chunk_long_text_without_newline() -> None:
    rng = random.Random(7)
    words = "乡亲们法治宣传民法典宪法反诈骗电话安全个人信息保护"
    text = "".join(
        rng.choice(words) if rng.random() > 0.05 else rng.choice("。，！？、")
        for _ in range(10_000)
    )
    assert len(text) == 10_000
    pieces = chunk(text)
    assert all(0 < len(p) <= 1000 for p in pieces)
    assert all(len(p.encode("utf-8")) <= 3000 for p in pieces)
    assert "".join(pieces) == text


def test_chunk_no_punctuation_is_hard_cut() -> None:
    text = "法" * 10_000
    pieces = chunk(text)
    assert all(0 < len(p) <= 1000 and len(p.encode()) <= 3000 for p in pieces)
    assert "".join(pieces) == text


@pytest.mark.parametrize(("max_chars", "max_bytes"), [(1000, 3000), (50, 60), (7, 6), (300, 4096)])
def test_chunk_limits(max_chars: int, max_bytes: int) -> None:
    text = ("今天讲一讲民法典，邻里纠纷怎么办？大家要记住：先商量。" * 40 + "\n") * 5
    text += 'A&B<c>"引号"' * 30
    pieces = chunk(text, max_chars=max_chars, max_bytes=max_bytes)
    for p in pieces:
        assert p and p == p.strip()
        assert len(p) <= max_chars
        escaped = p.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        escaped = escaped.replace('"', "&quot;").replace("'", "&apos;")
        assert len(escaped.encode("utf-8")) <= max_bytes
    assert _squash("".join(pieces)) == _squash(text)


def test_chunk_keeps_whole_sentences_when_possible() -> None:
    sentences = [f"这是第{i}句话，内容不长。" for i in range(200)]
    text = "".join(sentences)
    for piece in chunk(text, max_chars=100):
        assert piece.endswith("。")
        assert len(piece) <= 100


def test_chunk_long_sentence_cut_at_commas() -> None:
    sentence = "，".join(["一段话"] * 100) + "。"
    pieces = chunk(sentence, max_chars=30)
    assert all(len(p) <= 30 for p in pieces)
    assert all(p.endswith(("，", "。")) for p in pieces)
    assert "".join(pieces) == sentence


def test_chunk_short_and_empty() -> None:
    assert chunk("") == []
    assert chunk("  \n\n ") == []
    assert chunk("短文本。") == ["短文本。"]


def test_chunk_bad_limits() -> None:
    with pytest.raises(TextError):
        chunk("文字", max_chars=0)
    with pytest.raises(TextError):
        chunk("文字", max_bytes=2)


# --------------------------------------------------------------------------- import cost


def test_import_does_not_load_cn2an() -> None:
    code = "import sys, broadcast.text; print('cn2an' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
