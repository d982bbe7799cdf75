"""The study workspace: ``study.toml``, ``secrets/``, ``data/``, ``out/``.

Every command finds its study from ``--study DIR``, else ``MAILSTUDY_STUDY``, else the current
directory. The pseudonymisation key is refused when group or others can read it (as ssh does
with private keys): a key that leaked to another account makes every pseudonym reversible by
dictionary attack.
"""

from __future__ import annotations

import copy
import datetime as dt
import hmac
import os
import re
import secrets as _secrets
import shutil
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from anonymise.escrow import EscrowWriter, parse_recipient
from anonymise.pseudonym import KEY_BYTES, Pseudonymiser
from mailstudy.catalog import DATASETS, Catalog
from mailstudy.errors import ConfigError

STUDY_FILE = DATASETS["config"].path
KEY_FILE = Path(DATASETS["key"].path).name
MIN_GROUP_FLOOR = 5


def config_int(value: Any, name: str) -> int:
    """A whole number from study.toml (``5``, or ``"5"`` as a spreadsheet-minded user writes
    it); anything else, a boolean or ``1.5`` included, is a ConfigError naming the setting."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ConfigError("{name} must be a whole number, not {kind} "
                      "{value!r}", name=name, kind=type(value).__name__, value=str(value)[:20])


class StudyError(ConfigError):
    """A problem with the workspace that the user must fix; the message says how."""


DEFAULTS: dict[str, Any] = {
    "organisation": {"name": "", "domains": [], "partner_domains": [], "aliases": {}},
    "time": {"timezone": "Europe/Paris", "workdays": ["mon", "tue", "wed", "thu", "fri"],
             "work_start": "08:00", "work_end": "19:00", "public_holidays": "FR",
             "extra_holidays": []},
    "privacy": {"min_group_size": 10, "retention_until": "",
                "personal_folders": ["Personnel", "Perso", "Privé", "Personal", "Private"]},
    "collect": {"sources": [], "imap": {}},
    "directory": {"file": "", "columns": {}},
    "profile": {"min_messages": 20, "min_active_days": 10},
    "personas": {"k": "auto", "k_min": 2, "k_max": 10, "bootstrap": 50, "seed": 20261126},
    "workshop": {"panel_size": 20, "seed": 1, "volunteers_file": "", "availability_file": "",
                 "sessions": []},
    "report": {"lang": "fr"},
    "cluster": {"address": "", "timeout": 30},
}

TEMPLATE = """\
# mailstudy study configuration. Every key has a default; edit and re-run.

[organisation]
name = {name}
# Addresses in these domains are staff: they get pseudonyms. Others keep only a class.
domains = {domains}
# Partner organisations: counted apart from the rest of the outside world.
partner_domains = {partners}
# Several addresses of one person: "alias@domain" = "main@domain"
[organisation.aliases]

[time]
timezone = "Europe/Paris"
# Working days and hours, used for after-hours and weekend features.
workdays = ["mon", "tue", "wed", "thu", "fri"]
work_start = "08:00"
work_end = "19:00"
# French public holidays are computed ("FR"); set "" to disable. Add days as "YYYY-MM-DD".
public_holidays = "FR"
extra_holidays = []

[privacy]
# Smallest group any released table or chart may show (never below 5).
min_group_size = 10
# After this date `mailstudy purge` deletes the data, the key and the escrow.
retention_until = "{retention}"
# Folders whose names match these words are never read (case and accents ignored).
personal_folders = ["Personnel", "Perso", "Privé", "Personal", "Private"]

[collect]
# Exported mailboxes read by `mailstudy run` (paths, globs allowed).
sources = []

[directory]
# HR directory read by `mailstudy run`; column names are recognised (FR/EN) or mapped here.
file = ""
[directory.columns]

[profile]
# A person is profiled when their mailbox has this much data.
min_messages = 20
min_active_days = 10

[personas]
k = "auto"
k_min = 2
k_max = 10
bootstrap = 50
seed = 20261126

[workshop]
panel_size = 20
seed = 1
volunteers_file = ""
availability_file = ""
# [[workshop.sessions]]
# id = "s1"
# start = "2027-01-14T09:30"
# end = "2027-01-14T12:30"
# place = "Hôtel de Région, Nantes"

[report]
lang = "fr"

[cluster]
# A Dask scheduler ("tcp://host:8786") to run collection and profiling on; "" = this
# machine. Every worker must mount this study at the same path (see the README).
address = ""
"""


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(_toml_str(i) for i in items) + "]"


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Study:
    root: Path
    config: dict[str, Any] = field(default_factory=dict)

    # -- layout ---------------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        """Every dataset of the study by name, with its zone (see ``mailstudy/catalog.py``)."""
        return Catalog(self.root)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def messages_dir(self) -> Path:
        return self.catalog.path("messages")

    @property
    def escrow_dir(self) -> Path:
        return self.catalog.path("escrow")

    @property
    def runs_dir(self) -> Path:
        return self.catalog.path("runs")

    # -- configuration --------------------------------------------------------------------
    def section(self, name: str) -> dict[str, Any]:
        return self.config.get(name, {})

    @property
    def domains(self) -> list[str]:
        return [d.lower().lstrip("@") for d in self.section("organisation").get("domains", [])]

    @property
    def partner_domains(self) -> list[str]:
        return [d.lower().lstrip("@")
                for d in self.section("organisation").get("partner_domains", [])]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.section("time").get("timezone", "Europe/Paris"))

    @property
    def min_group_size(self) -> int:
        n = config_int(self.section("privacy").get("min_group_size", 10),
                       "privacy.min_group_size")
        if n < MIN_GROUP_FLOOR:
            raise StudyError("privacy.min_group_size is {n}; it may not be below "
                             "{min_group_floor}", n=n, min_group_floor=MIN_GROUP_FLOOR)
        return n

    @property
    def personal_folders(self) -> list[str]:
        return list(self.section("privacy").get("personal_folders", []))

    # -- keys -----------------------------------------------------------------------------
    @property
    def key_path(self) -> Path:
        return self.catalog.path("key")

    def has_key(self) -> bool:
        return self.key_path.exists()

    def key(self) -> bytes:
        p = self.key_path
        if not p.exists():
            raise StudyError("this command needs the pseudonymisation key "
                             "(secrets/{key_file}), which this copy of the study does not have: "
                             "run it on the collection machine", key_file=KEY_FILE)
        folder_mode = stat.S_IMODE(p.parent.stat().st_mode)
        if folder_mode & 0o077:
            raise StudyError("the secrets folder is open to group or others (mode "
                             "{folder_mode:04o}): another account could swap the key; run "
                             "'chmod 700 {parent}' and try again",
                             folder_mode=folder_mode, parent=p.parent)
        mode = stat.S_IMODE(p.stat().st_mode)
        if mode & 0o077:
            raise StudyError("secrets/{key_file} is readable by group or others (mode "
                             "{mode:04o}); run 'chmod 600 {p}' and try again",
                             key_file=KEY_FILE, mode=mode, p=p)
        data = p.read_bytes()
        if len(data) < KEY_BYTES:
            raise StudyError("secrets/{key_file} is damaged (expected {key_bytes} bytes)",
                             key_file=KEY_FILE, key_bytes=KEY_BYTES)
        return data

    def pseudonymiser(self) -> Pseudonymiser:
        return Pseudonymiser(self.key(), self.section("organisation").get("aliases", {}))

    def normal_address(self, address: str) -> str:
        """``address`` as every stage spells it before pseudonymising it (IDNA domain, no
        trailing dot, ``+tag`` folded when ``[organisation] subaddress_separator`` says so):
        the directory, the answers files, the opt-outs and the collectors agree on one
        pseudonym per mailbox."""
        from mailstudy.text import normal_address

        return normal_address(address, self.section("organisation").get("subaddress_separator"),
                              tuple(self.normal_domains))

    @property
    def normal_domains(self) -> list[str]:
        """The organisation's domains as :meth:`normal_address` spells them (IDNA ASCII)."""
        from mailstudy.text import normal_address

        return [normal_address("@" + d)[1:] for d in self.domains]

    def keyholder_recipient(self) -> str | None:
        p = self.catalog.path("keyholder_pub")
        return p.read_text().strip() if p.exists() else None

    def escrow(self) -> EscrowWriter:
        return EscrowWriter(self.escrow_dir, self.keyholder_recipient())


def find_study_dir(study: Path | str | None = None) -> Path:
    """The study folder named by ``study``, MAILSTUDY_STUDY or the current directory."""
    where = str(study) if study else os.environ.get("MAILSTUDY_STUDY")
    return _local_folder(where) if where else Path.cwd()


def _local_folder(where: str) -> Path:
    """Why a URL is refused: the store's exactly-once writes need an atomic rename inside a
    folder and a lock the kernel drops when its holder dies; object storage (s3://, gs://,
    a bucket under FUSE) gives neither, so a study lives on a (shared) POSIX filesystem."""
    # "s3://b" or, once the command line made it a Path, "s3:/b" (two letters at least: C:/)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", where):
        raise StudyError("a study is a folder on a filesystem (a shared mount for a cluster), "
                         "not a URL: object storage cannot give the message store its atomic "
                         "renames and locks")
    return Path(where)


def open_study(study: Path | str | None = None) -> Study:
    """Open the study at ``study`` (or MAILSTUDY_STUDY, or the current directory)."""
    root = find_study_dir(study).resolve()
    cfg_path = root / STUDY_FILE
    if not cfg_path.exists():
        raise StudyError("no {study_file} in {root}: create a study with 'mailstudy init DIR' "
                         "or point to one with --study DIR or MAILSTUDY_STUDY",
                         study_file=STUDY_FILE, root=root)
    try:
        cfg = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StudyError("{study_file} is not valid TOML: {exc}",
                         study_file=STUDY_FILE, exc=exc) from exc
    s = Study(root, _merge(DEFAULTS, cfg))
    s.min_group_size  # validate early  # noqa: B018
    return s


def _new_workspace(root: Path) -> Catalog:
    """The folders of a new study (``secrets/`` 0700); refuses one that holds a study."""
    root.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(root)
    if catalog.exists("config") or catalog.exists("key"):
        raise StudyError("{root} already holds a study; use another folder", root=root)
    for sub in ("data", "out", "secrets"):
        (root / sub).mkdir(exist_ok=True)
    os.chmod(root / "secrets", 0o700)
    return catalog


def _retention(days: int) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


def _write_key(catalog: Catalog, key: bytes) -> None:
    """Write the key once, 0600 from its creation (O_EXCL: never over an existing one)."""
    fd = os.open(catalog.path("key"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)


def init_study(directory: Path | str, domains: list[str], *, keyholder: str | None = None,
               partner_domains: list[str] | None = None, name: str = "",
               retention_days: int = 395, key: bytes | None = None) -> Study:
    """Create a study workspace. Refuses to overwrite an existing key.

    ``retention_days`` defaults to 13 months, Viva Insights' default retention.
    """
    root = _local_folder(str(directory))
    if not domains:
        raise StudyError("at least one organisation domain is needed (--domain region.fr)")
    catalog = _new_workspace(root)
    retention = _retention(retention_days)
    catalog.path("config").write_text(TEMPLATE.format(
        name=_toml_str(name), domains=_toml_list(domains),
        partners=_toml_list(partner_domains or []), retention=retention), encoding="utf-8")
    _write_key(catalog, key if key is not None else _secrets.token_bytes(KEY_BYTES))
    if keyholder:
        recipient = parse_recipient(keyholder)
        catalog.path("keyholder_pub").write_text(str(recipient) + "\n")
    return open_study(root)


# -- follow-up campaigns ----------------------------------------------------------------------
FOLLOW_UP = "follow_up"
_FOLLOW_UP_TABLE = re.compile(r"^\[follow_up\][^\[]*", re.MULTILINE)


def key_id(key: bytes) -> str:
    """A public fingerprint of a pseudonymisation key (an HMAC of a fixed label under it): two
    studies with the same id give the same pseudonyms; the id tells nothing about the key."""
    return hmac.new(key, b"mailstudy key id", "sha256").hexdigest()[:16]


def follow_up_link(study: Study) -> dict[str, Any] | None:
    """The ``[follow_up]`` table of a follow-up study (first_campaign, key_id, created)."""
    link = study.section(FOLLOW_UP)
    return dict(link) if link.get("key_id") else None


def init_follow_up(directory: Path | str, first: Path | str, *,
                   retention_days: int = 395) -> Study:
    """Create a second campaign of the same organisation: the first's pseudonymisation key
    (so that a person keeps their pseudonym and changes are measured within people), its
    key holder, opt-outs, thresholds and configuration, and the link in ``[follow_up]``.

    Why the opt-outs too: an objection holds for the processing, not for one campaign. The
    retention date is the new campaign's own; the shared key then lives until the later of
    the two purges (README, "Follow-up campaigns").
    """
    src = open_study(first)
    key = src.key()
    root = _local_folder(str(directory))
    if root.resolve() == src.root:
        raise StudyError("the follow-up needs a folder of its own, not the first campaign's")
    catalog = _new_workspace(root)
    retention = _retention(retention_days)
    text = _FOLLOW_UP_TABLE.sub("", src.catalog.path("config").read_text(encoding="utf-8"))
    text = re.sub(r"^retention_until\s*=.*$", f'retention_until = "{retention}"', text,
                  flags=re.MULTILINE)
    text = text.rstrip("\n") + (
        "\n\n[follow_up]\n# A follow-up campaign: same key, hence the same pseudonyms, as the "
        "first one.\n"
        f"first_campaign = {_toml_str(str(src.root))}\nkey_id = \"{key_id(key)}\"\n"
        f"created = \"{dt.date.today().isoformat()}\"\n")
    catalog.path("config").write_text(text, encoding="utf-8")
    _write_key(catalog, key)
    for name in ("keyholder_pub", "optouts"):
        if src.catalog.exists(name):
            shutil.copyfile(src.catalog.path(name), catalog.path(name))
    return open_study(root)
