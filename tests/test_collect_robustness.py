"""The robustness corpus (tests/hostile.py): every hostile shape is collected as a row or a
counted skip, the two readers agree on it, and the work done stays linear in its size (work
counters, never timings)."""

from __future__ import annotations

import io
import random
import tracemalloc
from pathlib import Path

import pytest
from hostile import GENERATORS, long_single_line, ordinary
from studykit import DOMAIN, make_study, write_maildir, write_mbox

from mailstudy.collect.formats.base import file_reader
from mailstudy.collect.mime import iter_lines, read_message, read_message_bytes
from mailstudy.collect.mimeshared import MAX_DEPTH, Budget
from mailstudy.collect.run import collect_files

OWNER = f"jean.dupont@{DOMAIN}"
NAMES = sorted(GENERATORS)


def work(raw: bytes) -> tuple[int, int]:
    b = Budget()
    read_message_bytes(raw, _budget=b)
    s = Budget()
    read_message(iter_lines(io.BytesIO(raw)), _budget=s)
    return b.scanned + b.ticks, s.ticks


@pytest.mark.parametrize("name", NAMES)
def test_work_is_linear_in_the_size_of_each_hostile_shape(name: str) -> None:
    gen = GENERATORS[name]
    small, big = gen(60_000, random.Random(1)), gen(240_000, random.Random(1))
    (mem_s, str_s), (mem_b, str_b) = work(small), work(big)
    # bytes searched for boundaries: at most once per byte and per open boundary set
    assert mem_b <= (MAX_DEPTH + 1) * len(big) + 10_000
    # four times the size, about four times the work (a quadratic reader would do 16x)
    assert mem_b <= 5 * mem_s + 10_000, (mem_s, mem_b)
    assert str_b <= 5 * str_s + 10_000, (str_s, str_b)


@pytest.mark.parametrize("name", NAMES)
def test_both_readers_agree_on_each_hostile_shape(name: str) -> None:
    raw = GENERATORS[name](50_000, random.Random(2))
    a = read_message(iter_lines(io.BytesIO(raw)))
    b = read_message_bytes(raw)
    assert a.size == b.size and a.header_digest == b.header_digest
    assert a.outline.parts == b.outline.parts
    assert sorted(set(a.outline.defects)) == sorted(set(b.outline.defects))


def test_every_hostile_message_is_a_row_or_a_counted_skip(tmp_path: Path) -> None:
    rng = random.Random(3)
    raws = [g(size, rng) for g in GENERATORS.values() for size in (2_000, 300_000)]
    for fmt in ("maildir", "mbox", "eml"):
        study, _ = make_study(tmp_path / fmt)
        if fmt == "maildir":
            src = write_maildir(tmp_path / fmt / OWNER, {"": [(r, "S") for r in raws]})
        elif fmt == "mbox":
            src = write_mbox(tmp_path / fmt / f"{OWNER}.mbox", raws)
        else:
            src = tmp_path / fmt / OWNER
            src.mkdir(parents=True)
            for i, r in enumerate(raws):
                (src / f"{i:03d}.eml").write_bytes(r)
        s = collect_files(study, [src], workers=1)
        t = s.totals()
        assert not s.failures
        assert t["messages_seen"] == len(raws), fmt
        skipped = sum(v for k, v in t["skipped"].items() if k not in ("personal_folders",))
        assert t["messages_written"] + skipped == len(raws), (fmt, t["skipped"])
        assert t["messages_written"] == len(raws), t["skipped"]  # none needs the budget


def test_streamed_memory_does_not_grow_with_line_length(tmp_path: Path) -> None:
    path = tmp_path / "one-line.eml"
    with open(path, "wb") as f:
        f.write(long_single_line(0, random.Random(4)))
        for _ in range(24):  # a 24 MB body of one line, above the in-memory limit
            f.write(b"q" * (1 << 20))
    tracemalloc.start()
    try:
        parsed = file_reader(path)()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert parsed.outline.parts[0].size == 24 << 20
    assert peak < 2 << 20, peak


def test_in_memory_reader_stays_within_twice_the_message(tmp_path: Path) -> None:
    for gen in (ordinary, GENERATORS["boundary_flood"], GENERATORS["mixed_encodings"]):
        path = tmp_path / f"{gen.__name__}.eml"
        path.write_bytes(gen(3_000_000, random.Random(5)))
        tracemalloc.start()
        try:
            file_reader(path)()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 2 * path.stat().st_size + (2 << 20), (gen.__name__, peak)
