"""A zip package (.xlsx, .docx) checked before a reader unpacks it: a small file may unpack into
gigabytes (a zip bomb), or hold millions of XML elements that take minutes and gigabytes to parse
(10 million empty paragraphs are 125 KB zipped). Both are refused in about a second, whatever the
file holds. A file that is not a zip is left to its reader to refuse."""

from __future__ import annotations

import io
import zipfile
from xml.parsers import expat

from services.spreadsheet.layout import FILE
from services.spreadsheet.results import FileProblem, RowError

MAX_UNPACKED = 64 * 1024 * 1024  # the readers hold a part's text in memory; a plan's tables are far smaller
# A 20,000-row sheet of a dozen filled columns is about 500,000 elements, a plan's document far fewer.
MAX_ELEMENTS = 1_000_000
_CHUNK = 1 << 20


class _TooMany(Exception):
    pass


def check_package(content: bytes, what_zh: str) -> None:
    """FileProblem when the package unpacks to more than MAX_UNPACKED bytes, or its XML parts hold
    more than MAX_ELEMENTS elements together; `what_zh` names it in the Chinese reason (文档, 工作簿)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        return
    with archive:
        unpacked = sum(member.file_size for member in archive.infolist())
        if unpacked > MAX_UNPACKED:
            raise _refused(f"it unpacks to {unpacked} bytes, more than {MAX_UNPACKED}", f"{what_zh}解压后过大")
        counted = 0
        for member in archive.infolist():
            if member.filename.endswith((".xml", ".rels")):
                counted += _elements(archive, member, MAX_ELEMENTS - counted, what_zh)


def _refused(reason: str, reason_zh: str) -> FileProblem:
    return FileProblem(
        RowError(0, FILE, "", f"{reason}: not a sheet or table to read", f"{reason_zh}，不是可读取的表格")
    )


def _elements(archive: zipfile.ZipFile, member: zipfile.ZipInfo, allowed: int, what_zh: str) -> int:
    """The number of elements in one XML part, counted as it streams (never held whole);
    FileProblem as soon as there are more than `allowed`. Damaged XML is left to the reader."""
    count = 0

    def start(_name: str, _attributes: list[str]) -> None:
        nonlocal count
        count += 1
        if count > allowed:
            raise _TooMany

    parser = expat.ParserCreate()
    parser.ordered_attributes = True  # a list, cheaper than a dict per element
    parser.StartElementHandler = start
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _TooMany:
        raise _refused(
            f"its XML holds more than {MAX_ELEMENTS} elements", f"{what_zh}内容超过{MAX_ELEMENTS}个XML元素"
        ) from None
    except expat.ExpatError:
        pass  # not well-formed: the reader says the file is damaged
    return count
