"""One chunk unit: its messages fetched in batches by a thread that keeps one FETCH ahead of
the parsing, and their rows committed in batches of at most ``batch_size``."""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import TYPE_CHECKING, Any

from mailstudy.collect.imap.commands import fetch_batch
from mailstudy.collect.imap.errors import ImapError, kind_of
from mailstudy.collect.imap.parser import Fetched
from mailstudy.collect.imap.units import ChunkJob, ChunkResult, Reconnects, Segment

if TYPE_CHECKING:
    from mailstudy.collect.imap.worker import Worker


def fetch_chunk(worker: Worker, job: ChunkJob) -> ChunkResult:
    """Fetch a unit's messages and commit their rows in batches of at most
    ``batch_size``. Network I/O runs in a thread one FETCH ahead of the parsing, so round
    trips and transfers overlap the CPU-bound row building."""
    return _ChunkFetch(worker, job).run()


class _ChunkFetch:
    """The state of one chunk unit, shared by its fetching thread and its parsing loop."""

    def __init__(self, worker: Worker, job: ChunkJob) -> None:
        self.worker = worker
        self.job = job
        self.res = ChunkResult(index=job.index)
        self.mailbox = worker.ids.person(job.account.address)
        self.reconnects = Reconnects()
        self.rows: list[dict[str, Any]] = []
        self.done = 0  # messages whose rows are committed
        self.in_rows = 0  # messages (fetched or vanished) covered by ``rows``
        size = worker.cfg.batch_size
        self.plan = [(seg, list(seg.uids[i:i + size]))
                     for seg in job.segments for i in range(0, len(seg.uids), size)]
        self.fetched: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.stop = threading.Event()
        self.conns = worker.conns

    def run(self) -> ChunkResult:
        producer = threading.Thread(target=self._produce, daemon=True)
        producer.start()
        try:
            self._consume()
        except ImapError as exc:
            self.res.error = str(exc)
        finally:
            self._stop_producer(producer)
        res = self.res
        res.not_collected = self.job.n - self.done if (res.error or res.uidvalidity_changed) \
            else 0
        res.reconnects = self.reconnects.count
        return res

    def _produce(self) -> None:
        """The fetching thread: each batch in turn onto the queue, then None; an exception
        is handed to the consumer."""
        self.worker.share_conns(self.conns)  # the unit's connections, not a new set
        try:
            for seg, batch in self.plan:
                if self.stop.is_set():
                    return
                got = self.worker.retrying(self.job.account,
                                           lambda s=seg, b=batch: self._fetch(s, b),
                                           self.reconnects, self.stop)
                self.fetched.put((seg, batch, got))
                if got is None:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self.fetched.put(exc)
            return
        self.fetched.put(None)

    def _consume(self) -> None:
        while True:
            item = self.fetched.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            seg, batch, fetched = item
            if fetched is None:
                self.res.uidvalidity_changed = True
                break
            self._add_rows(seg, batch, fetched)
            if len(self.rows) >= self.worker.cfg.batch_size:
                self._commit()
        if self.rows or self.in_rows:
            self._commit()

    def _add_rows(self, seg: Segment, batch: list[int], fetched: list[Fetched]) -> None:
        for f in fetched:
            try:
                self.rows.append(self.worker.row(self.mailbox, seg, f))
            except Exception as exc:  # noqa: BLE001 - counted, never fatal
                self.res.skipped[f"unparsable_{kind_of(exc)}"] += 1
        self.res.vanished += len(batch) - len(fetched)
        self.in_rows += len(batch)

    def _commit(self) -> None:
        self.worker.commit(self.mailbox, self.rows)
        for r in self.rows:
            self.res.defects.update(r["defects"])
        self.res.written += len(self.rows)
        self.done += self.in_rows
        if self.worker.progress is not None and self.in_rows:
            self.worker.progress(self.in_rows)
        self.rows.clear()
        self.in_rows = 0

    def _stop_producer(self, producer: threading.Thread) -> None:
        self.stop.set()
        with contextlib.suppress(queue.Empty):
            while True:  # unblock the producer if it waits on a full queue
                self.fetched.get_nowait()
        producer.join(timeout=self.worker.cfg.server.read_timeout + 5)
        if producer.is_alive():  # never share a connection with a thread that is still reading
            self.worker.conns.pop(self.job.account.login, None)

    def _fetch(self, seg: Segment, batch: list[int]) -> list[Fetched] | None:
        login = self.job.account.login
        c, selected = self.worker.conns.get(login, (None, None))
        if c is None or selected != seg.folder.name:
            info = self.worker.select(self.job.account, seg.folder)
            if int(info[b"UIDVALIDITY"]) != seg.uidvalidity:
                return None
            c = self.worker.conns[login][0]
        return fetch_batch(c, batch)
