"""A test certificate authority and the server certificate it signs, made with ``openssl``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mailstudy.demo.dovecot_config import OPENSSL, DovecotError


def _run(args: list[str], cwd: Path) -> None:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        raise DovecotError("{command} failed: {detail}",
                           command=args[0], detail=proc.stderr.strip()[-500:])


def make_certificates(directory: Path, hostname: str = "localhost") -> tuple[Path, Path, Path]:
    """Create a test CA and a server certificate it signs (EC P-256, valid 2 days).

    Returns (ca_cert, server_cert, server_key). A real CA plus a leaf (rather than one
    self-signed leaf) is what an internal PKI looks like and what strict verifiers expect.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run([OPENSSL, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
          "-subj", "/CN=mailstudy test CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
    _run([OPENSSL, "req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr",
          "-subj", f"/CN={hostname}"], d)
    (d / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName=DNS:{hostname},IP:127.0.0.1\n")
    _run([OPENSSL, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
          "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext"], d)
    for name in ("ca.pem", "server.pem", "server.key"):
        os.chmod(d / name, 0o644)  # read by Dovecot's unprivileged processes (test only)
    return d / "ca.pem", d / "server.pem", d / "server.key"

