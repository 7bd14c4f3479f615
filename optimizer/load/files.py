"""Open a file the user gives us, refusing what is not an ordinary file before reading a byte.

Every input (scenario, rulebook, catalogue) goes through `open_input`: a link to /dev/zero or
/dev/urandom would otherwise be read until memory runs out, and a FIFO would block forever. The
file is opened non-blocking (so opening a FIFO returns at once) and judged by `fstat` on the open
descriptor (so what is checked is what is read, even if the name is swapped meanwhile); only a
regular file no larger than its kind's limit is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from optimizer.load.errors import InputError

MB = 1024 * 1024
# The largest file of each kind that is read (SPEC 2; README "Limits on inputs"). Generous: a
# scenario or rulebook is a few hundred lines; a 10-million-SKU catalogue CSV is ~1.2 GB.
LIMITS = {
    "scenario": 4 * MB,
    "rulebook": 4 * MB,
    "catalogue": 4096 * MB,
}

_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
          | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0))


def size_text(n: int) -> str:
    """Bytes for a person: 4 MB, 1.5 GB, 700 bytes."""
    if n < 10 * 1024:
        return f"{n:,} bytes"
    if n < 1024 * MB:
        return f"{n / MB:,.3g} MB" if n < 100 * MB else f"{n // MB:,} MB"
    return f"{n / (1024 * MB):,.3g} GB"


def not_regular(mode: int) -> str:
    """What a path that is no regular file is, as a person reads it."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_input(path: Path, what: str, limit: int | None = None) -> BinaryIO:
    """The user's file opened for binary reading, or InputError (exit 2) naming it.

    Refused without reading: a missing file, a folder, a FIFO, a device or a socket (also behind
    a symlink), and a file larger than `limit` (default: the limit of `what`)."""
    file = str(path)
    limit = LIMITS.get(what, LIMITS["catalogue"]) if limit is None else limit
    try:
        fd = os.open(path, _FLAGS)
    except FileNotFoundError:
        raise InputError.one(file, "", "", f"{what} file not found") from None
    except IsADirectoryError:
        raise InputError.one(file, "", "", f"is a folder, not a {what} file") from None
    except OSError as exc:
        raise InputError.one(file, "", "", f"cannot read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = not_regular(st.st_mode)
            target = os.path.realpath(path)
            via = f" (a link to {target})" if os.path.islink(path) else ""
            raise InputError.one(file, "", "", f"is {kind}{via}, not a {what} file; only a "
                                 "regular file is read")
        if st.st_size > limit:
            raise InputError.one(file, "", "", _too_big(st.st_size, what, limit))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _too_big(size: int | None, what: str, limit: int) -> str:
    shown = f"{size_text(size)}, " if size is not None else ""
    return (f"{shown}larger than the {size_text(limit)} a {what} file may be "
            "(README: Limits on inputs)")


def read_input(path: Path, what: str, limit: int | None = None) -> bytes:
    """The bytes of a user's file (see open_input), never more than its limit."""
    limit = LIMITS.get(what, LIMITS["catalogue"]) if limit is None else limit
    with open_input(path, what, limit) as fh:
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise InputError.one(str(path), "", "",
                                 f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:  # it grew after it was opened
        raise InputError.one(str(path), "", "", _too_big(None, what, limit))
    return data
