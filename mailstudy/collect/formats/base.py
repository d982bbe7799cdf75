"""What every format yields: items of a listing, and the errors of a source."""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mailstudy.collect.mime import (
    IN_MEMORY_MAX,
    ParsedMessage,
    iter_lines,
    read_message,
    read_message_bytes,
)
from mailstudy.errors import CollectError


class SourceError(CollectError):
    """A source cannot be read as a mailbox; the message never names the path."""


@dataclass
class Item:
    """One message of a source, found but not yet read."""

    folder: tuple[str, ...]
    key: str  # locator within the source (hashed before storage)
    read: Callable[[], ParsedMessage]  # reads and parses the message when called
    seen: bool | None = None
    answered: bool | None = None
    flagged: bool | None = None
    fallback_date: dt.datetime | None = None
    source: str | None = None  # its own format, in a folder that mixes them (.eml and .msg)


@dataclass
class SourceListing:
    items: list[Item]
    folders: set[tuple[str, ...]] = field(default_factory=set)
    skipped_folders: int = 0  # personal folders
    skipped_messages: int = 0  # messages inside personal folders
    skipped: Counter[str] = field(default_factory=Counter)  # other files, by reason


class ReadpstMissing(SourceError):
    pass


def file_reader(path: Path) -> Callable[[], ParsedMessage]:
    """Parse a message file in memory when it is small, streamed when it is large."""

    def read() -> ParsedMessage:
        with open(path, "rb") as f:
            # the size decides, so that a large file is never even partly held in memory
            if os.fstat(f.fileno()).st_size <= IN_MEMORY_MAX:
                data = f.read()  # sized by the file, not by the limit
                if len(data) <= IN_MEMORY_MAX:
                    return read_message_bytes(data)
                f.seek(0)  # grew meanwhile
            return read_message(iter_lines(f))

    return read
