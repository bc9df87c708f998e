"""The settings files the benchmark docs name stay valid: a renamed or removed key fails here, not
hours into a documented command."""

from __future__ import annotations

from pathlib import Path

import pytest

from chemloop.bench.campaign import campaign_config
from chemloop.bench.pmo import pmo_config
from chemloop.config_files import read_toml

BENCH = Path(__file__).resolve().parent.parent / "bench"
PMO_SETTINGS = sorted((BENCH / "pmo_settings").glob("*.toml")) + [BENCH / "pmo_zinc.toml"]
CAMPAIGN_SETTINGS = sorted((BENCH / "campaign_settings").glob("*.toml"))


def _as_written(value):
    """A parsed setting as its TOML wrote it: a nested table's fields without the unset ones."""
    return value.model_dump(exclude_none=True) if hasattr(value, "model_dump") else value


def assert_reaches(section, table: dict) -> None:
    """Every key of a TOML table reaches the parsed config ``section`` with the value written."""
    for key, value in table.items():
        assert _as_written(getattr(section, key)) == value, key


@pytest.mark.parametrize("path", PMO_SETTINGS, ids=lambda p: p.name)
def test_pmo_settings_file_is_a_valid_run_table(path):
    table = read_toml(path, "settings")
    assert set(table) == {"run"}, f"{path.name}: bench pmo reads only [run]"
    config = pmo_config("qed", budget=100, seed=0, run=table["run"])
    assert_reaches(config.run, table["run"])


@pytest.mark.parametrize("path", CAMPAIGN_SETTINGS, ids=lambda p: p.name)
def test_campaign_settings_file_is_valid(path, tmp_path):
    table = read_toml(path, "settings")
    assert set(table) <= {"campaign", "reward", "run", "score"}, sorted(table)
    config = campaign_config(
        12,
        0,
        tmp_path / "seed.csv",
        table.get("campaign", {}),
        table.get("reward", {}),
        table.get("run"),
        table.get("score"),
    )
    assert_reaches(config.campaign, table.get("campaign", {}))
    assert_reaches(config.run, table.get("run", {}))


def test_settings_files_are_found():
    assert len(PMO_SETTINGS) > 10 and len(CAMPAIGN_SETTINGS) > 5
