"""Speech emotion recognition metrics: WA, UA, macro and weighted F1, confusion matrix.

WA (weighted accuracy) is the plain accuracy over utterances; UA (unweighted
accuracy) the mean of the per-class recalls, so every emotion counts the same
however rare; F1 the unweighted mean of the per-class F1 scores, weighted F1
their mean weighted by each class's support. All are computed by
``sklearn.metrics`` and reported in percent, as in the paper.

Calibration: :func:`fit_temperature` fits one temperature to a held-out set's
logits (temperature scaling, Guo et al., 2017),
:func:`expected_calibration_error` and :func:`negative_log_likelihood`
measure how well probabilities match frequencies.
"""

import math

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


#: resamples and seed of :func:`bootstrap_intervals` (fixed: the same
#: predictions give the same interval)
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 1234


def resampled_metrics(targets, predictions, n_classes, indices):
    """WA, UA and macro-F1 (percent) of many resamples of one test set at once.

    Arguments
    ---------
    targets, predictions : array-like of int
        True and predicted class indices of the test utterances.
    n_classes : int
        Number of classes.
    indices : numpy.ndarray
        ``[resamples, utterances]`` indices into ``targets``: one resample a row.

    Returns
    -------
    dict
        ``WA``, ``UA``, ``F1``: arrays of one value per resample. As in
        :func:`classification_metrics`, a class absent from a resample is
        left out of its UA and F1.

    Example
    -------
    >>> import numpy
    >>> stats = resampled_metrics([0, 0, 1], [0, 1, 1], 2, numpy.array([[0, 1, 2], [0, 0, 2]]))
    >>> [round(float(v), 2) for v in stats["WA"]], [float(v) for v in stats["UA"]]
    ([66.67, 100.0], [75.0, 100.0])
    """
    targets = np.asarray(targets, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    rows, size = indices.shape
    true, predicted = targets[indices], predictions[indices]
    correct = true == predicted
    offset = (np.arange(rows) * n_classes)[:, None]

    def counts(classes, weights=None):
        flat = (classes + offset).reshape(-1)
        weights = None if weights is None else weights.reshape(-1)
        return np.bincount(flat, weights, minlength=rows * n_classes).reshape(rows, n_classes)

    support, predicted_counts = counts(true), counts(predicted)
    hits = counts(true, correct.astype(np.float64))
    present = support > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(present, hits / np.maximum(support, 1), 0.0)
        f1 = np.where(present, 2 * hits / np.maximum(support + predicted_counts, 1), 0.0)
    n_present = np.maximum(present.sum(axis=1), 1)
    return {
        "WA": 100.0 * correct.mean(axis=1),
        "UA": 100.0 * recall.sum(axis=1) / n_present,
        "F1": 100.0 * f1.sum(axis=1) / n_present,
    }


def bootstrap_intervals(targets, predictions, n_classes, level=0.95,
                        resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED):
    """Percentile bootstrap intervals of WA, UA and F1 over a set of test predictions.

    The utterances are resampled with replacement ``resamples`` times (a
    fixed seed: the same predictions always give the same interval); each
    metric's interval runs from the ``(1 - level) / 2`` to the
    ``(1 + level) / 2`` quantile of its resampled values.

    Arguments
    ---------
    targets, predictions : array-like of int
        True and predicted class indices (e.g. every fold's test predictions, pooled).
    n_classes : int
        Number of classes.
    level : float
        Coverage of the interval (0.95).
    resamples : int
        Number of bootstrap resamples.
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``WA``, ``UA``, ``F1`` → ``{"low", "high", "level", "estimate",
        "utterances", "resamples", "seed"}`` (percent; ``estimate`` is the
        metric of the predictions themselves).

    Raises
    ------
    ValueError
        Without predictions, or with a level outside (0, 1).

    Example
    -------
    >>> intervals = bootstrap_intervals([0, 1] * 50, [0, 1] * 40 + [1, 0] * 10, 2)
    >>> interval = intervals["WA"]
    >>> interval["estimate"], interval["level"], interval["low"] < 80.0 < interval["high"]
    (80.0, 0.95, True)
    """
    targets = np.asarray(targets, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if not len(targets) or len(targets) != len(predictions):
        raise ValueError(
            f"bootstrap intervals need as many predictions as targets, and some: got "
            f"{len(targets)} targets and {len(predictions)} predictions"
        )
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, len(targets), size=(resamples, len(targets)))
    resampled = resampled_metrics(targets, predictions, n_classes, indices)
    point = classification_metrics(confusion_matrix(targets, predictions, n_classes))
    quantiles = [100.0 * (1.0 - level) / 2.0, 100.0 * (1.0 + level) / 2.0]
    intervals = {}
    for name, values in resampled.items():
        low, high = np.percentile(values, quantiles)
        intervals[name] = {
            "low": float(low), "high": float(high), "level": level,
            "estimate": float(point[name]), "utterances": int(len(targets)),
            "resamples": int(resamples), "seed": int(seed),
        }
    return intervals


# ------------------------------------------------------------ calibration
def negative_log_likelihood(logits, targets, temperature=1.0):
    """Mean ``-log softmax(logits / temperature)[target]`` (nats).

    Example
    -------
    >>> round(negative_log_likelihood(torch.tensor([[0.0, 0.0]]), [1]), 4)
    0.6931
    """
    logits = torch.as_tensor(logits, dtype=torch.float64)
    targets = torch.as_tensor(targets, dtype=torch.long).reshape(-1)
    return float(torch.nn.functional.cross_entropy(logits / float(temperature), targets))


def expected_calibration_error(probabilities, targets, n_bins=10):
    """Expected calibration error of the top-class probabilities, in equal-width bins.

    Each prediction falls in the bin of its confidence (the largest
    probability; bins ``(0, 0.1], (0.1, 0.2], ...`` with 10 bins, the first
    closed at 0); ECE is the mean over predictions of ``|accuracy - confidence|``
    of their bin (Guo et al., 2017).

    Arguments
    ---------
    probabilities : array-like
        ``[n, n_classes]`` probabilities.
    targets : sequence of int
        True classes.
    n_bins : int
        Bins.

    Returns
    -------
    float
        ECE in [0, 1] (0 for no predictions).

    Example
    -------
    >>> round(expected_calibration_error(torch.tensor([[0.95, 0.05], [0.75, 0.25]]), [0, 1]), 4)
    0.4
    """
    probabilities = torch.as_tensor(probabilities, dtype=torch.float64)
    targets = torch.as_tensor(targets, dtype=torch.long).reshape(-1)
    if probabilities.shape[0] == 0:
        return 0.0
    confidence, predicted = probabilities.max(dim=-1)
    correct = (predicted == targets).to(torch.float64)
    bins = torch.clamp(torch.ceil(confidence * n_bins).long() - 1, 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        members = bins == b
        if members.any():
            gap = correct[members].mean() - confidence[members].mean()
            total += float(members.sum()) * abs(float(gap))
    return total / probabilities.shape[0]


def smoothed_targets(targets, n_classes):
    """Platt's targets: the true class weighs ``(n_c + 1) / (n_c + 2)``, the rest shared.

    ``n_c`` is the number of examples of the example's class: a small set
    cannot claim certainty (Platt, 1999), so a set the model gets entirely
    right does not drive the temperature to 0.

    Example
    -------
    >>> smoothed_targets([0, 0, 1], 2).round(decimals=4).tolist()
    [[0.75, 0.25], [0.75, 0.25], [0.3333, 0.6667]]
    """
    targets = torch.as_tensor(targets, dtype=torch.long).reshape(-1)
    counts = torch.bincount(targets, minlength=n_classes).to(torch.float64)
    true = (counts[targets] + 1.0) / (counts[targets] + 2.0)
    soft = ((1.0 - true) / max(n_classes - 1, 1)).unsqueeze(1).repeat(1, n_classes)
    soft[torch.arange(len(targets)), targets] = true
    return soft


def fit_temperature(logits, targets, bounds=(1e-3, 1e3), smoothing=True):
    """The temperature ``T`` minimising the cross-entropy of ``softmax(logits / T)``.

    The targets are Platt's smoothed ones (:func:`smoothed_targets`; with
    ``smoothing=False`` the labels themselves, plain temperature scaling as
    Guo et al., 2017): with the labels, a held-out set the model gets entirely
    right is fitted best by ``T -> 0``, certainty a few dozen utterances
    cannot support. The objective is convex in ``1 / T``, hence unimodal in
    ``log T``: a golden-section search over ``log T`` within ``bounds`` finds
    its minimum (to a relative 1e-9).

    Arguments
    ---------
    logits : array-like
        ``[n, n_classes]``.
    targets : sequence of int
        True classes.
    bounds : (float, float)
        The range searched.
    smoothing : bool
        Fit Platt's smoothed targets rather than the labels.

    Returns
    -------
    float
        The temperature.

    Example
    -------
    >>> logits = torch.tensor([[0.2, 0.0], [0.0, 0.2], [0.2, 0.0], [0.0, 0.2], [0.2, 0.0]])
    >>> temperature = fit_temperature(logits, [0, 1, 0, 1, 1])
    >>> round(temperature, 3), negative_log_likelihood(logits, [0, 1, 0, 1, 1], temperature) < 0.68
    (0.302, True)
    >>> round(fit_temperature(logits[:4], [0, 1, 0, 1], smoothing=False), 6)  # all right: the bound
    0.001
    """
    logits = torch.as_tensor(logits, dtype=torch.float64)
    targets = torch.as_tensor(targets, dtype=torch.long).reshape(-1)
    soft = (smoothed_targets(targets, logits.shape[1]) if smoothing
            else torch.nn.functional.one_hot(targets, logits.shape[1]).to(torch.float64))

    def loss(log_t):
        log_p = torch.log_softmax(logits / math.exp(log_t), dim=-1)
        return float(-(soft * log_p).sum(dim=-1).mean())

    low, high = math.log(bounds[0]), math.log(bounds[1])
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = loss(a), loss(b)
    while high - low > 1e-9:
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = loss(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss(b)
    return math.exp((low + high) / 2.0)


def calibration_summary(logits, targets, temperature, n_bins=10):
    """NLL and ECE of logits before (T = 1) and after the temperature.

    Returns
    -------
    dict
        ``count``, ``nll_before``, ``nll_after``, ``ece_before``, ``ece_after``
        (ECE in percent, as the accuracies).

    Example
    -------
    >>> summary = calibration_summary(torch.tensor([[1.0, 0.0]]), [0], 0.5)
    >>> summary["nll_after"] < summary["nll_before"], summary["count"]
    (True, 1)
    """
    logits = torch.as_tensor(logits, dtype=torch.float64)
    return {
        "count": int(logits.shape[0]),
        "nll_before": negative_log_likelihood(logits, targets),
        "nll_after": negative_log_likelihood(logits, targets, temperature),
        "ece_before": 100.0 * expected_calibration_error(
            torch.softmax(logits, -1), targets, n_bins),
        "ece_after": 100.0 * expected_calibration_error(
            torch.softmax(logits / temperature, -1), targets, n_bins),
    }
