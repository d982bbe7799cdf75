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


@contextlib.contextmanager
def pst_as_eml(path: Path, tmp_root: Path) -> Iterator[Path]:
    """Convert a PST to a private temporary tree of .eml files with readpst, then delete it.

    The tree lives under the study's ``data/tmp`` (mode 0700), which every collection empties
    first, so a killed conversion leaves no mail behind for long."""
    exe = shutil.which("readpst")
    if exe is None:
        raise ReadpstMissing("reading PST needs Debian's readpst: run "
                             "'sudo apt-get install pst-utils' and try again")
    tmp_root.mkdir(parents=True, exist_ok=True)
    os.chmod(tmp_root, 0o700)
    with tempfile.TemporaryDirectory(prefix="pst-", dir=tmp_root) as tmp:
        os.chmod(tmp, 0o700)
        # -j 0: no parallel jobs. readpst's default forks workers that race: on the test PST
        # about one conversion in three garbled or dropped a message, which a later run
        # would have collected again as a new row. Serial conversion is deterministic.
        proc = subprocess.run([exe, "-q", "-j", "0", "-e", "-te", "-b", "-o", tmp, str(path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=3600, check=False)
        if proc.returncode != 0:
            raise SourceError(f"readpst could not convert this PST (exit code {proc.returncode})")
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
