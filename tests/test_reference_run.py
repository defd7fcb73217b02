"""Training is reproducible: a fixed run gives the metrics recorded before the redesign.

``tests/reference_run.py`` describes the run (corpus, features, folds,
initial weights, options) and recorded ``tests/data/reference_run/expected.json``
with the code before the package was reorganised; the same run today must give
the same test metrics, confusion matrix and training log.
"""

import json

import pytest
from reference_run import EXPECTED, run_reference


def test_the_reference_run_gives_the_recorded_metrics(tmp_path):
    expected = json.loads(EXPECTED.read_text())
    metrics, lines, _ = run_reference(tmp_path)
    assert metrics["confusion"] == expected["metrics"]["confusion"]
    for key in ("WA", "UA", "F1", "loss"):
        assert metrics[key] == pytest.approx(expected["metrics"][key], rel=1e-5), key
    assert lines == expected["train_log"]
