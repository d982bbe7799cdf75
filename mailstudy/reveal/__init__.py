"""Re-identification of a drawn panel by the key holder, and nobody else.

Why a separate stage: the analyst who draws the panel works on pseudonyms and holds no key.
Only the key holder's age identity opens the escrow, and ``reveal`` asks it for the committed
panel and its reserves only, so the named files under ``out/invitations/named/`` say nothing
about anyone else.

- ``run.py``: :func:`reveal`, bound to the committed draw (``read_committed_draw``).
- ``log.py``: the hash-chained re-identification log (``verify_log``, ``append_entry``).
- ``named.py``: named tables, written all or nothing.
- ``calendar.py``: the .ics invitations.
"""

from mailstudy.reveal.log import LogError, verify_log
from mailstudy.reveal.run import Draw, RevealError, RevealSummary, read_committed_draw, reveal

__all__ = ["Draw", "LogError", "RevealError", "RevealSummary", "read_committed_draw", "reveal",
           "verify_log"]
