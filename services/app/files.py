"""Files a command reads or writes, checked before the work (docs/input-bounds.md, "Files").

Reading: only a regular file — a directory, a pipe, a device (/dev/zero) or a socket is refused
before a byte is read, and so is a file over the cap its kind has; the read itself stops at the cap
(a file that grows meanwhile). Writing: a file is written whole or not at all — a temporary file
beside it is created first (so a path that cannot be written, /proc/x or a read-only folder, is
refused before anything is stored or published) and renamed over it once complete.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

_KINDS = (
    (stat.S_ISDIR, "a directory", "目录"),
    (stat.S_ISFIFO, "a pipe (FIFO)", "管道"),
    (stat.S_ISCHR, "a character device", "字符设备"),
    (stat.S_ISBLK, "a block device", "块设备"),
    (stat.S_ISSOCK, "a socket", "套接字"),
)


class FileRefused(OSError):
    """A path refused before it is read or written: `strerror` (and `reason`) says why, in English,
    `reason_zh` in Chinese; `filename` is the path. An OSError, so that a caller that reports a file
    it cannot read reports this the same way."""

    def __init__(self, path: Path | str, reason: str, reason_zh: str) -> None:
        super().__init__(errno.EINVAL, reason, str(path))
        self.reason, self.reason_zh = reason, reason_zh

    def __str__(self) -> str:
        return f"{self.filename} {self.reason}"


def said(exc: OSError, path: Path | str, doing: str = "read") -> str:
    """One line for a file refused or that an OSError stopped: `/dev/zero is a character device, not
    a regular file`, `x.md cannot be written: Permission denied`."""
    return str(exc) if isinstance(exc, FileRefused) else f"{path} cannot be {doing}: {exc.strerror}"


def _not_regular(path: Path | str, mode: int) -> FileRefused:
    kind, kind_zh = next(((k, z) for test, k, z in _KINDS if test(mode)), ("not a file", "非普通文件"))
    return FileRefused(path, f"is {kind}, not a regular file", f"是{kind_zh}，不是普通文件")


@contextmanager
def open_regular(path: Path) -> Iterator[BinaryIO]:
    """`path` opened for reading if it is a regular file, else FileRefused; OSError if it cannot be
    opened. Opened without waiting (a FIFO no one writes to would block the open) and checked on the
    open file, so that nothing can swap it between the check and the read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode)
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them: FileRefused if it is not a
    regular file or is larger (told from its size before reading; the read stops at the cap)."""
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        content = handle.read(limit + 1) if size <= limit else b""
    if size > limit or len(content) > limit:
        raise too_large(path, max(size, len(content)), limit)
    return content


def too_large(path: Path | str, size: int, limit: int) -> FileRefused:
    return FileRefused(
        path,
        f"is {size:,} bytes, over the limit of {limit:,} bytes",
        f"文件过大（{size:,}字节，上限{limit:,}字节）",
    )


class OutputFile:
    """A file written whole or not at all: a temporary file is created beside `path` at once (a path
    that cannot be written is refused here, FileRefused, before any work), then `commit` renames it
    over `path` and `discard` removes it. As a context manager: committed if the block ends normally,
    discarded if it raises. With `overwrite=False` an existing file is refused, now and at commit."""

    def __init__(self, path: Path, *, overwrite: bool = True) -> None:
        self.path, self.overwrite = _target(path, overwrite), overwrite
        self.temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.partial")
        try:  # mode 0o666 less the umask, as a file open() creates
            fd = os.open(self.temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as exc:
            raise FileRefused(path, f"cannot be written: {exc.strerror}", "无法写入") from None
        self.file: BinaryIO = os.fdopen(fd, "wb")
        if self.path.exists():  # an existing file keeps its permissions
            os.chmod(fd, stat.S_IMODE(self.path.stat().st_mode))

    def write(self, content: bytes) -> None:
        self.file.write(content)

    def commit(self) -> None:
        """Rename the written file over `path`; FileRefused (the temporary file removed) if it
        cannot be."""
        try:
            self.file.close()
            if not self.overwrite and self.path.exists():
                raise FileRefused(self.path, "exists: it is not overwritten", "文件已存在，不予覆盖")
            os.replace(self.temporary, self.path)
        except FileRefused:
            self.discard()
            raise
        except OSError as exc:
            self.discard()
            raise FileRefused(self.path, f"cannot be written: {exc.strerror}", "无法写入") from None

    def discard(self) -> None:
        self.file.close()
        self.temporary.unlink(missing_ok=True)

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def _target(path: Path, overwrite: bool) -> Path:
    """The file to write for `path` (a symbolic link's target), or FileRefused saying why not."""
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise FileRefused(path, f"cannot be written: {exc.strerror}", "无法写入") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise FileRefused(path, "is a directory: give a file name", "是目录，请给出文件名")
    if mode is not None and not stat.S_ISREG(mode):  # a rename would put a file in place of the device
        raise _not_regular(path, mode)
    if mode is not None and not overwrite:
        raise FileRefused(path, "exists: it is not overwritten", "文件已存在，不予覆盖")
    if not path.parent.is_dir():
        raise FileRefused(path, f"is in a folder that does not exist ({path.parent})", "所在目录不存在")
    return path


def check_folder(path: Path) -> None:
    """FileRefused unless files can be written in the folder `path` — an existing directory, or one
    that can be made in the nearest folder that exists (tried with a temporary file there, which is
    removed: nothing is created here)."""
    if path.exists() and not path.is_dir():
        raise FileRefused(path, "is not a directory", "不是目录")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise FileRefused(path, f"cannot be made: {existing} is not a directory", f"无法创建：{existing}不是目录")
    probe = existing / f".planwatch-{secrets.token_hex(4)}.probe"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise FileRefused(path, f"cannot be written in {existing}: {exc.strerror}", "无法写入") from None
    probe.unlink()
