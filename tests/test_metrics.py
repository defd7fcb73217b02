"""The scikit-learn metrics give the values of the hand-written ones they replaced."""

import pytest
import torch

from speechbrain_ptssnn.metrics import classification_metrics, confusion_matrix

#: confusion matrix → (WA, UA, macro-F1, recall) of the former hand-written
#: implementation (version 0.1), an absent class (empty row) included
FORMER = [
    ([[3, 1], [0, 1]], (80.0, 87.5, 76.19047619047619, [75.0, 100.0])),
    (
        [[5, 2, 0, 1], [1, 7, 2, 0], [0, 0, 0, 0], [2, 1, 0, 4]],
        (64.0, 63.21428571428571, 66.38888888888889, [62.5, 70.0, None, 57.14285714285714]),
    ),
    ([[0, 3], [0, 0]], (0.0, 0.0, 0.0, [0.0, None])),
]


@pytest.mark.parametrize("confusion, expected", FORMER)
def test_metrics_match_the_former_implementation(confusion, expected):
    metrics = classification_metrics(torch.tensor(confusion))
    wa, ua, f1, recall = expected
    assert metrics["WA"] == pytest.approx(wa)
    assert metrics["UA"] == pytest.approx(ua)
    assert metrics["F1"] == pytest.approx(f1)
    assert metrics["recall"] == pytest.approx(recall)
    assert metrics["count"] == sum(map(sum, confusion))


def test_weighted_f1_weights_classes_by_support():
    confusion = torch.tensor([[8, 0], [1, 1]])
    metrics = classification_metrics(confusion)
    f1_a, f1_b = 2 * 8 / (2 * 8 + 1), 2 * 1 / (2 * 1 + 1)
    assert metrics["weighted_F1"] == pytest.approx(100 * (0.8 * f1_a + 0.2 * f1_b))
    assert metrics["F1"] == pytest.approx(100 * (f1_a + f1_b) / 2)


def test_confusion_matrix_counts_pairs_and_keeps_unseen_classes():
    assert confusion_matrix([0, 0, 2], [0, 2, 2], 4).tolist() == [
        [1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0],
    ]
