"""Held-out agreement: real messages collected three ways, compared with an independent parse.

    python benchmarks/corpus_agreement.py FOLDER [--workers 2] [--show 5]

FOLDER holds real messages, one per file (any name; e.g. the test messages of public
mail-library suites: this repository ships none of them). Each message becomes ONE mailbox
(``mNNNN@corpus.test``), written three ways: an .eml tree, an mbox file (mboxrd escaping) and a
Maildir; the three are collected by ``collect_files`` into three studies sharing one key.
Printed:

* accounting: every input message is a row or a counted skip, in each format;
* readers agree: the rows of the three formats are equal (source columns aside);
* agreement with an independent parse (the stdlib ``email`` package, compat32, its own MIME
  walk applying the definitions written in ``mailstudy.schema``) on recipients (To, Cc and
  Bcc counts), dates, sizes, reply/forward/bulk, attachment count, client family (header
  read by the stdlib, classified by the same rule table: the table is the definition) and
  text size.

Only percentages and counts are printed; ``--show N`` also prints, on stderr, the names of
up to N input files of each disagreement (names of the input folder, for diagnosis).
Targets (issue 14): >= 99.5% recipients, dates, sizes; >= 99% reply/forward/bulk; >= 98%
attachments; >= 97% client family; >= 99% text size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import pickle
import shutil
import sys
import tempfile
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from anonymise.escrow import generate_identity  # noqa: E402
from mailstudy.collect.clients import classify_client  # noqa: E402
from mailstudy.collect.run import collect_files  # noqa: E402
from mailstudy.schema import MESSAGES_SOURCE_COLUMNS  # noqa: E402
from mailstudy.store import read_messages  # noqa: E402
from mailstudy.study import Study, init_study  # noqa: E402

DOMAIN = "corpus.test"
NOW = dt.datetime.now(dt.UTC)


def write_sources(raws: list[bytes], root: Path) -> dict[str, list[Path]]:
    """One mailbox per message, in each of the three formats."""
    out: dict[str, list[Path]] = {"eml": [], "mbox": [], "maildir": []}
    for i, raw in enumerate(raws):
        owner = f"m{i:04d}@{DOMAIN}"
        d = root / "eml" / owner
        (d / "INBOX").mkdir(parents=True)  # the folder the mbox and Maildir hold too
        (d / "INBOX" / "message.eml").write_bytes(raw)
        out["eml"].append(d)
        mb = root / "mbox" / f"{owner}.mbox"
        mb.parent.mkdir(parents=True, exist_ok=True)
        body = b"".join(b">" + line if line.lstrip(b">").startswith(b"From ") else line
                        for line in raw.splitlines(keepends=True))
        if not body.endswith(b"\n"):
            body += b"\n"
        mb.write_bytes(b"From MAILER-DAEMON Mon Sep  7 08:00:00 2026\n" + body + b"\n")
        out["mbox"].append(mb)
        md = root / "maildir" / owner
        for sub in ("cur", "new", "tmp"):
            (md / sub).mkdir(parents=True)
        (md / "cur" / f"1788000000.M{i}P1.corpus:2,S").write_bytes(raw)
        out["maildir"].append(md)
    return out


def new_study(root: Path, key_from: Study | None) -> Study:
    root.mkdir(parents=True)
    rec = generate_identity(root / "keyholder.txt")
    study = init_study(root / "study", [DOMAIN], keyholder=rec)
    if key_from is not None:
        study.key_path.write_bytes(key_from.key_path.read_bytes())
    return study


# ---------------------------------------------------------------------------------------------
# the independent parse: stdlib email, its own walk, the written definitions

_NOT_ATT = {"application/pkcs7-signature", "application/x-pkcs7-signature",
            "application/pgp-signature", "application/pgp-encrypted",
            "message/delivery-status", "message/global-delivery-status",
            "message/disposition-notification", "message/global-disposition-notification",
            "message/feedback-report", "text/rfc822-headers", "message/global-headers"}
_ENC = {"application/pkcs7-mime", "application/x-pkcs7-mime"}


def _leaves(m: Message, parent: str = "", alt: int = 0, counter: list[int] | None = None,
            depth: int = 0):
    """(part, parent subtype, alternative number) of each leaf, not entering attached
    messages."""
    counter = counter if counter is not None else [0]
    if m.is_multipart() and m.get_content_maintype() == "multipart":
        counter[0] += 1
        me = counter[0]
        sub = m.get_content_subtype()
        for child in m.get_payload():
            if isinstance(child, Message):
                yield from _leaves(child, sub, me if sub == "alternative" else alt, counter,
                                   depth + 1)
        return
    yield m, parent, alt


def _is_attachment(p: Message, parent: str) -> bool:
    ctype = p.get_content_type()
    if ctype in _NOT_ATT or parent == "report" or ctype.startswith("multipart/"):
        return False  # (a multipart the stdlib could not split is a leaf to it: no file)
    if ctype in _ENC or parent == "encrypted":
        return True
    disp = (p.get_content_disposition() or "")
    if disp not in ("attachment", "inline"):
        disp = "attachment" if disp else ""
    name = None
    try:
        name = p.get_filename() or p.get_param("name")
    except Exception:  # noqa: BLE001
        pass
    if disp == "attachment" or name:
        return True
    if disp == "inline":
        return False
    return not ctype.startswith("text/")


def _raw_size(p: Message) -> int:
    """CRLF size of a leaf's body as it was written: compat32 keeps the undecoded text (8-bit
    bytes as surrogate escapes) in ``_payload``; ``get_payload()`` would decode it by charset."""
    payload = p._payload  # noqa: SLF001
    if not isinstance(payload, str):
        return 0
    b = payload.encode("ascii", "surrogateescape")
    return len(b) + b.count(b"\n") - b.count(b"\r\n")


def _decoded(value: Any) -> str:
    if value is None:
        return ""
    try:
        return "".join(t.decode(c or "ascii", "replace") if isinstance(t, bytes) else t
                       for t, c in decode_header(str(value)))
    except Exception:  # noqa: BLE001
        return str(value)


def _first_prefix(subject: str) -> str:
    import re

    m = re.match(r"^\s*(re|aw|sv|tr|fw|fwd|wg|rép|rep|réf|ref)\s*(\[\d+\]|\(\d+\))?\s*:",
                 subject, re.I)
    return m.group(1).lower() if m else ""


def independent(raw: bytes) -> dict[str, Any]:
    m = BytesParser(policy=policy.compat32).parsebytes(raw)
    out: dict[str, Any] = {}
    for h in ("To", "Cc", "Bcc"):
        vals = [str(v) for v in m.get_all(h) or []]
        try:
            out[f"n_{h.lower()}"] = sum(1 for n, a in email.utils.getaddresses(vals) if n or a)
        except RecursionError:  # the stdlib's own limit on a pathological header
            out[f"n_{h.lower()}"] = None
    d = None
    try:
        d = email.utils.parsedate_to_datetime(str(m["Date"])) if m["Date"] else None
        if d is not None and d.tzinfo is None:
            d = d.replace(tzinfo=dt.UTC)
        if d is not None and not (dt.datetime(1990, 1, 1, tzinfo=dt.UTC) <= d
                                  <= NOW + dt.timedelta(days=1)):
            d = None
    except (TypeError, ValueError, IndexError, OverflowError):
        d = None
    out["date"] = d
    out["size"] = len(raw) + raw.count(b"\n") - raw.count(b"\r\n")
    first = _first_prefix(_decoded(m["Subject"]))
    fwd = first in ("tr", "fw", "fwd", "wg")
    irt = str(m.get("In-Reply-To", "") or "").strip()
    out["is_forward"] = fwd
    out["is_reply"] = first in ("re", "aw", "sv", "rép", "rep", "réf", "ref") or (
        bool(irt.strip("<> ")) and not fwd)
    auto = m.get("Auto-Submitted")
    out["is_bulk"] = (m.get("List-Id") is not None
                      or str(m.get("Precedence", "")).strip().lower() in ("bulk", "list", "junk")
                      or (auto is not None and str(auto).strip().lower() not in ("", "no")))
    ua = m.get("X-Mailer") or m.get("User-Agent")
    out["client_family"] = None if ua is None else classify_client(str(ua))
    n_att, plain, html, seen = 0, 0, 0, set()
    for p, parent, alt in _leaves(m):
        if _is_attachment(p, parent):
            n_att += 1
            continue
        ct = p.get_content_type()
        if ct not in ("text/plain", "text/html"):
            continue
        if alt and (ct, alt) in seen:
            continue
        seen.add((ct, alt))
        if ct == "text/plain":
            plain += _raw_size(p)
        else:
            html += _raw_size(p)
    out["n_attachments"] = n_att
    out["text_bytes"] = plain or html
    return out


def agree(field: str, ours: Any, theirs: dict[str, Any]) -> bool:
    if field == "recipients":  # where the stdlib gives up, ours must say it gave up too
        return all(int(ours[f"n_{h}"]) == theirs[f"n_{h}"] if theirs[f"n_{h}"] is not None
                   else "bad_address_header" in ours["defects"] for h in ("to", "cc", "bcc"))
    if field == "date":
        d = theirs["date"]
        if d is None:  # no usable Date: ours must say so (and may fall back)
            return any(x.startswith("date_") for x in ours["defects"])
        ours_d = ours["date_utc"]
        return ours_d is not None and abs(ours_d.to_pydatetime() - d) < dt.timedelta(seconds=1)
    if field == "size":
        return int(ours["size_bytes"]) == theirs["size"]
    if field == "reply_forward_bulk":
        return all(bool(ours[k]) == theirs[k] for k in ("is_reply", "is_forward", "is_bulk"))
    if field == "attachments":
        return int(ours["n_attachments"]) == theirs["n_attachments"]
    if field == "client_family":
        fam = ours["client_family"]
        return (None if fam is None or fam != fam else fam) == theirs["client_family"]
    if field == "text_size":
        return int(ours["text_bytes"]) == theirs["text_bytes"]
    raise KeyError(field)


FIELDS = ("recipients", "date", "size", "reply_forward_bulk", "attachments", "client_family",
          "text_size")
TARGETS = {"recipients": 99.5, "date": 99.5, "size": 99.5, "reply_forward_bulk": 99.0,
           "attachments": 98.0, "client_family": 97.0, "text_size": 99.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--show", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=None,
                    help="keep the collected rows here (pseudonyms only) to re-run the "
                         "comparison without collecting again")
    args = ap.parse_args()
    files = sorted(p for p in args.folder.rglob("*") if p.is_file())
    raws = [p.read_bytes() for p in files]
    print(f"corpus: {len(raws)} messages from {args.folder.name}/")
    tmp = Path(tempfile.mkdtemp(prefix="agreement-"))
    try:
        if args.cache is not None and args.cache.exists():
            rows, boxes = pickle.loads(args.cache.read_bytes())
        else:
            rows, boxes = collect_three(raws, tmp, args.workers)
            if args.cache is not None:
                args.cache.write_bytes(pickle.dumps((rows, boxes)))
        same = 0
        for i, b in enumerate(boxes):
            ref = _core(rows["eml"][b], raws[i]) if b in rows["eml"] else None
            diff = {k for f in ("mbox", "maildir") for k, v in
                    _core(rows.get(f, {}).get(b, {}), raws[i]).items()
                    if ref is None or ref.get(k) != v}
            if ref is not None and not diff:
                same += 1
            elif args.show:
                print(f"    readers differ on {sorted(diff)}: {files[i].name}", file=sys.stderr)
        no_nl = sum(1 for r in raws if not r.endswith(b"\n"))
        print(f"readers agree (eml = mbox = maildir rows; flags aside, dates aside where the "
              f"source's date stands in, sizes aside for the {no_nl} messages without a final "
              f"newline, which an mbox cannot keep): {same}/{len(raws)} "
              f"({100 * same / len(raws):.2f}%)")
        _report(raws, files, boxes, rows["maildir"], args.show)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# flags live in file names (Maildir) or headers (mbox): they may differ by format
_FLAGS = ("seen", "answered", "flagged")


# a message without a usable date takes its source's date (file, From_ line, Maildir name)
_DATES = ("date_utc", "date_local")
# an mbox cannot hold a message that does not end with a newline: the export adds one
_SIZES = ("size_bytes", "text_bytes")


def collect_three(raws: list[bytes], tmp: Path, workers: int
                  ) -> tuple[dict[str, dict[str, dict[str, Any]]], list[str]]:
    """Rows by format and mailbox, and the mailbox of each input message."""
    sources = write_sources(raws, tmp / "src")
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    first: Study | None = None
    for fmt, srcs in sources.items():
        study = new_study(tmp / f"study-{fmt}", first)
        first = first or study
        s = collect_files(study, srcs, workers=workers)
        t = s.totals()
        skipped = sum(v for k, v in t["skipped"].items()
                      if k not in ("personal_folders", "empty_mailbox"))
        print(f"{fmt:8}: {len(raws)} in, {t['messages_written']} rows, {skipped} counted "
              f"skips {t['skipped'] or ''}, {t['mailboxes_failed']} mailboxes failed; "
              f"every message accounted for: {t['messages_written'] + skipped == len(raws)}")
        df = read_messages(study.messages_dir)
        rows[fmt] = {r["mailbox"]: r for r in df.to_dict("records")}
    p = first.pseudonymiser()  # type: ignore[union-attr]
    return rows, [p.person(f"m{i:04d}@{DOMAIN}") for i in range(len(raws))]


def _core(row: dict[str, Any], raw: bytes = b"\n") -> dict[str, Any]:
    skip = set(MESSAGES_SOURCE_COLUMNS) | set(_FLAGS)
    if "date_from_source" in list(row.get("defects", ())):
        skip |= set(_DATES)
    if not raw.endswith(b"\n"):
        skip |= set(_SIZES)
    return {k: repr(v) for k, v in row.items() if k not in skip}


def _report(raws: list[bytes], files: list[Path], boxes: list[str],
            rows: dict[str, dict[str, Any]], show: int) -> None:
    ok = dict.fromkeys(FIELDS, 0)
    bad: dict[str, list[str]] = {f: [] for f in FIELDS}
    missing = 0
    for raw, f, box in zip(raws, files, boxes, strict=True):
        row = rows.get(box)
        if row is None:
            missing += 1
            continue
        theirs = independent(raw)
        for field in FIELDS:
            if agree(field, row, theirs):
                ok[field] += 1
            else:
                bad[field].append(f.name)
    n = len(raws)
    print(f"agreement with the stdlib parse ({n} messages, {missing} without a row):")
    for field in FIELDS:
        pct = 100 * ok[field] / n
        print(f"  {field:20} {pct:7.2f}%  (target >= {TARGETS[field]}%: "
              f"{'met' if pct >= TARGETS[field] else 'NOT met'})")
        for name in bad[field][:show]:
            print(f"    {field} differs: {name}", file=sys.stderr)


if __name__ == "__main__":
    main()
