"""PST through Debian's ``readpst``, converted to a private temporary tree of .eml files."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mailstudy.collect.formats.base import ReadpstMissing, SourceError

SCRATCH = "mailstudy-pst"


def scratch_root() -> Path:
    """Where conversions happen: a private (0700) folder of the system's temporary space,
    outside every study, so that a study folder (which gets copied) never holds converted
    mail, even after a kill."""
    root = Path(tempfile.gettempdir()) / f"{SCRATCH}-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    os.chmod(root, 0o700)
    return root


def clear_orphans(root: Path) -> int:
    """Remove what killed conversions left (their process is gone); returns how many."""
    n = 0
    for d in root.glob("pst-*"):
        pid = d.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(d, ignore_errors=True)
            n += 1
    return n


@contextlib.contextmanager
def pst_as_eml(path: Path, tmp_root: Path | None = None) -> Iterator[Path]:
    """Convert a PST to a private temporary tree of .eml files with readpst, then delete it.

    The tree lives outside the study (:func:`scratch_root`, or ``tmp_root``); each
    conversion first removes the trees of conversions whose process died."""
    exe = shutil.which("readpst")
    if exe is None:
        raise ReadpstMissing("reading PST needs Debian's readpst: run "
                             "'sudo apt-get install pst-utils' and try again")
    tmp_root = tmp_root if tmp_root is not None else scratch_root()
    tmp_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(tmp_root, 0o700)
    clear_orphans(tmp_root)
    with tempfile.TemporaryDirectory(prefix=f"pst-{os.getpid()}-", dir=tmp_root) as tmp:
        os.chmod(tmp, 0o700)
        # -j 0: no parallel jobs. readpst's default forks workers that race: on the test PST
        # about one conversion in three garbled or dropped a message, which a later run
        # would have collected again as a new row. Serial conversion is deterministic.
        proc = subprocess.run([exe, "-q", "-j", "0", "-e", "-te", "-b", "-o", tmp, str(path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=3600, check=False)
        if proc.returncode != 0:
            raise SourceError("readpst could not convert this PST (exit code {returncode})",
                              returncode=proc.returncode)
        # readpst nests everything under the PST's root folders ("Personal folders",
        # the store's name...): start at the first level that holds more than one folder
        root = Path(tmp)
        while True:
            entries = list(root.iterdir())
            if len(entries) == 1 and entries[0].is_dir():
                root = entries[0]
            else:
                break
        yield root
