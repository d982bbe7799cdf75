"""Practitioners' pool files, read into plain tables: the ``mailstudy panel`` stage's input.

Why a stage of its own: a sortition practitioner holds a respondents file and a categories
file in the Sortition Foundation's formats, not a study. This package turns them (CSV or
XLSX, French or English headers) into a people table (``person`` + one column per feature)
and a quotas table (feature, value, min, max). It imports no other stage: the lottery engine
lives in ``mailstudy.invite`` and ``mailstudy.pipeline.panel`` joins the two.

- ``files``: ``read_table``, ``read_respondents``, ``read_categories``, ``PanelInputError``.
"""

from mailstudy.panel.files import (
    PanelInputError,
    categories_table,
    read_categories,
    read_respondents,
    read_table,
    respondents_table,
)

__all__ = ["PanelInputError", "categories_table", "read_categories", "read_respondents",
           "read_table", "respondents_table"]
