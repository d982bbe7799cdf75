"""Kill safety: whether the collector that started a worker still runs (its pid and kernel
start time), and Linux's parent-death signal, so that no orphaned worker commits a batch
while a re-run is planning."""

from __future__ import annotations

import contextlib
import ctypes
import signal


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent dies (kill -9 included), so no orphan
    commits a batch while a re-run is planning. The parent is the fork server, which exits
    as soon as the collector is gone; ``Worker.commit`` also checks the parent before writing."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start_time(pid: int) -> str | None:
    """The kernel's start time of a live (not zombie) process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def still_running(proc: tuple[int, str] | None) -> bool:
    return proc is None or start_time(proc[0]) == proc[1]

