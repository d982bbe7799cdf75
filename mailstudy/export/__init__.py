"""Exports that leave the operator's zone.

- ``generalise.py``: k-anonymity of a per-person table (Datafly over documented hierarchies).
- ``analyst.py``: ``mailstudy export analyst DIR``, the analyst package.
"""

from mailstudy.export.analyst import AnalystExport, export_analyst
from mailstudy.export.generalise import Generalisation, generalise

__all__ = ["AnalystExport", "Generalisation", "export_analyst", "generalise"]
