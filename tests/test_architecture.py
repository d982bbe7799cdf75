"""The house plan, checked: imports point only downwards, and stages do not import each other.

Layers, top to bottom (DESIGN.md, "Layout"):

    __main__ -> cli -> demo -> pipeline -> stages -> foundation -> anonymise -> errors

A module may import its own package (a stage's modules import each other) and any lower
layer; never a higher layer, never another stage. ``reports/`` renders what it is given: it
may import only the foundation (wording, formats) and nothing that computes. ``anonymise/``
knows nothing about mail: it imports no mailstudy module but ``mailstudy.errors``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mailstudy", "anonymise", "reports")

STAGES = {"collect", "intake", "profile", "personas", "invite", "reveal", "report", "purge",
          "export", "compare", "panel"}
FOUNDATION = {"catalog", "schema", "store", "study", "text", "holidays", "tabular", "i18n",
              "release", "commitment", "optout", "__init__", "errors"}


def layer(module: str) -> tuple[int, str]:
    """(rank, unit): a higher rank is a higher layer; unit names a stage or package."""
    parts = module.split(".")
    if parts[0] == "anonymise":
        return 1, "anonymise"
    if parts[0] == "reports":
        return 3, "reports"
    if module == "mailstudy.errors":
        return 0, "errors"
    sub = parts[1] if len(parts) > 1 else "__init__"
    if sub == "__main__":
        return 8, "main"
    if sub == "cli":
        return 7, "cli"
    if sub == "demo":
        return 6, "demo"
    if sub == "pipeline":
        return 5, "pipeline"
    if sub in STAGES:
        return 4, sub
    if sub in FOUNDATION:
        return 2, sub
    raise AssertionError(f"{module}: not placed in a layer; add it to tests/test_architecture")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1] if len(parts) > 1 else parts
    return ".".join(parts)


def imports_of(me: str, source: str, is_package: bool = False) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    package = me if is_package else me.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{a.name}") for a in node.names]
    return [(n, m) for n, m in found if m.split(".")[0] in PACKAGES]


def _resolve(target: str) -> str:
    """``from mailstudy import schema`` names module mailstudy.schema, not mailstudy."""
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        cand = ROOT.joinpath(*parts[:i])
        if cand.with_suffix(".py").exists() or (cand / "__init__.py").exists():
            return ".".join(parts[:i])
    return target


def check_module(me: str, source: str, is_package: bool = False) -> list[str]:
    bad = []
    my_rank, my_unit = layer(me)
    for line, target in imports_of(me, source, is_package):
        target = _resolve(target)
        if target in PACKAGES:
            continue  # a package itself (mailstudy's __init__ holds only the version)
        rank, unit = layer(target)
        where = f"{me}:{line} imports {target}"
        if unit == my_unit:
            continue
        if rank > my_rank:
            bad.append(f"{where} (upward)")
        elif rank == my_rank == 4:
            bad.append(f"{where} (sideways: stage {my_unit} -> stage {unit})")
        elif my_unit == "anonymise" and unit != "errors":
            bad.append(f"{where} (anonymise knows nothing of mailstudy)")
        elif my_unit == "reports" and rank not in (0, 1, 2):
            bad.append(f"{where} (reports renders; it computes nothing)")
    return bad


def violations() -> list[str]:
    bad = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            bad += check_module(module_name(path), path.read_text(encoding="utf-8"),
                                path.name == "__init__.py")
    return bad


def test_imports_point_downwards_and_stages_do_not_import_each_other() -> None:
    assert violations() == []


def test_the_checker_sees_sideways_upward_and_anonymise_imports() -> None:
    # The check itself can fail: planted imports are reported, own-package ones are not.
    source = ("from mailstudy.personas import fit\nfrom mailstudy import pipeline\n"
              "from mailstudy.profile import features\nfrom mailstudy import catalog\n")
    found = check_module("mailstudy.profile.groups", source)
    assert any("sideways" in v and "personas" in v for v in found)
    assert any("upward" in v and "pipeline" in v for v in found)
    assert not any("catalog" in v or "profile.features" in v for v in found)
    assert check_module("anonymise.escrow", "from mailstudy import schema\n")
    assert not check_module("anonymise.escrow", "from mailstudy.errors import PrivacyError\n")
    assert check_module("reports.audit", "from mailstudy.report import scope_summary\n")
