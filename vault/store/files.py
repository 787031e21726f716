"""Append-only files kept outside both stores (the shred ledger, the audit checkpoints): each
append is one ``write()`` of whole lines to a file opened with ``O_APPEND`` (so writers in several
processes never interleave within a line), then ``fsync``; the file is created with mode 0600 in
a directory created with mode 0700. A crash mid-write leaves at most a torn last line, which
readers ignore until it is completed."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["append_durably", "read_whole_lines"]


def append_durably(path: Path, data: bytes) -> None:
    """Append ``data`` (whole lines) to ``path`` and fsync; OSError when it cannot be done whole."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        written = os.write(fd, data)
        if written != len(data):  # a short write on a full disk: the lines are not whole
            raise OSError("short write")
        os.fsync(fd)
    finally:
        os.close(fd)


def read_whole_lines(path: Path, after: int, limit: int) -> tuple[bytes, int]:
    """The complete lines of ``path`` from byte ``after`` (the whole file if it is shorter: it was
    replaced), at most ``limit`` bytes read, and the position of their end. FileNotFoundError when
    there is no file."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if after > size:
            after = 0
        f.seek(after)
        data = f.read(limit)
    end = data.rfind(b"\n") + 1  # a torn last line waits until it is complete
    return data[:end], after + end
