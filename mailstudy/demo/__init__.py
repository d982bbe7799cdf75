"""Demo and test scaffolding: a synthetic council, a real Dovecot, and ``mailstudy demo``.

Nothing here touches real mail; the product never imports it outside ``mailstudy demo``.

- ``run``: :func:`run_demo`, the whole audit on a synthetic council (``mailstudy demo``).
- ``council/``: :func:`generate_council`, the seeded synthetic council (see its map).
- ``dovecot``: :class:`DovecotServer`, a real, self-contained Dovecot for tests and the demo.
- ``dovecot_config``: whether Dovecot can run here, its error, its configuration text.
- ``certificates``: a test CA and the server certificate it signs.
- ``oauth``: :class:`TokenIntrospection`, a loopback OAuth2 introspection endpoint.
- ``proxy``: :class:`RewritingProxy`, a loopback proxy that rewrites server lines.
- ``maildir``: :func:`folder_dirname`, Maildir++ directory names of IMAP folders.
"""

from mailstudy.demo.run import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
