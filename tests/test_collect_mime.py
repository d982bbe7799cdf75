"""The in-memory and the streaming MIME readers agree on every message."""

from __future__ import annotations

import glob
import io
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from studykit import message

from mailstudy.collect.mime import iter_lines, read_message, read_message_bytes


def both(raw: bytes) -> None:
    a = read_message(iter_lines(io.BytesIO(raw)))
    b = read_message_bytes(raw)
    assert a.size == b.size == len(raw) + raw.count(b"\n") - raw.count(b"\r\n")
    assert a.header_digest == b.header_digest
    assert a.outline.parts == b.outline.parts
    assert sorted(set(a.outline.defects)) == sorted(set(b.outline.defects))


def test_readers_agree_on_hand_made_messages() -> None:
    for nl in ("\n", "\r\n"):
        both(message(nl=nl))
        both(message(nl=nl, attachment=b"x" * 5000))
        both(message(nl=nl, attachment=b"x" * 5000)[:-300])
    nested = (b"Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/"
              b"alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\n"
              b"Content-Type: text/html\n\n<p>hi</p>\n--b--\n--a\nContent-Type: image/png\n"
              b"Content-Disposition: inline\n\nPNG\n--a\nContent-Type: application/pdf; name="
              b"x.pdf\n\n%PDF\n--a--\nepilogue\n")
    both(nested)
    both(nested.replace(b"--b--\n", b""))  # an inner close boundary is missing
    both(b"")
    both(b"Subject: x")
    both(b"\nbody only")


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_readers_agree_on_mutilated_messages(seed: int) -> None:
    rng = random.Random(seed)
    nl = rng.choice(["\n", "\r\n"])
    raw = bytearray(message(nl=nl, attachment=rng.randbytes(rng.randint(0, 3000))
                            if rng.random() < 0.7 else None))
    for _ in range(rng.randint(0, 4)):
        op = rng.random()
        i = rng.randrange(len(raw) + 1)
        if op < 0.3:
            del raw[i:i + rng.randint(1, 200)]
        elif op < 0.6:
            raw[i:i] = rng.choice([b"\n", b"\r\n", b"--=_b1\n", b"--=_b1--\n", b"\n\n", b"--"])
        else:
            raw[i:i] = rng.randbytes(rng.randint(1, 30))
    both(bytes(raw))


def test_readers_agree_on_the_synthetic_council(tmp_path) -> None:
    from mailstudy.demo.council import generate_council

    c = generate_council(tmp_path, n_agents=12, weeks=1, seed=5)
    files = sorted(glob.glob(str(c.mailboxes / "*" / "**" / "cur" / "*"), recursive=True))
    assert len(files) > 50
    for f in files:
        with open(f, "rb") as fh:
            both(fh.read())


_addr_alphabet = st.sampled_from(list("abcdeé.-_@<> ,=?Q\t\x27") + ["jean", "@region.test", "<",
                                                                  ">", ", "])


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(_addr_alphabet, max_size=25))
def test_fast_address_split_matches_the_stdlib(parts: list[str]) -> None:
    import email.utils

    from mailstudy.collect.addresses import _simple_addresses

    value = "".join(parts)
    fast = _simple_addresses(value)
    if fast is not None:
        slow = [(n, a) for n, a in email.utils.getaddresses([value]) if n or a]
        assert fast == slow, value


def test_fast_address_split_takes_common_lists() -> None:
    from mailstudy.collect.addresses import _simple_addresses

    assert _simple_addresses("Jean Dupont <jean.dupont@region.test>,  a@b.fr") == [
        ("Jean Dupont", "jean.dupont@region.test"), ("", "a@b.fr")]
    assert _simple_addresses("=?utf-8?q?Herv=C3=A9?= <h@x.fr>") == [
        ("=?utf-8?q?Herv=C3=A9?=", "h@x.fr")]
    assert _simple_addresses('"Dupont, Jean" <j@x.fr>') is None  # quoted: the full parser


def test_rfc2231_encoded_boundary_and_file_name_are_decoded(tmp_path) -> None:
    """Roundcube's test mail0.eml writes its boundary in RFC 2231 encoded sections, out of
    order here: the delimiter lines use the decoded text. A file name written the same way
    keeps its real extension."""
    raw = (b"From: a@region.test\nTo: b@region.test\nSubject: s\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary*1*=24f3;\n"
           b" boundary*0*=us-ascii''%3D_8853%20x\n\n"
           b"--=_8853 x24f3\nContent-Type: text/plain\n\nbonjour\n"
           b"--=_8853 x24f3\nContent-Type: application/octet-stream\n"
           b"Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.PDF\n\n"
           b"data\n--=_8853 x24f3--\n")
    path = tmp_path / "m.eml"
    path.write_bytes(raw)
    for parsed in (read_message_bytes(path.read_bytes()),
                   read_message(iter_lines(io.BytesIO(path.read_bytes())))):
        parts = parsed.outline.parts
        assert [p.content_type for p in parts] == ["text/plain", "application/octet-stream"]
        assert parts[1].extension == "pdf"
        assert "missing_close_boundary" not in parsed.outline.defects
