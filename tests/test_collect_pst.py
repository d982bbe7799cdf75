"""A real PST, read through Debian's readpst."""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from pathlib import Path

import pytest
from studykit import make_study

from mailstudy.collect.formats.pst import pst_as_eml
from mailstudy.collect.headers import LIBPST_BOUNDARY
from mailstudy.collect.run import collect_files
from mailstudy.store import read_messages

PST = Path(__file__).parent / "data" / "enron.pst"


def test_real_pst_is_collected_with_its_folders(tmp_path: Path) -> None:
    if shutil.which("readpst") is None:
        pytest.skip("readpst not installed (apt-get install pst-utils)")
    study, _ = make_study(tmp_path, domains=("enron.com",))
    s = collect_files(study, [PST], owner="michelle.lokay@enron.com", workers=1)
    m = s.mailboxes[0]
    assert m.error is None and m.format == "pst"
    # 24 messages in the inbox, Sent Items and two work folders; "Personal" is never read
    assert m.messages_written == 24
    assert m.skipped["personal_folders"] == 1 and m.skipped["personal_folder_messages"] == 47
    df = read_messages(study.messages_dir)
    assert set(df.source) == {"pst"}
    assert df.groupby("folder_role").size().to_dict() == {"inbox": 1, "other": 21, "sent": 2}
    assert (df[df.folder_role == "sent"].direction == "sent").all()
    assert df.date_utc.notna().all() and (df.date_utc.dt.year == 2001).sum() >= 20
    # the conversion is gone, and a second run adds nothing
    assert not list((study.data / "tmp").glob("*/*"))
    again = collect_files(study, [PST], owner="michelle.lokay@enron.com", workers=1)
    assert again.messages_written == 0 and again.mailboxes[0].already_present == 24


def _fingerprint(root: Path) -> Counter[tuple[str, str]]:
    """(folder, content digest) of each converted message; readpst's random MIME boundaries
    made equal, as the item identity does."""
    out: Counter[tuple[str, str]] = Counter()
    for f in root.rglob("*"):
        if f.is_file():
            data = LIBPST_BOUNDARY.sub(b"boundary-LibPST", f.read_bytes())
            out[(str(f.parent.relative_to(root)), hashlib.sha256(data).hexdigest())] += 1
    return out


def test_pst_conversion_is_the_same_every_time(tmp_path: Path) -> None:
    """readpst's default parallel jobs race (one conversion in three garbled or dropped a
    message of this PST, so a re-run found a "new" message): ten conversions must agree."""
    if shutil.which("readpst") is None:
        pytest.skip("readpst not installed (apt-get install pst-utils)")
    seen = []
    for _ in range(10):
        with pst_as_eml(PST, tmp_path / "tmp") as root:
            seen.append(_fingerprint(root))
    assert sum(seen[0].values()) == 71  # 24 collected + 47 in the personal folder
    assert all(fp == seen[0] for fp in seen)


def test_a_kill_during_pst_conversion_leaves_no_mail_under_the_study(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from studykit import REPO

    from mailstudy.collect.formats.pst import scratch_root

    if shutil.which("readpst") is None:
        pytest.skip("readpst not installed (apt-get install pst-utils)")
    study, _ = make_study(tmp_path, domains=("enron.com",))
    cmd = [sys.executable, "-m", "mailstudy", "collect", "files", str(PST), "--owner",
           "michelle.lokay@enron.com", "--workers", "1", "--study", str(study.root)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = []
    for delay in (0.8, 1.2, 1.6):
        p = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        # kill once readpst is converting (its output tree exists), or after the delay
        deadline = time.monotonic() + delay + 5
        while time.monotonic() < deadline and not any(scratch_root().glob(f"pst-{p.pid}-*")):
            time.sleep(0.02)
        time.sleep(delay / 4)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        killed.append(p.pid)
        assert not [f for f in study.root.rglob("*") if f.suffix == ".eml" or
                    (f.is_file() and b"Message-ID" in f.read_bytes()[:4096]
                     and "escrow" not in f.parts)]
    # The next conversion removes what the killed ones left; the collection ends complete.
    s = collect_files(study, [PST], owner="michelle.lokay@enron.com", workers=1)
    assert not any(list(scratch_root().glob(f"pst-{pid}-*")) for pid in killed)
    assert s.mailboxes[0].messages_written + s.mailboxes[0].already_present == 24
