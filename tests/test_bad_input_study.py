"""Careless settings and arguments on a study: a malformed cluster address, bad numbers in
study.toml, one study compared with itself. Each is one clear error line (exit 2) at once,
never an internal error, a traceback or a wait on the network."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.studykit import run_cli


def _study(tmp: Path, name: str = "s") -> Path:
    r = run_cli("init", str(tmp / name), "--domain", "region.test")
    assert r.returncode == 0, r.stderr
    return tmp / name


def _set(study: Path, section: str, key: str, value: str) -> None:
    toml = study / "study.toml"
    text = re.sub(rf"(?m)^{key}\s*=.*\n", "", toml.read_text())
    if f"[{section}]\n" in text:
        text = text.replace(f"[{section}]\n", f"[{section}]\n{key} = {value}\n", 1)
    else:
        text += f"\n[{section}]\n{key} = {value}\n"
    toml.write_text(text)


def _clean_error(r: object, expected: str) -> None:
    out = r.stdout + r.stderr  # type: ignore[attr-defined]
    assert r.returncode == 2, out  # type: ignore[attr-defined]
    assert expected in r.stderr, out  # type: ignore[attr-defined]
    assert "internal error" not in out and "Traceback" not in out


@pytest.mark.parametrize("address", ["foo://x:1", "not an address", "tcp://host:notaport",
                                     "::::"])
@pytest.mark.parametrize("command", [["profile"], ["collect", "files", "."]])
def test_malformed_cluster_address_is_refused_before_connecting(
        tmp_path: Path, address: str, command: list[str]) -> None:
    study = _study(tmp_path)
    r = run_cli(*command, "--cluster", address, study=study, timeout=60)
    _clean_error(r, "cluster address must look like tcp://host:8786")


@pytest.mark.parametrize("url", ["s3://bucket/audit-2027", "gs://b/a", "file:///srv/audit"])
def test_a_study_url_is_refused_with_the_reason(url: str) -> None:
    """Object storage cannot hold a study (no atomic rename, no lock): said plainly, in the
    user's language, for every command that takes --study and for init."""
    _clean_error(run_cli("profile", study=url, timeout=60), "not a URL")
    _clean_error(run_cli("init", url, "--domain", "region.test", timeout=60), "not a URL")
    fr = run_cli("profile", study=url, env={"LC_ALL": "fr_FR.UTF-8"}, timeout=60)
    _clean_error(fr, "pas une URL")


def test_unreachable_scheduler_fails_within_the_timeout_without_traceback(
        tmp_path: Path) -> None:
    study = _study(tmp_path)
    _set(study, "cluster", "timeout", "2")
    r = run_cli("profile", "--cluster", "tcp://127.0.0.1:1", study=study, timeout=60)
    _clean_error(r, "cannot reach a Dask scheduler")


@pytest.mark.parametrize("key, value, expected", [
    ("timeout", '"abc"', "[cluster] timeout must be a number of seconds above 0"),
    ("timeout", "-1", "[cluster] timeout must be a number of seconds above 0"),
    ("address", "5", "[cluster] address must be a string")])
def test_malformed_cluster_table_is_a_config_error(tmp_path: Path, key: str, value: str,
                                                   expected: str) -> None:
    study = _study(tmp_path)
    _set(study, "cluster", "address", '"tcp://127.0.0.1:1"')
    _set(study, "cluster", key, value)
    _clean_error(run_cli("profile", study=study, timeout=60), expected)


def test_a_group_size_that_is_no_whole_number_is_named(tmp_path: Path) -> None:
    study = _study(tmp_path)
    _set(study, "privacy", "min_group_size", '"abc"')
    _clean_error(run_cli("profile", study=study), "min_group_size must be a whole number")


@pytest.mark.parametrize("key, value", [
    ("memory_mb", "abc"), ("memory_mb", 1.5), ("memory_mb", True), ("min_messages", "many"),
    ("min_active_days", [3])])
def test_a_profile_setting_that_is_no_whole_number_is_named(key: str, value: object) -> None:
    """The profile reads these once mail is collected; the CLI shows the family's message."""
    from mailstudy.errors import MailstudyError
    from mailstudy.profile.config import ProfileConfig

    with pytest.raises(MailstudyError, match=f"{key} must be a whole number"):
        ProfileConfig.from_config({"profile": {key: value}})
    assert ProfileConfig.from_config({"profile": {key: "512"}}) is not None


def test_comparing_a_study_with_itself_is_refused(tmp_path: Path) -> None:
    study = _study(tmp_path)
    r = run_cli("compare", str(study), str(study) + "/")
    _clean_error(r, "the two studies are the same folder")


def test_follow_up_warning_prints_no_markup(tmp_path: Path) -> None:
    first = _study(tmp_path, "first")
    _set(first, "collect", "sources", '["/nowhere"]')
    r = run_cli("init", str(tmp_path / "second"), "--follow-up", str(first))
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "[yellow]" not in r.stderr
