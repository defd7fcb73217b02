"""The hybrid loss equals its equations."""

import math

import pytest
import torch

from speechbrain_ptssnn.losses import HybridFocalLabelSmoothingLoss


def hand_computed(logits, targets, alpha, gamma, epsilon, lambda1, lambda2):
    total = 0.0
    for row, target in zip(logits, targets):
        exps = [math.exp(v) for v in row]
        probs = [e / sum(exps) for e in exps]
        p_t = probs[target]
        focal = -alpha * (1 - p_t) ** gamma * math.log(p_t)
        smooth = -(1 - epsilon) * math.log(p_t) - epsilon / len(row) * sum(map(math.log, probs))
        total += lambda1 * focal + lambda2 * smooth
    return total / len(targets)


def test_loss_equals_hand_computed_values():
    logits = [[0.3, 0.9, 0.1], [0.5, 0.5, 0.0], [0.0, 0.2, 1.0]]
    targets = [1, 0, 0]
    expected = hand_computed(logits, targets, 0.8, 2.5, 0.12, 0.7, 0.3)
    got = HybridFocalLabelSmoothingLoss()(torch.tensor(logits), torch.tensor(targets))
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_speechbrain_label_shape_gives_the_same_loss():
    logits, targets = torch.randn(5, 4), torch.randint(0, 4, (5,))
    loss = HybridFocalLabelSmoothingLoss()
    assert torch.equal(loss(logits, targets), loss(logits, targets.unsqueeze(1)))


def test_without_focal_and_smoothing_it_is_cross_entropy():
    logits, targets = torch.randn(6, 5), torch.randint(0, 5, (6,))
    loss = HybridFocalLabelSmoothingLoss(lambda1=0.0, lambda2=1.0, epsilon=0.0)
    expected = torch.nn.functional.cross_entropy(logits, targets)
    assert torch.allclose(loss(logits, targets), expected, atol=1e-6)


def test_focal_term_down_weights_easy_examples():
    focal = HybridFocalLabelSmoothingLoss(lambda1=1.0, lambda2=0.0)
    easy, hard = torch.tensor([[5.0, 0.0]]), torch.tensor([[0.0, 0.0]])
    target = torch.tensor([0])
    ce_ratio = (
        torch.nn.functional.cross_entropy(easy, target)
        / torch.nn.functional.cross_entropy(hard, target)
    )
    assert focal(easy, target) / focal(hard, target) < ce_ratio / 100


def test_mismatched_targets_are_a_clear_error():
    with pytest.raises(ValueError, match="3 targets for a batch of 2"):
        HybridFocalLabelSmoothingLoss()(torch.randn(2, 4), torch.tensor([0, 1, 2]))
