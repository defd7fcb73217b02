"""Speech emotion recognition metrics: WA, UA, macro and weighted F1, confusion matrix.

WA (weighted accuracy) is the plain accuracy over utterances; UA (unweighted
accuracy) the mean of the per-class recalls, so every emotion counts the same
however rare; F1 the unweighted mean of the per-class F1 scores, weighted F1
their mean weighted by each class's support. All are computed by
``sklearn.metrics`` and reported in percent, as in the paper.
"""

import numpy as np
import torch
from sklearn import metrics as skm


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
    targets = np.asarray(torch.as_tensor(targets).reshape(-1), dtype=np.int64)
    predictions = np.asarray(torch.as_tensor(predictions).reshape(-1), dtype=np.int64)
    counts = skm.confusion_matrix(targets, predictions, labels=np.arange(n_classes))
    return torch.as_tensor(counts, dtype=torch.long)


def classification_metrics(confusion):
    """WA, UA, macro-F1, weighted F1 and per-class recall from a confusion matrix.

    Classes absent from the test set (an empty row) are left out of UA and
    the F1 means rather than counted as zero recall.

    Arguments
    ---------
    confusion : torch.Tensor or array-like
        ``[n_classes, n_classes]`` counts, rows true, columns predicted.

    Returns
    -------
    dict
        ``WA``, ``UA``, ``F1``, ``weighted_F1`` (percent), ``recall`` (list,
        percent, ``None`` for absent classes) and ``count`` (utterances).

    Example
    -------
    >>> metrics = classification_metrics(torch.tensor([[3, 1], [0, 1]]))
    >>> metrics["WA"], metrics["UA"], round(metrics["F1"], 2), round(metrics["weighted_F1"], 2)
    (80.0, 87.5, 76.19, 81.9)
    """
    confusion = np.asarray(torch.as_tensor(confusion), dtype=np.int64)
    n_classes = confusion.shape[0]
    classes = np.arange(n_classes)
    pairs = np.repeat(np.stack(np.meshgrid(classes, classes, indexing="ij"), -1).reshape(-1, 2),
                      confusion.reshape(-1), axis=0)
    total = len(pairs)
    present = [int(c) for c in classes if confusion[c].sum() > 0]
    result = {"WA": 0.0, "UA": 0.0, "F1": 0.0, "weighted_F1": 0.0,
              "recall": [None] * n_classes, "count": total}
    if not total:
        return result
    y_true, y_pred = pairs[:, 0], pairs[:, 1]
    recall = skm.recall_score(y_true, y_pred, labels=present, average=None, zero_division=0)
    for c, r in zip(present, recall):
        result["recall"][c] = 100.0 * float(r)
    f1 = dict(labels=present, zero_division=0)
    result.update(
        WA=100.0 * skm.accuracy_score(y_true, y_pred),
        UA=100.0 * float(np.mean(recall)),
        F1=100.0 * skm.f1_score(y_true, y_pred, average="macro", **f1),
        weighted_F1=100.0 * skm.f1_score(y_true, y_pred, average="weighted", **f1),
    )
    return result
