"""Helpers for tests that run ``pseudovault`` as real processes on loopback."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

__all__ = ["free_port", "pseudovault_command"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pseudovault_command() -> list[str]:
    """The installed ``pseudovault`` script of this interpreter, or ``python -m``."""
    script = Path(sys.executable).parent / "pseudovault"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pseudovault.api.cli"]
