"""Command-line interface: ``mailstudy COMMAND``.

Each stage's commands sit in their own module here; importing the package registers them all.
"""

from __future__ import annotations

import importlib
import pkgutil

from mailstudy.cli._app import app

for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_mod}")


def main() -> None:
    app()


__all__ = ["app", "main"]
