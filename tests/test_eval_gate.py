"""The extraction quality gate: our cleaner on the benchmark's dev pages stays above the floors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEV = REPO.parent / "shared" / "benchmarks" / "extraction" / "dev"


def _gate():
    spec = importlib.util.spec_from_file_location("eval_gate", REPO / "bench" / "eval_gate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.skipif(not (DEV / "ground-truth.json").exists(), reason="shared benchmark absent")
def test_cleaner_stays_above_pinned_floors() -> None:
    gate = _gate()
    measured = gate.measure(DEV)
    assert measured["pages"] == 121
    assert gate.failures(measured, gate.load_baseline()) == []


def test_gate_refuses_to_lower_floors_without_permission(tmp_path: Path) -> None:
    gate = _gate()
    old = {"floors": {"f1": 0.97, "precision": 0.96, "recall": 0.97}}
    worse = {"f1": 0.90, "precision": 0.90, "recall": 0.90, "pages": 121}
    with pytest.raises(SystemExit):
        gate.pin(worse, old, allow_regression=False)
    lowered = gate.pin(worse, old, allow_regression=True)
    assert lowered["floors"]["f1"] < 0.90
    assert gate.failures(worse, old) and not gate.failures(worse, lowered)
    target = tmp_path / "baseline.json"
    gate.save(lowered, target)
    assert json.loads(target.read_text())["floors"] == lowered["floors"]
