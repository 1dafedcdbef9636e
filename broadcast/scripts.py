"""Script files: read txt/md/docx in the encodings staff actually save, and recordings.

Reading is pure (file in, :class:`ScriptFile` out, nothing written); the topic a text is about
is guessed here too. Storing a read file is :mod:`script_library`.
Encodings: UTF-8 (with or without BOM), UTF-16 with BOM, GB18030/GBK — what Notepad, WPS and
Word save in China. When the bytes fit no encoding with confidence the error says how to save.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import BroadcastError, ScriptError

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
AUDIO_SUFFIXES = (".mp3", ".m4a", ".wav", ".ogg", ".aac", ".flac", ".amr")
SUFFIXES = (*TEXT_SUFFIXES, ".docx", *AUDIO_SUFFIXES)

# Keyword -> topic; the topic with the most keyword hits wins. Staff see the guess and can
# correct it with --topic.
TOPIC_KEYWORDS: dict[str, tuple[str, ...]] = {
    "反电诈": ("诈骗", "电诈", "反诈", "96110", "转账", "验证码", "刷单", "冒充"),
    "禁毒": ("毒品", "禁毒", "吸毒", "贩毒", "大麻", "冰毒", "海洛因"),
    "宪法": ("宪法",),
    "民法典": ("民法典", "侵权责任", "继承", "婚姻家庭", "高空抛物", "相邻关系"),
    "网络安全": ("网络安全", "个人信息", "密码", "网络谣言", "钓鱼", "隐私"),
    "防溺水": ("溺水", "游泳", "水库", "池塘"),
    "消防": ("消防", "火灾", "灭火", "火灾隐患", "119"),
    "扫黑除恶": ("扫黑", "黑恶", "恶势力"),
    "交通安全": ("交通", "酒驾", "头盔", "电动车"),
    "反邪教": ("邪教",),
    "未成年人保护": ("未成年人", "校园欺凌", "留守儿童"),
    "法律援助": ("法律援助", "12348"),
}
DEFAULT_TOPIC = "普法"

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "PNG 图片"),
    (b"\xff\xd8\xff", "JPEG 图片"),
    (b"GIF8", "GIF 图片"),
    (b"%PDF", "PDF 文件"),
    (b"PK\x03\x04", "压缩包或 Office 文件"),
    (b"\xd0\xcf\x11\xe0", "旧版 Word（.doc）或 Excel 文件"),
    (b"ID3", "MP3 音频"),
    (b"RIFF", "WAV 音频"),
    (b"\x7fELF", "程序文件"),
)


@dataclass(frozen=True)
class ScriptFile:
    """What a script file says, before it is stored."""

    title: str
    text: str
    topic: str | None  # from front matter, if any
    source_name: str
    source_format: str
    encoding: str
    kind: str = "text"  # text | audio (a pre-recorded programme)
    source_path: Path | None = None  # the recording to store, for kind "audio"
    digest: str | None = None  # sha256 of a recording's bytes

    @property
    def sha256(self) -> str:
        return self.digest or content_hash(self.text)


# --- reading ---


def normalise_text(text: str) -> str:
    """NFC, LF line ends, no trailing spaces, at most one blank line in a row, stripped."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\ufeff", "").replace("\u3000", " ")
    lines = [ln.strip() for ln in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def content_hash(text: str) -> str:
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Bytes of a text file -> (text, encoding name). Raise ScriptError naming ``name``."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data[3:], "utf-8", name, "UTF-8 (BOM)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16-le" if data.startswith(b"\xff\xfe") else "utf-16-be"
        return _strict(data[2:], codec, name, "UTF-16")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise ScriptError(f"{name}: 这是{what}，不是文字稿件；请选择 .txt、.md 或 .docx 文件")
    if b"\x00" in data:
        raise ScriptError(f"{name}: 这是二进制文件，不是文字稿件；请选择 .txt、.md 或 .docx 文件")
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as e:
        raise _undecidable(name, f"第 {e.start} 字节无法识别") from e
    # GB18030 decodes most byte strings; accept it only when the result reads as simplified
    # Chinese: nearly every non-ASCII character of a real script is a GB2312 ideograph or
    # Chinese punctuation (Big5 or Latin-1 bytes decode to kana, box drawing or rare ideographs).
    wide = [c for c in text if ord(c) > 0x7F]
    plausible = sum(1 for c in wide if _plausible_chinese(c))
    if wide and plausible / len(wide) < 0.9:
        raise _undecidable(name, "内容不像简体中文")
    return text, "GB18030"


def _plausible_chinese(c: str) -> bool:
    o = ord(c)
    if 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF or 0x2010 <= o <= 0x2027:
        return True  # CJK punctuation, full-width forms, dashes and quotes
    if not 0x4E00 <= o <= 0x9FFF:
        return False
    try:
        c.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _strict(data: bytes, codec: str, name: str, label: str) -> tuple[str, str]:
    try:
        return data.decode(codec), label
    except UnicodeDecodeError as e:
        raise _undecidable(name, f"声明为 {label}，但第 {e.start} 字节有误") from e


def _undecidable(name: str, why: str) -> ScriptError:
    return ScriptError(
        f"{name}: 无法确定文件编码（{why}）；请在记事本或 WPS 中“另存为”UTF-8 或 GB18030 编码的 .txt"
    )


_FRONT = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    m = _FRONT.match(text)
    if not m:
        return {}, text
    meta = {}
    for line in m[1].splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            meta[key.strip().lower()] = value.strip().strip("\"'")
    return meta, text[m.end() :]


def _strip_markdown(text: str) -> str:
    text = re.sub(r"^\s{0,3}#{1,6}\s*", "", text, flags=re.M)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"^\s*[-*+]\s+", "", text, flags=re.M)


def _looks_like_title(line: str) -> bool:
    return 0 < len(line) <= 40 and not re.search(r"[。！？；，,.;!?]$", line)


def _split_title(lines: list[str], fallback: str) -> tuple[str, str]:
    """First non-empty line is the title when it looks like one and more text follows."""
    body = list(lines)
    while body and not body[0].strip():
        body.pop(0)
    if len(body) > 1 and _looks_like_title(body[0].strip()):
        return body[0].strip(), "\n".join(body[1:])
    return fallback, "\n".join(body)


def parse_text(text: str, name: str, fmt: str) -> tuple[str | None, str | None, str]:
    """(title, topic, body) from a txt/md text: front matter, first heading, or first line."""
    text = normalise_text(text)
    meta, text = _front_matter(text)
    title = meta.get("title") or None
    topic = meta.get("topic") or None
    if fmt == "md":
        if title is None:
            m = re.search(r"^#\s+(.+)$", text, flags=re.M)
            if m:
                title = m[1].strip()
                text = text[: m.start()] + text[m.end() :]
        text = _strip_markdown(text)
    if title is None:
        title, text = _split_title(text.split("\n"), "")
    return title or None, topic, normalise_text(text)


def read_docx(path: Path, name: str) -> tuple[str | None, str]:
    """(title, body) of a .docx: a Title/Heading 1 paragraph, or a short first line."""
    import zipfile

    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise ScriptError("缺少 python-docx；请重新安装 broadcast") from e
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise ScriptError(
            f"{name}: Word 文件已损坏或不是 .docx；请在 WPS/Word 中打开后“另存为”.docx 或 .txt"
        ) from e
    title = None
    lines = []
    for p in document.paragraphs:
        style = (p.style.name if p.style is not None else "") or ""
        if title is None and style.lower() in ("title", "heading 1") and p.text.strip():
            title = p.text.strip()
            continue
        lines.append(p.text)
    for table in document.tables:
        for row in table.rows:
            lines.append("　".join(cell.text for cell in row.cells))
    return title, "\n".join(lines)


def read(path: Path, max_bytes: int) -> ScriptFile:
    """Read one script file; raise ScriptError with a one-line, staff-readable reason."""
    name = path.name
    if not path.exists():
        raise ScriptError(f"{path}: 找不到文件；请检查文件名和路径")
    if path.is_dir():
        raise ScriptError(f"{path}: 这是一个文件夹；请指定其中的稿件文件")
    suffix = path.suffix.lower()
    if suffix == ".doc":
        raise ScriptError(f"{name}: 不支持旧版 .doc；请在 WPS/Word 中“另存为”.docx 或 .txt")
    if suffix not in SUFFIXES:
        raise ScriptError(
            f"{name}: 不支持的文件类型 {suffix or '（无扩展名）'}；"
            "支持稿件 .txt、.md、.docx 和录音 .mp3、.m4a、.wav"
        )
    if suffix in AUDIO_SUFFIXES:
        return read_recording(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise ScriptError(
            f"{name}: 文件过大（{_human(size)}），上限为 {_human(max_bytes)}；"
            "请拆分稿件，或在 config.toml 的 [scripts] max_bytes 中调高上限"
        )
    try:
        if suffix == ".docx":
            title, body = read_docx(path, name)
            if title is None:
                title, body = _split_title(normalise_text(body).split("\n"), "")
            topic, encoding, fmt = None, "docx", "docx"
        else:
            data = path.read_bytes()
            text, encoding = decode(data, name)
            fmt = "md" if suffix in (".md", ".markdown") else "txt"
            title, topic, body = parse_text(text, name, fmt)
    except OSError as e:
        raise ScriptError(f"{path}: 无法读取（{e.strerror}）") from e
    body = normalise_text(body)
    if not body:
        raise ScriptError(f"{name}: 文件没有正文（空文件或只有空白）；请检查是否保存了内容")
    if not any(unicodedata.category(c)[0] in "LN" for c in body):
        raise ScriptError(f"{name}: 正文没有可朗读的文字（只有标点、符号或表情）；请检查文件内容")
    if len(body) > max_bytes:
        raise ScriptError(f"{name}: 正文过长（{len(body)} 字），上限为 {_human(max_bytes)}")
    return ScriptFile(
        title=title or path.stem,
        text=body,
        topic=topic,
        source_name=name,
        source_format=fmt,
        encoding=encoding,
    )


def read_recording(path: Path) -> ScriptFile:
    """A pre-recorded programme (phone recording, lecture): checked to be decodable audio."""
    from .mixing import probe_duration

    try:
        seconds = probe_duration(path)
    except BroadcastError as e:
        raise ScriptError(f"{path.name}: 无法识别的录音文件（{e}）；请换成 MP3、M4A 或 WAV") from e
    if seconds < 1.0:
        raise ScriptError(f"{path.name}: 录音太短（{seconds:.1f} 秒）；请检查文件")
    if _is_silent(path):
        raise ScriptError(f"{path.name}: 录音听不到声音（全是静音）；请检查录音")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return ScriptFile(
        title=path.stem,
        text="",
        topic=None,
        source_name=path.name,
        source_format=path.suffix.lower().lstrip("."),
        encoding="audio",
        kind="audio",
        source_path=path,
        digest=digest,
    )


SILENCE_DB = -60.0  # a recording whose loudest sample stays below this is silent


def _is_silent(path: Path) -> bool:
    """The loudest sample of ``path`` (ffmpeg volumedetect) is below SILENCE_DB."""
    import re
    import subprocess

    p = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(path), "-af", "volumedetect"]
        + ["-f", "null", "-"],
        capture_output=True,
        text=True,
        errors="replace",
    )
    m = re.search(r"max_volume:\s*(-?inf|-?[\d.]+) dB", p.stderr)
    return m is not None and float(m[1]) < SILENCE_DB


def _human(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB".replace(".0 MB", " MB")
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} 字节"


def guess_topic(text: str, topics: tuple[str, ...] | None = None) -> str | None:
    """The topic whose keywords occur most often in ``text``, or None."""
    scores = {
        topic: sum(text.count(k) for k in words)
        for topic, words in TOPIC_KEYWORDS.items()
        if topics is None or topic in topics
    }
    best = max(scores.items(), key=lambda kv: kv[1], default=(None, 0))
    return best[0] if best[1] > 0 else None


def check_topic(topic: str, topics: tuple[str, ...]) -> str:
    topic = topic.strip()
    if topic not in topics:
        raise ScriptError(
            f"未知的主题：{topic}；可用主题：{'、'.join(topics)}（可在 config.toml 的 [station] topics 中增加）"
        )
    return topic
