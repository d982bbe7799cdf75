"""Fingerprints of what a stage reads and writes, and the state of the last runs."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mailstudy.study import Study

STATE_VERSION = 1
#: Files above this size are fingerprinted by size and time instead of content.
HASH_LIMIT = 256 * 1024 * 1024


# -- fingerprints --------------------------------------------------------------------------
def _hash_file(h: Any, p: Path, st: os.stat_result) -> None:
    if st.st_size > HASH_LIMIT:
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        return
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)


def fingerprint_path(path: Path, exclude: Iterable[str] = ()) -> str:
    """Digest of a file (content) or a folder (relative names, sizes, mtimes); hidden files
    (temporary writes) and the top-level entries named in ``exclude`` are ignored."""
    h = hashlib.sha256()
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return "missing"
    if path.is_file():
        h.update(b"F")
        _hash_file(h, path, st)
        return h.hexdigest()
    skip = set(exclude)
    h.update(b"D")
    for dirpath, dirnames, filenames in os.walk(path):
        rel = os.path.relpath(dirpath, path)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and not (rel == "." and d in skip))
        for name in sorted(filenames):
            if name.startswith(".") or (rel == "." and name in skip):
                continue
            try:
                fst = os.stat(os.path.join(dirpath, name))
            except OSError:
                continue
            h.update(f"{rel}/{name}\0{fst.st_size}\0{fst.st_mtime_ns}\n".encode())
    return h.hexdigest()


def fingerprint(paths: Iterable[Path | tuple[Path, tuple[str, ...]]],
                config: Any = None) -> str:
    """One digest over several inputs (in the given order) and a JSON-able config value."""
    h = hashlib.sha256()
    for item in paths:
        p, excl = item if isinstance(item, tuple) else (item, ())
        h.update(fingerprint_path(p, excl).encode())
        h.update(b"\n")
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    return h.hexdigest()


def load_state(study: Study) -> dict[str, Any]:
    p = study.catalog.path("pipeline_state")
    try:
        state = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"version": STATE_VERSION, "stages": {}}
    if state.get("version") != STATE_VERSION:
        return {"version": STATE_VERSION, "stages": {}}
    return state


def save_state(study: Study, state: dict[str, Any]) -> None:
    study.runs_dir.mkdir(parents=True, exist_ok=True)
    p = study.catalog.path("pipeline_state")
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(json.dumps(state, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(p)
