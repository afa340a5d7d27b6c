"""Evaluation batches as CSV files, the way provincial offices make them.

Everything CSV lives here: the column table (the JSON name of each column, its Chinese
and English headers, whether it is required, its format in both languages), header
matching, decoding, the file's own line number of each row, telling a CSV file from a
JSON one by its content, and the template ``GET /v1/issuance/template.csv`` serves.

* Headers: the JSON name (``holderName``), the Python name (``holder_name``), the
  Chinese header (``姓名``) or the English one (``Holder name``), in any case and
  spacing, full-width or not; or a Chinese and an English header in one cell
  (``姓名 / Holder name``), as the template has them. A byte order mark is fine.
* Encodings: UTF-8, with or without a byte order mark; GB18030 (a superset of GBK and
  GB 2312: what Excel saves as "CSV" on a Chinese Windows) when the request says
  ``charset=gb18030`` (or ``gbk``, ``gb2312``), or when the bytes are not UTF-8.
* Lines: each row carries the physical line of the file where its record starts (a
  quoted cell may span lines), so that an error names the line an editor shows.
* Cells: spaces around a value are dropped, and empty cells are left out (an optional
  column may stay empty). Rows whose cells are all empty are skipped, as Excel leaves
  them. ``证件类型`` may also be written ``居民身份证`` or ``护照``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import textwrap
import unicodedata
from dataclasses import dataclass
from typing import Any

from registry.credentials.issuance import CSV_COLUMNS, IssueRequest
from registry.errors import InvalidInputError

__all__ = [
    "COLUMNS",
    "Column",
    "CsvRows",
    "charset_of",
    "columns_help",
    "columns_markdown",
    "decode",
    "is_csv",
    "match_header",
    "parse",
    "read_batch",
    "rows_from_csv",
    "template",
]


@dataclass(frozen=True)
class Column:
    """One column of a batch file."""

    #: the field's name in JSON batches and in row errors (camelCase)
    name: str
    #: the header the template gives it, in Chinese and in English
    zh: str
    en: str
    #: the value's format, in Chinese and in English
    format_zh: str
    format_en: str
    #: other headers that name this column (Chinese ones offices use)
    aliases: tuple[str, ...] = ()

    @property
    def field(self) -> str:
        """The field of :class:`IssueRequest` (snake_case)."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower()

    @property
    def required(self) -> bool:
        """Whether a row must have a value here: what :class:`IssueRequest` says."""
        return IssueRequest.model_fields[self.field].is_required()

    @property
    def header(self) -> str:
        """The template's header cell: Chinese, then English."""
        return f"{self.zh} / {self.en}"


COLUMNS: tuple[Column, ...] = (
    Column(
        "holderName",
        "姓名",
        "Holder name",
        "与证件上的姓名一致，最多 128 字",
        "as on the identity document, up to 128 characters",
        ("持证人姓名",),
    ),
    Column(
        "idType",
        "证件类型",
        "ID type",
        "resident（居民身份证）或 passport（护照）；也可填“居民身份证”“护照”",
        "resident (resident identity card) or passport; 居民身份证 and 护照 are accepted too",
    ),
    Column(
        "idNumber",
        "证件号码",
        "ID number",
        "18 位公民身份号码（末位可为 X）或护照号码；在 Excel 中请把此列设为“文本”，以免被改成科学计数法",
        "the 18-character resident ID number (the last may be X) or the passport number; "
        "in Excel format this column as Text, or it turns the number into 1.10105E+17",
        ("身份证号码", "公民身份号码", "身份证号"),
    ),
    Column(
        "typeCode",
        "类型代码",
        "Type code",
        "目录中的职称或资格类型代码，如 ENG-ASSOCIATE_SENIOR（见 GET /v1/catalogue）",
        "a title or qualification type code of the catalogue, such as ENG-ASSOCIATE_SENIOR "
        "(see GET /v1/catalogue)",
        ("职称类型代码", "资格类型代码"),
    ),
    Column(
        "specialty",
        "专业",
        "Specialty",
        "评审专业，如 电气工程及其自动化，最多 128 字；目录中有专业的类型必填，其他类型留空",
        "the specialty evaluated, such as 电气工程及其自动化, up to 128 characters; "
        "needed for the catalogue's types that have specialties, empty for the others",
        ("评审专业",),
    ),
    Column(
        "evaluationCommittee",
        "评审委员会",
        "Evaluation committee",
        "评审委员会全称，最多 256 字",
        "the evaluation committee's full name, up to 256 characters",
        ("评委会", "评审委员会名称"),
    ),
    Column(
        "awardedOn",
        "取得日期",
        "Awarded on",
        "2026-11-21 或 2026/11/21（月、日可为一位数），不晚于当天",
        "2026-11-21 or 2026/11/21 (month and day may have one digit), not after today",
        ("取得时间", "评审通过日期"),
    ),
    Column(
        "validFrom",
        "生效时间",
        "Valid from",
        "带时区的日期时间，如 2026-11-21T00:00:00+08:00；留空则为取得日期当天零时（北京时间）",
        "a date-time with its offset, such as 2026-11-21T00:00:00+08:00; "
        "empty: the start of the award date (China Standard Time)",
        ("生效日期",),
    ),
    Column(
        "validUntil",
        "失效时间",
        "Valid until",
        "带时区的日期时间，晚于生效时间；留空则长期有效",
        "a date-time with its offset, after validFrom; empty: no end",
        ("失效日期",),
    ),
)
assert tuple(c.field for c in COLUMNS) == CSV_COLUMNS, "the column table follows IssueRequest"

#: Values of 证件类型 as offices write them, and the code each stands for.
ID_TYPE_WORDS = {"居民身份证": "resident", "身份证": "resident", "护照": "passport"}

#: Charset labels (WHATWG Encoding names and aliases) read as GB18030, which contains
#: GBK and GB 2312; and those read as UTF-8 (US-ASCII is a subset of it).
GB18030_LABELS = frozenset(
    {
        "gb18030",
        "gbk",
        "gb2312",
        "gb_2312",
        "gb_2312-80",
        "x-gbk",
        "cp936",
        "windows-936",
        "chinese",
        "csgb2312",
        "csiso58gb231280",
        "iso-ir-58",
    }
)
UTF8_LABELS = frozenset({"utf-8", "utf8", "unicode-1-1-utf-8", "us-ascii", "ascii"})

_SEPARATORS = re.compile(r"[/|()\n\r]")
_IGNORED = re.compile(r"[\s_\-*\ufeff]+")


def _key(text: str) -> str:
    """A header as compared: NFKC (full-width is ASCII), case-folded, without spaces,
    underscores, hyphens, asterisks (a mark some offices put on required columns) or a
    byte order mark."""
    return _IGNORED.sub("", unicodedata.normalize("NFKC", text).casefold())


def _header_index() -> dict[str, Column]:
    index: dict[str, Column] = {}
    for column in COLUMNS:
        for text in (column.name, column.field, column.zh, column.en, *column.aliases):
            index[_key(text)] = column
    return index


_HEADERS = _header_index()


def match_header(cell: str) -> Column | None:
    """The column a header cell names, or None. A cell may hold two names of one column
    (``姓名 / Holder name``, ``姓名（holderName）``)."""
    found = _HEADERS.get(_key(cell))
    if found is not None:
        return found
    parts = [p for p in (_key(p) for p in _SEPARATORS.split(unicodedata.normalize("NFKC", cell))) if p]
    named = {_HEADERS.get(p) for p in parts}
    if parts and len(named) == 1 and None not in named:
        return named.pop()
    return None


# --- decoding ----------------------------------------------------------------------


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type, lower case, or None."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').strip().lower() or None
    return None


def _line_of(raw: bytes, position: int) -> int:
    return raw.count(b"\n", 0, position) + 1


def decode(raw: bytes, charset: str | None = None) -> str:
    """The text of a CSV file: as its ``charset`` says (UTF-8 or GB18030 and the labels
    of its subsets), or, when none is given, UTF-8 if the bytes are UTF-8 and GB18030
    otherwise. A byte order mark is dropped. :class:`InvalidInputError` naming the line
    of the first byte that cannot be read."""
    label = (charset or "").strip().lower() or None
    if label is not None and label not in GB18030_LABELS and label not in UTF8_LABELS:
        raise InvalidInputError(
            f"不支持的字符集 {label}：请使用 UTF-8 或 GB18030（GBK）/ "
            f"charset {label} is not supported: send UTF-8 or GB18030 (GBK)"
        )
    if label in GB18030_LABELS:
        text = _strict(raw, "gb18030", "GB18030")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if label is not None:  # said UTF-8, and it is not
                line = _line_of(raw, exc.start)
                raise InvalidInputError(
                    f"文件不是 UTF-8 编码（第 {line} 行）；GBK 文件请声明 charset=gb18030 / "
                    f"the file is not UTF-8 (line {line}); declare charset=gb18030 for a GBK file"
                ) from None
            try:
                text = raw.decode("gb18030")
            except UnicodeDecodeError:
                line = _line_of(raw, exc.start)
                raise InvalidInputError(
                    f"文件既不是 UTF-8 也不是 GB18030（GBK）编码（第 {line} 行起无法读取）；"
                    "请在 Excel 中另存为“CSV UTF-8” / "
                    f"the file is neither UTF-8 nor GB18030 (GBK): it cannot be read from line {line}; "
                    'save it from Excel as "CSV UTF-8"'
                ) from None
    return text.removeprefix("\ufeff")


def _strict(raw: bytes, codec: str, name: str) -> str:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = _line_of(raw, exc.start)
        raise InvalidInputError(
            f"文件不是 {name} 编码（第 {line} 行起无法读取）/ "
            f"the file is not {name} (line {line} cannot be read)"
        ) from None


def is_csv(data: bytes) -> bool:
    """Whether a batch file is CSV rather than JSON, by its content: JSON opens with
    ``{`` or ``[`` (after a byte order mark and white space); a CSV file opens with its
    header row."""
    head = data.lstrip(codecs.BOM_UTF8).lstrip(b" \t\r\n")
    if head.startswith(b"\x84\x31\x95\x33"):  # GB18030's byte order mark
        return True
    return not head.startswith((b"{", b"["))


# --- reading -----------------------------------------------------------------------


@dataclass(frozen=True)
class CsvRows:
    """The rows of a CSV batch (dicts with JSON names, empty cells left out) and, for
    each, the line of the file where its record starts."""

    rows: list[dict[str, Any]]
    lines: list[int]


def read_batch(raw: bytes, charset: str | None = None) -> CsvRows:
    """A CSV batch file's rows: decoded (see :func:`decode`) and read (see :func:`parse`)."""
    return parse(decode(raw, charset))


def rows_from_csv(text: str) -> list[dict[str, Any]]:
    """The rows of a CSV batch (without their line numbers)."""
    return parse(text).rows


def _delimiter(text: str) -> str:
    """Comma, unless the first line has none and has tabs (Excel's "Unicode text") or
    semicolons (spreadsheets set to a decimal comma)."""
    first = text.split("\n", 1)[0]
    if "," not in first:
        for candidate in ("\t", ";"):
            if candidate in first:
                return candidate
    return ","


def parse(text: str) -> CsvRows:
    """Rows of a CSV text with a header row (see the module's description), or
    :class:`InvalidInputError` for a file that is not such a table."""
    text = text.removeprefix("\ufeff")
    try:
        return _parse(text)
    except csv.Error as exc:
        raise InvalidInputError(f"无法读取 CSV / CSV cannot be read: {exc}") from None


def _parse(text: str) -> CsvRows:
    # newline="": the reader sees line ends as they are, and counts every physical line.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    header: list[str] | None = None
    header_line = 0
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    columns: list[Column | None] = []
    too_long: list[int] = []
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InvalidInputError(
                f"第 {reader.line_num} 行无法读取 / CSV line {reader.line_num} cannot be read: {exc}"
            ) from None
        values = [c.strip() for c in cells]
        if not any(values):
            continue
        if header is None:
            header, header_line = cells, start
            columns = _columns(header, header_line)
            continue
        if len(values) > len(columns) and any(values[len(columns) :]):
            too_long.append(start)
            continue
        row: dict[str, Any] = {}
        for column, value in zip(columns, values, strict=False):
            if not value:
                continue
            if column is None:  # a column without a header, with something in it
                too_long.append(start)
                break
            if column.name == "idType":
                value = ID_TYPE_WORDS.get(value) or (value.lower() if value.isascii() else value)
            row[column.name] = value
        rows.append(row)
        lines.append(start)
    if header is None:
        raise InvalidInputError(
            "CSV 文件为空，首行应为表头 / the CSV file is empty: its first row names the columns"
        )
    if too_long:
        shown = ", ".join(str(n) for n in too_long[:20]) + (" …" if len(too_long) > 20 else "")
        raise InvalidInputError(
            f"以下各行有表头之外的内容 / these lines have cells beyond the header's columns: {shown}",
            lines=too_long,
        )
    return CsvRows(rows, lines)


def _columns(header: list[str], line: int) -> list[Column | None]:
    columns: list[Column | None] = []
    unknown: list[str] = []
    seen: dict[str, int] = {}
    twice: list[str] = []
    for cell in header:
        text = cell.strip()
        if not text:
            columns.append(None)
            continue
        column = match_header(text)
        if column is None:
            unknown.append(text)
        elif column.name in seen:
            twice.append(text)
        else:
            seen[column.name] = len(columns)
        columns.append(column)
    missing = [c for c in COLUMNS if c.required and c.name not in seen]
    if unknown or missing or twice:
        parts = []
        if unknown:
            parts.append("未知的列 / unknown columns: " + ", ".join(unknown))
        if missing:
            parts.append(
                "缺少必填列 / missing required columns: " + ", ".join(f"{c.zh} ({c.name})" for c in missing)
            )
        if twice:
            parts.append("重复的列 / columns named twice: " + ", ".join(twice))
        raise InvalidInputError(
            f"第 {line} 行表头有误 / the header (line {line}) is wrong: "
            + "; ".join(parts)
            + ". 可用的列 / the columns are: "
            + ", ".join(f"{c.zh} / {c.en} ({c.name})" for c in COLUMNS)
        )
    return columns


# --- the template and the documentation of the columns ----------------------------


def template() -> bytes:
    """A blank batch file: a UTF-8 byte order mark (so that Excel shows the Chinese
    headers) and one header row, each cell the Chinese and the English header. It reads
    back unchanged: fill rows under it and upload it."""
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerow([c.header for c in COLUMNS])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def columns_help() -> str:
    """The columns, for ``registry issue --help``: one line each, then its format."""
    lines = []
    for c in COLUMNS:
        need = "必填 required" if c.required else "选填 optional"
        lines.append(f"  {c.name:<20} {c.zh} / {c.en} ({need})")
        lines.append(f"      {c.format_zh}")
        lines.extend(textwrap.wrap(c.format_en, 96, initial_indent=" " * 6, subsequent_indent=" " * 6))
    return "\n".join(lines)


def columns_markdown() -> str:
    """The columns as the Markdown table of README's "CSV batches" section."""
    lines = [
        "| 列 column (JSON) | 中文表头 | English header | 必填 required | 格式 format |",
        "|---|---|---|---|---|",
    ]
    for c in COLUMNS:
        need = "必填 required" if c.required else "选填 optional"
        lines.append(f"| `{c.name}` | {c.zh} | {c.en} | {need} | {c.format_zh}<br>{c.format_en} |")
    return "\n".join(lines)
