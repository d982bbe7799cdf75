"""The Python API refuses a bad argument with a typed error naming the parameter, and raises
for a failing source when asked (``raise_on_error=True``) instead of only counting it."""

from __future__ import annotations

from pathlib import Path

import pytest
from studykit import make_study

from mailstudy.collect.run import collect_files
from mailstudy.errors import CollectError, InputError


def test_collect_files_refuses_a_string_for_its_list(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    box = tmp_path / "agent@region.test"
    box.mkdir()
    with pytest.raises(InputError, match="sources must be a list"):
        collect_files(study, str(box))  # would be read one character at a time
    with pytest.raises(InputError, match="sources must hold paths"):
        collect_files(study, [box, 3])  # type: ignore[list-item]
    with pytest.raises(InputError, match="owner applies to a single source"):
        collect_files(study, [box, box], owner="a@region.test")
    assert not any(study.runs_dir.glob("*collect*.json"))  # refused before any work


def test_a_failing_source_raises_when_asked(tmp_path: Path) -> None:
    study, _ = make_study(tmp_path)
    missing = tmp_path / "absent@region.test"
    summary = collect_files(study, [missing], workers=1)
    assert summary.failures  # counted in the summary, no exception by default
    with pytest.raises(CollectError, match="1 of 1 source"):
        collect_files(study, [missing], workers=1, raise_on_error=True)
    assert len(list(study.runs_dir.glob("*collect*.json"))) == 2  # the summary is saved first
