"""benchmarks/forecast_quality.py reuses a finished member only when it was trained with the
recipe as it stands, so a changed recipe is never scored on old runs."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import forecast_quality  # noqa: E402


def finished_member(run: Path, *, context: int, steps: int, relative: bool = False,
                    deseasonalize: bool = False) -> None:
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({
        "data": {"context": context, "recent": 20},
        "model": {"deseasonalize": deseasonalize},
        "train": {"steps": steps, "lr": 2e-3, "seed": 0},
        "options": {"relative_loss": True} if relative else {}}))
    (run / "evaluation.json").write_text("{}")
    (run / "wall.json").write_text(json.dumps({"seconds": 12.5}))


def test_a_member_trained_with_the_recipe_is_reused(tmp_path, monkeypatch):
    monkeypatch.setattr(forecast_quality, "RUNS", tmp_path)
    r = forecast_quality.RECIPES[("m3", "quarterly")]
    finished_member(tmp_path / "m3-quarterly-seed1", context=r["context"], steps=r["steps"],
                    deseasonalize=bool(r.get("deseasonalize")))
    assert forecast_quality.train_member("m3-quarterly", 1) == 12.5


def test_a_member_of_an_older_recipe_is_refused_naming_what_changed(tmp_path, monkeypatch):
    monkeypatch.setattr(forecast_quality, "RUNS", tmp_path)
    r = forecast_quality.RECIPES[("m3", "quarterly")]
    finished_member(tmp_path / "m3-quarterly", context=r["context"] + 1, steps=r["steps"],
                    relative=True)
    changed = f"context: {r['context'] + 1} -> {r['context']}; relative: True -> False"
    with pytest.raises(SystemExit, match=changed):
        forecast_quality.train_member("m3-quarterly", 0)


def test_a_recipe_with_an_also_variant_has_its_own_members_and_recipe(tmp_path, monkeypatch):
    monkeypatch.setattr(forecast_quality, "RUNS", tmp_path)
    name = "m3-quarterly"
    base = forecast_quality.recipe_of(name)
    assert "also" in base and forecast_quality.recipe_of(name, 1)["deseasonalize"] is False
    assert len(forecast_quality.members(name)) == 2 * forecast_quality.MEMBERS
    assert forecast_quality.member_dir(name, 2, 1) == tmp_path / f"{name}-also-seed2"
    finished_member(tmp_path / f"{name}-also-seed2", context=base["context"],
                    steps=base["steps"], deseasonalize=True)
    with pytest.raises(SystemExit, match="deseasonalize: True -> False"):
        forecast_quality.train_member(name, 2, 1)
