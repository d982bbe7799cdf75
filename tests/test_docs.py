"""The docs carry the same column definitions as the code, and the README the same test
command as CI."""

from __future__ import annotations

from pathlib import Path

from mailstudy import schema

REPO = Path(__file__).resolve().parents[1]


def test_columns_doc_is_generated_from_the_schema() -> None:
    doc = (REPO / "docs" / "columns.md").read_text(encoding="utf-8")
    assert doc.strip() == schema.markdown().strip(), "run: mailstudy columns > docs/columns.md"
    for table in ("messages", "people", "directory", "personas", "panel"):
        assert f"## `{table}`" in doc


def test_readme_shows_the_ci_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in (REPO / "README.md").read_text(encoding="utf-8")
