"""Error messages speak the user's language: every message of the error family is an English
template whose French text is in the catalogue, and the command line shows it under a French
locale (English otherwise), while ``str(exc)`` stays English for logs, reports and tests.

The scan reads the source (``ast``): a ``raise XError(f"...")`` in a converted file, a template
without its French text, or a French text whose placeholders differ from the English ones
fails here, not in front of a DCI agent.
"""

from __future__ import annotations

import ast
import pickle
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from studykit import make_study

from mailstudy import i18n
from mailstudy.errors import ConfigError, MailstudyError
from mailstudy.invite.distribution import InfeasibleError

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("mailstudy", "anonymise", "reports")
#: Files not converted yet (their messages still f-strings, shown in English), as globs: none
#: left, the scan covers every file; a file being rewritten elsewhere may wait here a while.
NOT_CONVERTED: tuple[str, ...] = ()
FR: dict[str, str | None] = {"LANG": "fr_FR.UTF-8", "LC_ALL": None, "LC_MESSAGES": None}
EN: dict[str, str | None] = {"LANG": "C", "LC_ALL": None, "LC_MESSAGES": None}


def _files(converted_only: bool = True) -> list[Path]:
    out = []
    for pkg in SOURCES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            rel = p.relative_to(ROOT).as_posix()
            if not (converted_only and any(Path(rel).match(g) for g in NOT_CONVERTED)):
                out.append(p)
    return out


def _own_message(node: ast.ClassDef) -> bool:
    """True for a class whose ``__init__`` makes its message itself (its first parameter is
    not a ``msgid``, e.g. ``MessageOverBudget(reason)``): its ``super().__init__`` is scanned,
    not its callers."""
    for sub in node.body:
        if isinstance(sub, ast.FunctionDef) and sub.name == "__init__":
            params = [a.arg for a in sub.args.posonlyargs + sub.args.args]
            return len(params) > 1 and params[1] != "msgid"
    return False


def _family() -> tuple[set[str], set[str]]:
    """Names of MailstudyError and every class of the source that derives from it, and those
    of the family that make their own message."""
    bases: dict[str, set[str]] = {}
    own: set[str] = set()
    for p in _files(converted_only=False):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if _own_message(node):
                    own.add(node.name)
    family = {"MailstudyError"}
    while grown := {c for c, b in bases.items() if c not in family and b & family}:
        family |= grown
    return family, own & family


def _callee(call: ast.Call) -> str | None:
    f = call.func
    if isinstance(f, ast.Attribute) and f.attr == "__init__":
        return "super().__init__"
    return getattr(f, "id", getattr(f, "attr", None))


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level string constants (a message shared by several raises)."""
    out = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            out[node.targets[0].id] = node.value.value
    return out


def _error_calls(tree: ast.Module, family: set[str],
                 own: frozenset[str] = frozenset()) -> Iterator[ast.Call]:
    """Calls that make an error of the family (raised, returned or kept in a variable), and
    ``super().__init__`` inside the family's classes (the root's own excepted)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in family - {"MailstudyError"}:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and _callee(sub) == "super().__init__":
                    yield sub
        elif isinstance(node, ast.Call) and _callee(node) in family - own:
            yield node


def _msgid(call: ast.Call, consts: dict[str, str]) -> str | None:
    """The English template of an error call; None for a pass-through (``exc.msgid`` or a
    ``msgid`` parameter); raises AssertionError for anything else (an f-string above all)."""
    arg = call.args[0] if call.args else None
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.Name) and arg.id in consts:
        return consts[arg.id]
    if (isinstance(arg, ast.Attribute) and arg.attr == "msgid") or (
            isinstance(arg, ast.Name) and arg.id == "msgid"):
        return None
    kind = "an f-string" if isinstance(arg, ast.JoinedStr) else ast.unparse(arg) if arg else (
        "no message")
    raise AssertionError(f"line {call.lineno}: the message is {kind}, not a template")


def _fields(text: str) -> set[tuple[str, str | None, str]]:
    """The ``{name!conv:spec}`` placeholders of a template."""
    return {(name, conv, spec) for _, name, spec, conv in string.Formatter().parse(text)
            if name is not None}


def _templates() -> tuple[list[tuple[str, int, str, set[str] | None]], list[str]]:
    """(file, line, msgid, keyword names or None when ``**`` is passed) and the problems."""
    (family, own), found, problems = _family(), [], []
    for p in _files():
        rel = p.relative_to(ROOT).as_posix()
        tree = ast.parse(p.read_text(encoding="utf-8"))
        consts = _constants(tree)
        for call in _error_calls(tree, family, frozenset(own)):
            try:
                msgid = _msgid(call, consts)
            except AssertionError as exc:
                problems.append(f"{rel} {exc}")
                continue
            if msgid is not None:
                names = None if any(k.arg is None for k in call.keywords) else {
                    k.arg for k in call.keywords if k.arg}
                found.append((rel, call.lineno, msgid, names))
    return found, problems


def test_every_error_message_is_a_template_with_its_french_text() -> None:
    found, problems = _templates()
    assert not problems, problems
    assert len(found) > 150  # the scan sees the raise sites (a broken scan finds none)
    fr = i18n.catalogue("fr")
    for rel, line, msgid, names in found:
        where = f"{rel}:{line}: {msgid!r}"
        fields = _fields(msgid)
        if names and fields:
            # a placeholder without its value would fail at the raise (KeyError)
            assert {f[0] for f in fields} <= names, where
        french = fr.get(("error", msgid))
        assert french, f"no French text (msgctxt 'error') in fr.po for {where}"
        assert _fields(french) == fields, f"placeholders differ in fr.po for {where}"


def test_every_refused_login_phrase_has_its_french_text() -> None:
    # a refused login raises the phrase login_reason chose as its template (no values): the
    # scan sees a pass-through there, so the phrases are checked here
    from mailstudy.collect.imap.errors import LOGIN_REASONS, LoginRefused, login_reason

    fr = i18n.catalogue("fr")
    assert len(LOGIN_REASONS) == 6 and login_reason(Exception("LOGIN failed")) in LOGIN_REASONS
    for phrase in LOGIN_REASONS:
        assert fr.get(("error", phrase)), phrase
        assert not _fields(phrase) and str(LoginRefused(phrase)) == phrase


def test_the_scan_refuses_an_f_string_message() -> None:
    tree = ast.parse('def f(n):\n    raise ConfigError(f"[x] y must be {n}")\n')
    call = next(_error_calls(tree, {"ConfigError"}))
    with pytest.raises(AssertionError, match="f-string"):
        _msgid(call, {})
    assert _fields("[x] {n} of {k:04o} {v!r}") == {("n", None, ""), ("k", None, "04o"),
                                                   ("v", "r", "")}
    # a French text that lost or renamed a placeholder differs from its template
    assert _fields("{n} sur {total}") != _fields("{n} of {k}")


def test_str_of_an_error_is_english_with_its_values() -> None:
    exc = ConfigError("[privacy] min_group_size is {n}; it may not be below {floor}",
                      n=3, floor=5)
    assert str(exc) == "[privacy] min_group_size is 3; it may not be below 5"
    assert exc.msgid.endswith("below {floor}") and exc.values == {"n": 3, "floor": 5}
    assert str(MailstudyError("a literal {brace} without values")) == (
        "a literal {brace} without values")
    # errors come back from Dask workers pickled: the template and values survive
    back = pickle.loads(pickle.dumps(InfeasibleError("no panel of {size}", ["a"], ["b"],
                                                     size=7)))
    assert (str(back), back.msgid, back.values, back.blocking) == (
        "no panel of 7", "no panel of {size}", {"size": 7}, ["a"])


def _cli(args: list[str], env: dict[str, str | None]) -> tuple[int, str]:
    """Run the real command line in-process (typer's runner) under ``env``'s locale."""
    from typer.testing import CliRunner

    from mailstudy.cli import app

    res = CliRunner().invoke(app, args, env=env)
    return res.exit_code, res.stderr if hasattr(res, "stderr") else res.output


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An empty folder, a study whose study.toml asks for groups below the floor, a study
    with a directory file lacking an address column, and one that lacks the file."""
    tmp = tmp_path_factory.mktemp("errfr")
    (tmp / "empty").mkdir()
    low, _ = make_study(tmp / "low")
    toml = low.root / "study.toml"
    text, n = re.subn(r"(?m)^min_group_size\s*=.*$", "min_group_size = 3",
                      toml.read_text(encoding="utf-8"))
    assert n == 1
    toml.write_text(text, encoding="utf-8")
    ok, _ = make_study(tmp / "ok")
    (tmp / "annuaire.csv").write_text("Nom;Service\nDupont;Finances\n", encoding="utf-8")
    return {"empty": tmp / "empty", "low": low.root, "ok": ok.root,
            "directory": tmp / "annuaire.csv", "absent": tmp / "absent.csv"}


CASES = (  # (command, English body, French body), each a real path to an error
    (lambda b: ["profile", "--study", str(b["empty"])],
     "no study.toml in ", "pas de study.toml dans "),
    (lambda b: ["profile", "--study", str(b["low"])],
     "privacy.min_group_size is 3; it may not be below 5",
     "privacy.min_group_size vaut 3 ; il ne peut pas être inférieur à 5"),
    (lambda b: ["directory", "import", str(b["directory"]), "--study", str(b["ok"])],
     "no email column found; expected a header among: ",
     "aucune colonne email trouvée ; en-têtes attendus : "),
    (lambda b: ["directory", "import", str(b["directory"]), "--column", "email",
                "--study", str(b["ok"])],
     "--column expects field=HEADER, got 'email'", "--column attend champ=EN-TÊTE, reçu 'email'"),
    (lambda b: ["profile", "--study", str(b["ok"])],
     "nothing collected yet: run 'mailstudy collect files'",
     "rien n'a encore été collecté : lancez d'abord 'mailstudy collect files'"),
    (lambda b: ["collect", "imap", "--host", "127.0.0.1", "--study", str(b["ok"])],
     "give either --user LOGIN (one mailbox) or --accounts FILE",
     "indiquez soit --user LOGIN (une seule boîte), soit --accounts FILE"),
    # an ImapError re-raised by the command keeps its template and its value
    (lambda b: ["collect", "imap", "--host", "127.0.0.1", "--plaintext", "--user", "agent@x.fr",
                "--password-env", "MS_ERRFR_UNSET", "--study", str(b["ok"])],
     "the environment variable MS_ERRFR_UNSET is not set",
     "la variable d'environnement MS_ERRFR_UNSET n'est pas définie"),
    (lambda b: ["collect", "files", str(b["empty"]), "--cluster", "tcp://host",
                "--study", str(b["ok"])],
     "cluster address must look like tcp://host:8786 (a Dask scheduler)",
     "l'adresse du cluster doit être de la forme tcp://host:8786 (un ordonnanceur Dask)"),
)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_command_line_shows_errors_in_the_users_language(broken: dict[str, Path],
                                                            case: int) -> None:
    args, english, french = CASES[case]
    code, out = _cli(args(broken), FR)
    assert code == 2, out
    assert out.startswith("erreur : ") and french in out, out
    assert english not in out and "Traceback" not in out
    code, out = _cli(args(broken), EN)
    assert code == 2, out
    assert out.startswith("error: ") and english in out, out
    assert french not in out
