"""Rendering helpers shared by every document: jinja2 templates to HTML, WeasyPrint to PDF.

Documents receive ready-made numbers and tables; nothing here computes a statistic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=jinja2.select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def render_html(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``context``."""
    return _env.get_template(template).render(**context)


def write_html(html: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def write_pdf(html: str, path: Path, base_url: Path) -> Path:
    """Render ``html`` to PDF; relative image links resolve against ``base_url``."""
    import logging

    import weasyprint

    # WeasyPrint logs CSS warnings loudly; they are noise for users.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    path.parent.mkdir(parents=True, exist_ok=True)
    weasyprint.HTML(string=html, base_url=str(base_url)).write_pdf(str(path))
    return path
