"""Reading scripts in the encodings and formats staff really use; storing them once."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcast import scripts
from broadcast.errors import ScriptError

BODY = "乡亲们，近期冒充客服退款的诈骗案件多发。接到陌生来电，请拨打96110咨询。"
TEXT = f"警惕冒充客服退款诈骗\n\n{BODY}\n"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(
    ("codec", "prefix", "label"),
    [
        ("utf-8", b"", "UTF-8"),
        ("utf-8", b"\xef\xbb\xbf", "UTF-8 (BOM)"),
        ("utf-16-le", b"\xff\xfe", "UTF-16"),
        ("utf-16-be", b"\xfe\xff", "UTF-16"),
        ("gb18030", b"", "GB18030"),
        ("gbk", b"", "GB18030"),
    ],
)
def test_encodings_decode_to_the_same_script(tmp_path, codec, prefix, label):
    p = write(tmp_path, "反诈.txt", prefix + TEXT.replace("\n", "\r\n").encode(codec))
    sf = scripts.read(p, 1024 * 1024)
    assert (sf.title, sf.text, sf.encoding) == ("警惕冒充客服退款诈骗", BODY, label)
    assert sf.sha256 == scripts.content_hash(BODY)


def test_markdown_front_matter_gives_title_and_topic(tmp_path):
    md = "---\ntitle: 宪法伴我们成长\ntopic: 宪法\n---\n\n## 小标题\n\n**12月4日**是国家宪法日。\n"
    sf = scripts.read(write(tmp_path, "a.md", md.encode()), 10**6)
    assert (sf.title, sf.topic, sf.text) == (
        "宪法伴我们成长",
        "宪法",
        "小标题\n\n12月4日是国家宪法日。",
    )


def test_markdown_first_heading_gives_title(tmp_path):
    sf = scripts.read(write(tmp_path, "a.md", "# 民法典：高空抛物\n\n正文一句。".encode()), 10**6)
    assert (sf.title, sf.topic, sf.text) == ("民法典：高空抛物", None, "正文一句。")


def test_txt_without_title_line_uses_file_name(tmp_path):
    sf = scripts.read(write(tmp_path, "禁毒宣传.txt", "毒品危害大，请远离毒品。".encode()), 10**6)
    assert (sf.title, sf.text) == ("禁毒宣传", "毒品危害大，请远离毒品。")


def make_docx(path: Path, title: str | None, paragraphs: list[str]) -> Path:
    import docx

    d = docx.Document()
    if title:
        d.add_heading(title, level=1)
    for p in paragraphs:
        d.add_paragraph(p)
    d.save(str(path))
    return path


def test_docx_heading_and_paragraphs(tmp_path):
    p = make_docx(
        tmp_path / "网络安全.docx", "守护个人信息", ["第一段，不要泄露验证码。", "第二段。"]
    )
    sf = scripts.read(p, 10**6)
    assert (sf.title, sf.text, sf.source_format) == (
        "守护个人信息",
        "第一段，不要泄露验证码。\n第二段。",
        "docx",
    )


def test_docx_without_heading_uses_short_first_line(tmp_path):
    p = make_docx(tmp_path / "x.docx", None, ["防溺水安全提醒", "", "不要私自下水游泳。"])
    sf = scripts.read(p, 10**6)
    assert (sf.title, sf.text) == ("防溺水安全提醒", "不要私自下水游泳。")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"", "empty.txt: 文件没有正文（空文件或只有空白）；请检查是否保存了内容"),
        (
            "blank.txt",
            b" \r\n\t\n\xe3\x80\x80 ",
            "blank.txt: 文件没有正文（空文件或只有空白）；请检查是否保存了内容",
        ),
        (
            "pic.txt",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "pic.txt: 这是PNG 图片，不是文字稿件；请选择 .txt、.md 或 .docx 文件",
        ),
        (
            "nul.txt",
            b"abc\x00def",
            "nul.txt: 这是二进制文件，不是文字稿件；请选择 .txt、.md 或 .docx 文件",
        ),
        (
            "bad.txt",
            b"caf\xe9 na\xefve",
            "bad.txt: 无法确定文件编码（第 3 字节无法识别）；请在记事本或 WPS 中“另存为”UTF-8 或 GB18030 编码的 .txt",
        ),
        (
            "big5.txt",
            "中華民國憲法保障人民權利".encode("big5"),
            "big5.txt: 无法确定文件编码（内容不像简体中文）；请在记事本或 WPS 中“另存为”UTF-8 或 GB18030 编码的 .txt",
        ),
        (
            "bad16.txt",
            b"\xff\xfe\x00\xd8",
            "bad16.txt: 无法确定文件编码（声明为 UTF-16，但第 0 字节有误）；请在记事本或 WPS 中“另存为”UTF-8 或 GB18030 编码的 .txt",
        ),
        (
            "broken.docx",
            b"PK\x03\x04 not really a zip",
            "broken.docx: Word 文件已损坏或不是 .docx；请在 WPS/Word 中打开后“另存为”.docx 或 .txt",
        ),
        (
            "old.doc",
            b"\xd0\xcf\x11\xe0",
            "old.doc: 不支持旧版 .doc；请在 WPS/Word 中“另存为”.docx 或 .txt",
        ),
        (
            "a.pdf",
            b"%PDF-1.4",
            "a.pdf: 不支持的文件类型 .pdf；支持稿件 .txt、.md、.docx 和录音 .mp3、.m4a、.wav",
        ),
    ],
)
def test_bad_files_get_one_clear_line(tmp_path, name, data, message):
    with pytest.raises(ScriptError) as e:
        scripts.read(write(tmp_path, name, data), 10**6)
    assert str(e.value) == message


def test_size_limit_names_the_limit(tmp_path):
    p = write(tmp_path, "long.txt", ("法" * 2000).encode())
    with pytest.raises(ScriptError) as e:
        scripts.read(p, 4096)
    assert str(e.value) == (
        "long.txt: 文件过大（6 KB），上限为 4 KB；请拆分稿件，或在 config.toml 的 [scripts] max_bytes 中调高上限"
    )


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ScriptError, match="找不到文件"):
        scripts.read(tmp_path / "nope.txt", 10**6)
    with pytest.raises(ScriptError, match="这是一个文件夹"):
        scripts.read(tmp_path, 10**6)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("接到自称客服的电话要求转账，这是诈骗", "反电诈"),
        ("远离毒品，珍爱生命", "禁毒"),
        ("12月4日是国家宪法日", "宪法"),
        ("民法典规定高空抛物要担责", "民法典"),
        ("保护个人信息，设置复杂密码", "网络安全"),
        ("夏天不要到池塘游泳，谨防溺水", "防溺水"),
        ("冬季用火用电注意消防安全，预防火灾", "消防"),
        ("今天天气很好", None),
    ],
)
def test_topic_guess(text, topic):
    assert scripts.guess_topic(text) == topic


def test_normalised_hash_ignores_line_endings_and_trailing_space():
    assert scripts.content_hash("第一行  \r\n\r\n\r\n第二行\r\n") == scripts.content_hash(
        "第一行\n\n第二行"
    )
