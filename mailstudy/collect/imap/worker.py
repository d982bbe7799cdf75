"""A worker's state and its units of work: the study's row builder and store, one set of
connections per thread, planning a mailbox (LIST, pipelined STATUS, the store's checkpoint,
UIDVALIDITY changes) and fetching its small folders; chunks are fetched by
:mod:`mailstudy.collect.imap.chunk`."""

from __future__ import annotations

import imaplib
import os
from collections.abc import Callable, Sequence
from typing import Any

from imapclient.exceptions import IMAPClientAbortError

from mailstudy.collect.addresses import Identities
from mailstudy.collect.headers import parse_header_block
from mailstudy.collect.imap.auth import Account
from mailstudy.collect.imap.commands import (
    PIPELINE,
    REFUSED,
    pipelined_gap_fetch,
    pipelined_statuses,
)
from mailstudy.collect.imap.errors import ImapError, TransientError, kind_of
from mailstudy.collect.imap.folders import Folder, select_folders
from mailstudy.collect.imap.liveness import still_running
from mailstudy.collect.imap.parser import Fetched
from mailstudy.collect.imap.sessions import Connections
from mailstudy.collect.imap.uids import ranges_spec, uid_gaps
from mailstudy.collect.imap.units import (
    SOURCE,
    ChunkResult,
    FolderGaps,
    GapsJob,
    PlanJob,
    PlanResult,
    Reconnects,
    Segment,
    Unit,
    WorkerConfig,
    chunk_size_for,
    pack_chunks,
)
from mailstudy.collect.parts import MimeOutline
from mailstudy.collect.rows import Context, RowBuilder
from mailstudy.store import MessageStore

Committed = dict[tuple[str, int], set[int]]  # (folder_id, UIDVALIDITY) -> UIDs in the store


class Worker(Connections):
    """Per-process state: the study's row builder, the store, and open connections."""

    def __init__(self, cfg: WorkerConfig, progress: Callable[[int], None] | None,
                 pool_worker: bool = False) -> None:
        from mailstudy.optout import load_optouts
        from mailstudy.study import open_study

        self.cfg = cfg
        self.progress = progress
        study = open_study(cfg.study_root)
        self.personal = study.personal_folders
        self.escrow = study.escrow()
        self.ids = Identities.of_study(study, load_optouts(study), self.escrow)
        self.builder = RowBuilder(self.ids, study.tz)
        self.store = MessageStore(study.messages_dir)
        self.parent = os.getppid() if pool_worker else None
        self.collector: tuple[int, str] | None = None  # (pid, start time), set in a worker
        # Several units may run at once in threads (mailboxes in flight while others wait on
        # the network): each thread keeps its own connections; the study's state (row
        # builder, escrow, store) is shared under one lock.
        super().__init__(cfg)

    def run(self, unit: Unit) -> PlanResult | ChunkResult:
        """Run one unit; an unexpected error fails that unit's mailbox, never the run."""
        from mailstudy.collect.imap.chunk import fetch_chunk

        try:
            if isinstance(unit, PlanJob):
                return self.plan(unit)
            if isinstance(unit, GapsJob):
                return self.fetch_gaps(unit, self.ids.person(unit.account.address),
                                       unit.gaps, Reconnects())
            return fetch_chunk(self, unit)
        except Exception as exc:  # noqa: BLE001 - reported by type only (no data in it)
            self.drop(unit.account)
            if isinstance(unit, PlanJob):
                return PlanResult(index=unit.index, error=f"unexpected {kind_of(exc)}")
            return ChunkResult(index=unit.index, error=f"unexpected {kind_of(exc)}",
                               not_collected=unit.n)

    # planning -------------------------------------------------------------------------------
    def plan(self, job: PlanJob) -> PlanResult:
        """List the folders, then one pipelined burst of STATUS for all of them (one round
        trip instead of SELECT+SEARCH per folder). A folder of at most ``batch_size``
        messages is fetched at once by the UID ranges the store lacks (``FolderGaps``),
        several folders per pipelined burst; larger folders are SEARCHed and cut into chunk
        units."""
        res = PlanResult(index=job.index)
        mailbox = self.ids.person(job.account.address)
        reconnects = Reconnects()
        gaps: list[FolderGaps] = []
        try:
            pending = self._plan_folders(job, mailbox, res, gaps, reconnects)
            res.chunks = list(pack_chunks(job.index, job.account, pending,
                                          chunk_size_for(self.cfg, pending)))
        except ImapError as exc:
            res.error = str(exc)
            return res
        if gaps and res.chunks:
            res.chunks.insert(0, GapsJob(job.index, job.account, tuple(gaps)))
        elif gaps:  # a mailbox of small folders only: fetched now, on this connection
            res.inline = self.fetch_gaps(job, mailbox, gaps, reconnects)
        return res

    def _plan_folders(self, job: PlanJob, mailbox: str, res: PlanResult,
                      gaps: list[FolderGaps], reconnects: Reconnects) -> list[Segment]:
        """Count the mailbox's folders into ``res``, put its small folders in ``gaps``, and
        return the segments of its large ones still to fetch."""
        listing = self.retrying(job.account, lambda: self._list(job.account), reconnects)
        folders, res.skipped = select_folders(listing, self.cfg.include, self.cfg.exclude,
                                              self.personal)
        with self.lock:
            state = self._committed(mailbox)
        statuses: list[tuple[int, int, int] | None] = []
        for i in range(0, len(folders), PIPELINE):
            part = folders[i:i + PIPELINE]
            statuses += self.retrying(job.account,
                                      lambda p=part: self._statuses(job.account, p), reconnects)
        pending: list[Segment] = []
        for folder, status in zip(folders, statuses, strict=True):
            res.folders += 1
            with self.lock:
                fid = self.builder.folder_id(folder.path)
            if (status is not None and status[0] <= self.cfg.batch_size
                    and self._plan_small(mailbox, folder, fid, status, state, res, gaps)):
                continue
            try:
                info, uids = self.retrying(
                    job.account, lambda f=folder: self._folder_uids(job.account, f),
                    reconnects)
            except ImapError:  # one folder the server will not open: counted, skipped
                res.skipped["refused_folders"] += 1
                continue
            uidvalidity = int(info[b"UIDVALIDITY"])
            res.replaced += self._drop_stale(mailbox, fid, uidvalidity, state)
            have = state.get((fid, uidvalidity), set())
            todo = sorted(set(uids) - have)
            res.messages_on_server += len(uids)
            res.already_present += len(uids) - len(todo)
            if todo:
                pending.append(Segment(folder, uidvalidity, tuple(todo)))
        return pending

    def _plan_small(self, mailbox: str, folder: Folder, fid: str,
                    status: tuple[int, int, int], state: Committed, res: PlanResult,
                    gaps: list[FolderGaps]) -> bool:
        """Plan a small folder by the UID ranges the store lacks; False when those ranges
        are too fragmented for one command (the folder is then SEARCHed)."""
        messages, uidnext, uidvalidity = status
        res.replaced += self._drop_stale(mailbox, fid, uidvalidity, state)
        have = state.get((fid, uidvalidity), set())
        ranges = uid_gaps(have, uidnext - 1) if messages else []
        if len(ranges_spec(ranges)) > 2000:
            return False
        res.messages_on_server += messages
        if ranges:
            n_have = sum(1 for u in have if u < uidnext)
            gaps.append(FolderGaps(folder, uidvalidity, tuple(ranges), messages,
                                   max(0, messages - n_have)))
        else:  # every UID below UIDNEXT is committed
            res.already_present += messages
        return True

    def _statuses(self, account: Account, folders: Sequence[Folder]
                  ) -> list[tuple[int, int, int] | None]:
        return pipelined_statuses(self.client(account), folders)

    def _fetch_group(self, account: Account, group: Sequence[FolderGaps]
                     ) -> list[list[Fetched] | None]:
        """The small folders of ``group`` in one pipelined burst; None for a folder whose
        UIDVALIDITY changed."""
        c = self.client(account)
        self.conns[account.login] = (c, None)  # the selected folder is unknown from here
        out, _ = pipelined_gap_fetch(c, group)  # a refused folder is REFUSED in ``out``
        return out

    def fetch_gaps(self, job: PlanJob | GapsJob, mailbox: str, gaps: Sequence[FolderGaps],
                   reconnects: Reconnects) -> ChunkResult:
        """Fetch small folders in pipelined groups of at most ``batch_size`` messages, one
        commit per group (the store stays the checkpoint: a re-run fetches the gaps left)."""
        res = ChunkResult(index=job.index)
        left = sum(g.todo for g in gaps)
        try:
            for group in self._gap_groups(gaps):
                got = self.retrying(job.account,
                                    lambda gr=group: self._fetch_group(job.account, gr),
                                    reconnects)
                rows = self._gap_rows(mailbox, group, got, res)
                self.commit(mailbox, rows)
                for r in rows:
                    res.defects.update(r["defects"])
                res.written += len(rows)
                left -= sum(g.todo for g in group)
                if self.progress is not None and rows:
                    self.progress(len(rows))
        except ImapError as exc:
            res.error = str(exc)
            res.not_collected = left
        res.reconnects = reconnects.count
        return res

    def _gap_groups(self, gaps: Sequence[FolderGaps]) -> list[list[FolderGaps]]:
        """Small folders grouped for one pipelined burst each: at most ``batch_size``
        messages and half a pipeline of folders per group."""
        groups: list[list[FolderGaps]] = []
        for g in gaps:
            if (not groups or len(groups[-1]) >= PIPELINE // 2
                    or sum(x.messages for x in groups[-1]) + g.messages > self.cfg.batch_size):
                groups.append([])
            groups[-1].append(g)
        return groups

    def _gap_rows(self, mailbox: str, group: Sequence[FolderGaps],
                  got: Sequence[list[Fetched] | None], res: ChunkResult
                  ) -> list[dict[str, Any]]:
        """Rows of a group's fetched messages; counts what was already present into ``res``."""
        rows: list[dict[str, Any]] = []
        for g, fetched in zip(group, got, strict=True):
            if fetched is None:
                res.uidvalidity_changed = True
                continue
            if fetched is REFUSED:  # one folder the server will not open: counted, skipped
                res.skipped["refused_folders"] += 1
                res.skipped["refused_folder_messages"] += g.todo
                continue
            seg = Segment(g.folder, g.uidvalidity, ())
            for f in fetched:
                try:
                    rows.append(self.row(mailbox, seg, f))
                except Exception as exc:  # noqa: BLE001 - counted, never fatal
                    res.skipped[f"unparsable_{kind_of(exc)}"] += 1
            res.already_present += max(0, g.messages - len(fetched))
        return rows

    def _list(self, account: Account) -> list[Any]:
        try:
            return list(self.client(account).list_folders())
        except (IMAPClientAbortError, imaplib.IMAP4.abort, OSError) as exc:
            raise TransientError("connection lost during {command} ({kind})", command="LIST",
                                 kind=kind_of(exc)) from None

    def _folder_uids(self, account: Account, folder: Folder) -> tuple[dict[bytes, Any], list]:
        info = self.select(account, folder)
        if not info.get(b"EXISTS"):
            return info, []
        try:
            return info, list(self.client(account).search(["ALL"]))
        except (IMAPClientAbortError, imaplib.IMAP4.abort, OSError) as exc:
            raise TransientError("connection lost during {command} ({kind})",
                                 command="SEARCH", kind=kind_of(exc)) from None

    def _committed(self, mailbox: str) -> Committed:
        """(folder_id, UIDVALIDITY) -> UIDs already in the store for this mailbox."""
        t = self.store.read_columns(mailbox, ["source", "folder_id", "imap_uidvalidity",
                                              "imap_uid"])
        out: Committed = {}
        cols = [t.column(c).to_pylist() for c in ("source", "folder_id", "imap_uidvalidity",
                                                  "imap_uid")]
        for src, fid, v, uid in zip(*cols, strict=True):
            if src == SOURCE and v is not None and uid is not None:
                out.setdefault((fid, int(v)), set()).add(int(uid))
        return out

    def _drop_stale(self, mailbox: str, fid: str, uidvalidity: int, state: Committed) -> int:
        with self.lock:
            return self._drop_stale_locked(mailbox, fid, uidvalidity, state)

    def _drop_stale_locked(self, mailbox: str, fid: str, uidvalidity: int,
                           state: Committed) -> int:
        stale = [k for k in state if k[0] == fid and k[1] != uidvalidity]
        if not stale:
            return 0
        import pyarrow.compute as pc

        def pred(t: Any) -> Any:
            return pc.and_(pc.and_(pc.equal(t["source"], SOURCE), pc.equal(t["folder_id"], fid)),
                           pc.not_equal(t["imap_uidvalidity"], uidvalidity))

        n = self.store.delete_rows(mailbox, pred)
        for k in stale:
            del state[k]
        return n

    # rows and commits -----------------------------------------------------------------------
    def row(self, mailbox: str, seg: Segment, f: Fetched) -> dict[str, Any]:
        with self.lock:
            return self._row_locked(mailbox, seg, f)

    def _row_locked(self, mailbox: str, seg: Segment, f: Fetched) -> dict[str, Any]:
        defects = list(f.defects)
        header = f.header
        if header is None:
            defects.append("missing_header")
            header = b""
        # IMAP sends CRLF where Maildir files often have LF: parse_header_block unfolds and
        # accepts both, so both routes see the same values.
        msg = parse_header_block(header)
        outline = MimeOutline(parts=f.parts or [], defects=defects)
        flags = {x.lower() for x in f.flags}
        ctx = Context(mailbox=mailbox, source=SOURCE,
                      item_key=f"{'/'.join(seg.folder.path)}\x00{seg.uidvalidity}\x00{f.uid}",
                      folder=seg.folder.path, folder_role=seg.folder.role,
                      size_bytes=f.size if f.size is not None else len(header),
                      seen=b"\\seen" in flags, answered=b"\\answered" in flags,
                      flagged=b"\\flagged" in flags, fallback_date=f.internaldate,
                      imap_uidvalidity=seg.uidvalidity, imap_uid=f.uid)
        return self.builder.build(msg, outline, ctx)

    def commit(self, mailbox: str, rows: list[dict[str, Any]]) -> None:
        if self.stopping.is_set():
            raise ImapError("interrupted")
        with self.lock:
            self.exit_if_orphaned()
            self.escrow.flush()  # identities are sealed before the rows that use them land
            self.store.write_batch(mailbox, rows, guard=self.exit_if_orphaned)

    def exit_if_orphaned(self) -> None:
        if self.parent is not None and (os.getppid() != self.parent
                                        or not still_running(self.collector)):
            os._exit(1)  # orphaned by a killed collector: write nothing more
