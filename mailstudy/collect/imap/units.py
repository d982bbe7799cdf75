"""Units of work handed to the workers (plan a mailbox; fetch a chunk of its messages; fetch
its small folders) and their results, with the packing of a mailbox's folders into chunks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mailstudy.collect.imap.auth import Account, Auth
from mailstudy.collect.imap.connection import Server
from mailstudy.collect.imap.folders import Folder

SOURCE = "imap"
BATCH_SIZE = 1000  # UIDs per FETCH and per committed Parquet file
CHUNK_SIZE = 4000  # UIDs per unit of work given to a worker
MAX_RETRIES = 6  # reconnections per unit of work before giving up (backoff ~0.5 s .. 16 s)


def pack_chunks(index: int, account: Account, segments: Sequence[Segment], size: int
                ) -> list[ChunkJob]:
    """Cut a mailbox's folders into units of at most ``size`` messages: large folders are
    split, small ones share a unit (fewer commits, and workers get even shares)."""
    out: list[ChunkJob] = []
    cur: list[Segment] = []
    room = size
    for seg in segments:
        uids = seg.uids
        while uids:
            take = uids[:room]
            cur.append(Segment(seg.folder, seg.uidvalidity, take))
            uids = uids[len(take):]
            room -= len(take)
            if room == 0:
                out.append(ChunkJob(index, account, tuple(cur)))
                cur, room = [], size
    if cur:
        out.append(ChunkJob(index, account, tuple(cur)))
    return out


class Reconnects:
    """How many times a unit reconnected (reported per mailbox)."""

    def __init__(self) -> None:
        self.count = 0


@dataclass(frozen=True)
class WorkerConfig:
    study_root: Path
    server: Server
    auth: Auth
    batch_size: int = BATCH_SIZE
    chunk_size: int = CHUNK_SIZE
    max_retries: int = MAX_RETRIES
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    backoff: float = 0.5
    workers: int = 1

    def __repr__(self) -> str:
        return "WorkerConfig(<hidden>)"


@dataclass(frozen=True)
class PlanJob:
    index: int
    account: Account


@dataclass(frozen=True)
class Segment:
    """UIDs of one folder (at one UIDVALIDITY) inside a unit of work."""

    folder: Folder
    uidvalidity: int
    uids: tuple[int, ...]


@dataclass(frozen=True)
class ChunkJob:
    """Up to ``chunk_size`` messages of one mailbox, possibly from several small folders (so
    small folders share Parquet commits instead of writing one small file each)."""

    index: int
    account: Account
    segments: tuple[Segment, ...]

    @property
    def n(self) -> int:
        return sum(len(s.uids) for s in self.segments)


@dataclass(frozen=True)
class GapsJob:
    """The small folders of a mailbox that also has large ones, fetched by any worker beside
    the mailbox's chunks instead of by its planner before they are handed out."""

    index: int
    account: Account
    gaps: tuple[FolderGaps, ...]

    @property
    def n(self) -> int:
        return sum(g.todo for g in self.gaps)


Unit = PlanJob | ChunkJob | GapsJob


@dataclass
class PlanResult:
    index: int
    chunks: list[ChunkJob | GapsJob] = field(default_factory=list)
    folders: int = 0
    messages_on_server: int = 0
    already_present: int = 0  # those of ``inline`` are in ``inline.already_present``
    replaced: int = 0  # rows dropped because their folder's UIDVALIDITY changed
    skipped: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    inline: ChunkResult | None = None  # small folders fetched during planning


@dataclass(frozen=True)
class FolderGaps:
    """A small folder fetched during planning by the UID ranges the store lacks."""

    folder: Folder
    uidvalidity: int
    ranges: tuple[tuple[int, int], ...]
    messages: int  # on the server, from STATUS
    todo: int  # estimate of those missing from the store (progress and error messages)


@dataclass
class ChunkResult:
    index: int
    written: int = 0
    vanished: int = 0
    defects: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    error: str | None = None
    not_collected: int = 0
    uidvalidity_changed: bool = False
    skipped: Counter[str] = field(default_factory=Counter)
    already_present: int = 0  # small folders' messages found committed (units of small folders)


def chunk_size_for(cfg: WorkerConfig, segments: Sequence[Segment]) -> int:
    """With several workers, enough units for each to get a share of a large mailbox (a run
    of one mailbox would otherwise leave workers idle at its end)."""
    size = cfg.chunk_size
    if cfg.workers > 1:
        total = sum(len(seg.uids) for seg in segments)
        size = min(size, max(cfg.batch_size, -(-total // (2 * cfg.workers))))
    return size
