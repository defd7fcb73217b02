"""Speech emotion recognition metrics: WA, UA, macro-F1, confusion matrix.

WA (weighted accuracy) is the plain accuracy over utterances; UA (unweighted
accuracy) the mean of the per-class recalls, so every emotion counts the same
however rare. Both are reported in percent, as in the paper.
"""

import torch


def confusion_matrix(targets, predictions, n_classes):
    """Counts ``[true class, predicted class]`` pairs.

    Arguments
    ---------
    targets : sequence of int
        True class indices.
    predictions : sequence of int
        Predicted class indices.
    n_classes : int
        Number of classes.

    Returns
    -------
    torch.Tensor
        ``[n_classes, n_classes]`` integer counts; rows are true classes.

    Example
    -------
    >>> confusion_matrix([0, 0, 1], [0, 1, 1], 2).tolist()
    [[1, 1], [0, 1]]
    """
    targets = torch.as_tensor(targets, dtype=torch.long).reshape(-1)
    predictions = torch.as_tensor(predictions, dtype=torch.long).reshape(-1)
    flat = targets * n_classes + predictions
    return torch.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def classification_metrics(confusion):
    """WA, UA, macro-F1 and per-class recall from a confusion matrix.

    Classes absent from the test set (an empty row) are left out of UA and
    macro-F1 rather than counted as zero recall.

    Arguments
    ---------
    confusion : torch.Tensor
        ``[n_classes, n_classes]`` counts, rows true, columns predicted.

    Returns
    -------
    dict
        ``WA``, ``UA``, ``F1`` (percent), ``recall`` (list, percent, ``None``
        for absent classes) and ``count`` (utterances).

    Example
    -------
    >>> metrics = classification_metrics(torch.tensor([[3, 1], [0, 1]]))
    >>> metrics["WA"], metrics["UA"], round(metrics["F1"], 2)
    (80.0, 87.5, 76.19)
    """
    confusion = confusion.double()
    support = confusion.sum(dim=1)
    predicted = confusion.sum(dim=0)
    correct = confusion.diag()
    present = support > 0
    recall = torch.where(present, correct / support.clamp(min=1), torch.zeros_like(correct))
    precision = correct / predicted.clamp(min=1)
    f1 = torch.where(
        (precision + recall) > 0, 2 * precision * recall / (precision + recall), torch.zeros_like(recall)
    )
    total = support.sum().item()
    return {
        "WA": 100.0 * correct.sum().item() / max(total, 1),
        "UA": 100.0 * recall[present].mean().item() if present.any() else 0.0,
        "F1": 100.0 * f1[present].mean().item() if present.any() else 0.0,
        "recall": [100.0 * r if p else None for r, p in zip(recall.tolist(), present.tolist())],
        "count": int(total),
    }
