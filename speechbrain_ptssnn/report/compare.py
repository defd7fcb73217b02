"""One table over several runs (accuracy, parameters, energy: the paper's Tables II-V), and
the paired test between runs on the same folds (:func:`paired_comparison`, :func:`paired_table`)."""

import logging
import math
import os
import statistics

import numpy as np

from speechbrain_ptssnn.metrics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, resampled_metrics
from speechbrain_ptssnn.runs import (
    METRICS,
    fold_folder,
    read_fold_metrics,
    read_json,
    read_prediction_rows,
)
from speechbrain_ptssnn.summary import summarize

logger = logging.getLogger(__name__)


def run_summary(run_folder):
    """What :func:`comparison_table` shows of one experiment folder.

    Reads ``summary.json`` (else the folds' ``metrics.json``) for WA, UA and
    F1, and every ``fold_<k>/efficiency.json`` for parameters and energy
    (averaged over the folds that have one).

    Arguments
    ---------
    run_folder : str
        An experiment folder.

    Returns
    -------
    dict
        ``name``, ``folder``, ``folds`` (with metrics), ``mean`` and ``std``
        (per metric), ``parameters``, ``energy_mj`` (model, per sample),
        ``ann_twin_energy_mj``, ``energy_per_second_mj``,
        ``efficiency_folds`` (how many folds have an efficiency report) and
        ``spiking`` (whether the model has spiking layers; None without a report).

    Raises
    ------
    FileNotFoundError, ValueError
        If the folder does not exist or has no finished fold.

    Example
    -------
    >>> import tempfile
    >>> run_summary(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    ValueError: ... has no summary.json and no finished fold (fold_<k>/metrics.json)
    """
    if not os.path.isdir(run_folder):
        raise FileNotFoundError(f"run folder {run_folder} does not exist")
    summary_path = os.path.join(run_folder, "summary.json")
    configuration = {}
    summary = read_json(summary_path) if os.path.exists(summary_path) else None
    if summary and summary.get("folds"):  # (a cross-corpus-only summary has none)
        mean, std = summary["mean"], summary["std"]
        folds = sorted(int(k) for k in summary["folds"])
        configuration = summary.get("configuration") or {}
        parameters = summary.get("trainable_parameters")
    else:
        fold_metrics = read_fold_metrics(run_folder)
        if not fold_metrics:
            raise ValueError(
                f"{run_folder} has no summary.json and no finished fold (fold_<k>/metrics.json)"
            )
        labels = next(iter(fold_metrics.values())).get("labels") or []
        stats = summarize(fold_metrics, labels)
        mean, std, folds = stats["mean"], stats["std"], sorted(fold_metrics)
        parameters = None
    reports = []
    for name in sorted(os.listdir(run_folder)):
        path = os.path.join(run_folder, name, "efficiency.json")
        if name.startswith("fold_") and os.path.exists(path):
            reports.append(read_json(path))

    def average(get):
        values = [get(report) for report in reports]
        values = [v for v in values if v is not None]
        return statistics.fmean(values) if values else None

    if reports:
        parameters = reports[0]["parameters"]["total"]
    name = (configuration.get("hparams") or {}).get("experiment_name")
    if not name and reports:
        name = reports[0]["model"].get("experiment_name")
    return {
        "name": name or os.path.basename(os.path.normpath(run_folder)),
        "folder": os.path.abspath(run_folder),
        "folds": folds,
        "mean": {m: mean[m] for m in METRICS},
        "std": {m: std[m] for m in METRICS},
        "parameters": parameters,
        "energy_mj": average(lambda r: r["energy"]["model"]["per_sample"]["energy_mj"]),
        "ann_twin_energy_mj": average(lambda r: r["energy"]["ann_twin"]["per_sample"]["energy_mj"]),
        "energy_per_second_mj": average(lambda r: r["energy"]["model"]["per_second"]["energy_mj"]),
        "efficiency_folds": len(reports),
        "spiking": bool(reports[0]["spiking"]["layers"]) if reports else None,
    }


def _energy(value):
    return "–" if value is None else f"{value:.4g}"


def comparison_table(runs):
    """A markdown table with one row per run.

    Columns: the run's ``experiment_name``, its folds, WA, UA and F1 as
    mean ± std over folds (%), trainable parameters (M), the adapter's energy
    per test sample (mJ, Eq. 19-21, mean over the folds with an efficiency
    report), the same for its ANN twin, and the folder.

    Arguments
    ---------
    runs : list of str or dict
        Experiment folders, or results of :func:`run_summary`.

    Returns
    -------
    str

    Example
    -------
    >>> row = {"name": "ptssnn", "folder": "/runs/p", "folds": [1, 2],
    ...        "mean": {"WA": 70.0, "UA": 65.0, "F1": 64.0},
    ...        "std": {"WA": 1.0, "UA": 2.0, "F1": 1.5},
    ...        "parameters": 1283656, "energy_mj": 0.35, "ann_twin_energy_mj": 0.9,
    ...        "energy_per_second_mj": 0.1, "efficiency_folds": 2}
    >>> print(comparison_table([row]), end="")  # doctest: +NORMALIZE_WHITESPACE
    | run | folds | WA (%) | UA (%) | F1 (%) | params (M) | energy / sample (mJ) |
      ANN twin (mJ) | folder |
    |---|---:|---:|---:|---:|---:|---:|---:|---|
    | ptssnn | 2 | 70.00 ± 1.00 | 65.00 ± 2.00 | 64.00 ± 1.50 | 1.284 | 0.35 | 0.9 | /runs/p |
    <BLANKLINE>
    Energy: the adapter only (upstream encoder excluded), E_MAC = 4.6 pJ, E_AC = 0.9 pJ,
    mean over folds with an efficiency report (python -m speechbrain_ptssnn.report RUN).
    """
    rows = [run if isinstance(run, dict) else run_summary(run) for run in runs]
    lines = [
        "| run | folds | WA (%) | UA (%) | F1 (%) | params (M) | energy / sample (mJ) "
        "| ANN twin (mJ) | folder |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        metrics = " | ".join(f"{row['mean'][m]:.2f} ± {row['std'][m]:.2f}" for m in METRICS)
        params = "–" if row["parameters"] is None else f"{row['parameters'] / 1e6:.3f}"
        lines.append(
            f"| {row['name']} | {len(row['folds'])} | {metrics} | {params} | "
            f"{_energy(row['energy_mj'])} | {_energy(row['ann_twin_energy_mj'])} | "
            f"{row['folder']} |"
        )
    lines += [
        "",
        "Energy: the adapter only (upstream encoder excluded), E_MAC = 4.6 pJ, E_AC = 0.9 pJ, "
        "mean over folds with an efficiency report (python -m speechbrain_ptssnn.report RUN).",
    ]
    return "\n".join(lines) + "\n"


def pareto_points(summaries):
    """The points of :func:`~speechbrain_ptssnn.report.pareto.plot_pareto` from run summaries.

    Example
    -------
    >>> pareto_points([{"name": "linear", "mean": {"WA": 85.0}, "std": {"WA": 3.0},
    ...                 "energy_mj": 0.045, "spiking": False}])
    [{'name': 'linear', 'wa': 85.0, 'wa_std': 3.0, 'energy_mj': 0.045, 'spiking': False}]
    """
    return [
        {"name": s["name"], "wa": s["mean"]["WA"], "wa_std": s["std"]["WA"],
         "energy_mj": s["energy_mj"], "spiking": bool(s["spiking"])}
        for s in summaries
    ]


# --------------------------------------------------------------------------
# The paired test between two runs on the same folds
# --------------------------------------------------------------------------


def fold_test_sets(run_folder, folds):
    """The utterance ids of each fold's test manifest (None for a fold without one).

    Example
    -------
    >>> import tempfile
    >>> fold_test_sets(tempfile.mkdtemp(), [1])
    {1: None}
    """
    sets = {}
    for k in folds:
        path = os.path.join(fold_folder(run_folder, k), "test.json")
        sets[k] = frozenset(read_json(path)) if os.path.isfile(path) else None
    return sets


def common_folds(run_a, run_b):
    """The finished folds two runs share, checked to hold the same test utterances.

    Arguments
    ---------
    run_a, run_b : str
        Experiment folders.

    Returns
    -------
    folds : list of int
        The folds both runs finished.
    warnings : list of str
        What could not be checked, or folds only one run finished.

    Raises
    ------
    ValueError
        If the runs share no finished fold, or a shared fold's test sets differ
        (other folds: the paired test would compare different utterances).
    """
    folds_a, folds_b = set(read_fold_metrics(run_a)), set(read_fold_metrics(run_b))
    folds = sorted(folds_a & folds_b)
    if not folds:
        raise ValueError(f"{run_a} and {run_b} share no finished fold "
                         f"({sorted(folds_a)} and {sorted(folds_b)})")
    warnings = []
    if folds_a != folds_b:
        warnings.append(f"only folds {folds} are finished in both runs "
                        f"({sorted(folds_a)} and {sorted(folds_b)})")
    tests_a, tests_b = fold_test_sets(run_a, folds), fold_test_sets(run_b, folds)
    for k in folds:
        if tests_a[k] is None or tests_b[k] is None:
            warnings.append(f"fold {k}: a run has no test.json, so its test set cannot be "
                            "checked to be the same")
        elif tests_a[k] != tests_b[k]:
            only = len(tests_a[k] ^ tests_b[k])
            raise ValueError(
                f"the runs' folds differ: fold {k}'s test sets of {run_a} and {run_b} differ "
                f"({only} utterances in one only): a paired test needs the same folds "
                "(the same corpus, protocol, fold seed and partitions)"
            )
    return folds, warnings


def sign_test(above, below):
    """Two-sided exact sign test: the probability of a split this uneven or more under 50/50.

    Ties are left out before (pass only the folds above and below).

    Example
    -------
    >>> round(sign_test(9, 1), 4), sign_test(5, 5), sign_test(0, 0)
    (0.0215, 1.0, 1.0)
    """
    n = above + below
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(above, below) + 1)) / 2 ** n
    return min(1.0, 2.0 * tail)


def _pooled_predictions(run_folder, folds):
    """``(fold, id) -> (true, predicted)`` of the runs' test predictions."""
    rows = {}
    for k in folds:
        for row in read_prediction_rows(fold_folder(run_folder, k)):
            rows[(k, row["id"])] = (row["true"], row["predicted"])
    return rows


def paired_bootstrap(run_a, run_b, folds, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED,
                     level=0.95):
    """Paired bootstrap of the pooled test predictions: A's metric minus B's.

    The same resample of utterances (over every shared fold's test set,
    pooled) is scored for both runs; the interval is the percentile interval
    of the differences and ``p`` the two-sided share of resamples on the
    other side of 0.

    Returns
    -------
    dict or None
        ``WA``, ``UA``, ``F1`` → ``{"difference", "low", "high", "p", "level",
        "utterances", "resamples"}`` (percentage points); None when a run
        lacks ``predictions.csv`` or the runs' utterances or labels differ.
    """
    rows_a, rows_b = _pooled_predictions(run_a, folds), _pooled_predictions(run_b, folds)
    if not rows_a or set(rows_a) != set(rows_b):
        return None
    keys = sorted(rows_a)
    if any(rows_a[key][0] != rows_b[key][0] for key in keys):
        return None
    labels = sorted(
        {label for rows in (rows_a, rows_b) for pair in rows.values() for label in pair}
    )
    index = {label: i for i, label in enumerate(labels)}
    true = np.array([index[rows_a[key][0]] for key in keys])
    pred_a = np.array([index[rows_a[key][1]] for key in keys])
    pred_b = np.array([index[rows_b[key][1]] for key in keys])
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, len(keys), size=(resamples, len(keys)))
    every = np.arange(len(keys))[None, :]
    resampled = [resampled_metrics(true, pred, len(labels), indices) for pred in (pred_a, pred_b)]
    observed = [resampled_metrics(true, pred, len(labels), every) for pred in (pred_a, pred_b)]
    result = {}
    for m in METRICS:
        differences = resampled[0][m] - resampled[1][m]
        low, high = np.percentile(differences, [50 * (1 - level), 50 * (1 + level)])
        p = 2.0 * min(np.mean(differences <= 0), np.mean(differences >= 0))
        result[m] = {
            "difference": float(observed[0][m][0] - observed[1][m][0]),
            "low": float(low), "high": float(high), "p": float(min(1.0, p)), "level": level,
            "utterances": len(keys), "resamples": resamples,
        }
    return result


def paired_comparison(run_a, run_b):
    """The paired test of run A against run B on their shared folds.

    Per metric (WA, UA, F1): the fold-wise differences A − B (percentage
    points), their mean and sample std, in how many folds A is above, below
    or level, the two-sided sign test over the folds that differ, and a paired
    bootstrap over the pooled test predictions (:func:`paired_bootstrap`).

    Arguments
    ---------
    run_a, run_b : str
        Experiment folders.

    Returns
    -------
    dict
        ``a``, ``b`` (run names), ``folds``, ``warnings`` and ``metrics``:
        metric → ``{"differences", "mean", "std", "above", "below", "ties",
        "sign_test_p", "bootstrap"}``.

    Raises
    ------
    ValueError
        If the runs' folds differ (see :func:`common_folds`).
    """
    folds, warnings = common_folds(run_a, run_b)
    metrics_a, metrics_b = read_fold_metrics(run_a), read_fold_metrics(run_b)
    bootstrap = paired_bootstrap(run_a, run_b, folds)
    if bootstrap is None:
        warnings.append("no paired bootstrap: the runs' predictions.csv are missing or do not "
                        "hold the same utterances")
    result = {"a": run_summary(run_a)["name"], "b": run_summary(run_b)["name"],
              "folds": folds, "warnings": warnings, "metrics": {}}
    for m in METRICS:
        differences = [metrics_a[k][m] - metrics_b[k][m] for k in folds]
        above = sum(d > 0 for d in differences)
        below = sum(d < 0 for d in differences)
        result["metrics"][m] = {
            "differences": differences,
            "mean": statistics.fmean(differences),
            "std": statistics.stdev(differences) if len(differences) > 1 else 0.0,
            "above": above, "below": below, "ties": len(differences) - above - below,
            "sign_test_p": sign_test(above, below),
            "bootstrap": bootstrap[m] if bootstrap else None,
        }
    return result


def paired_table(runs):
    """Markdown: every run after the first, paired against the first on their shared folds.

    Runs whose folds differ from the first's are not paired: a line says why
    (and a warning is logged).

    Arguments
    ---------
    runs : list of str
        Experiment folders; the first is the reference.

    Returns
    -------
    str
    """
    reference = runs[0]
    lines = [
        f"Paired against {run_summary(reference)['name']} ({os.path.abspath(reference)}), on "
        "the folds both runs finished: fold-wise differences (run − reference, percentage "
        "points, mean ± std), in how many folds the run is above / below / level, the "
        "two-sided sign test, and a paired bootstrap of the pooled test predictions "
        f"({BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}: the difference, its 95 % "
        "interval and p).",
        "",
        "| run | metric | folds | difference | above / below / level | sign test p "
        "| paired bootstrap | bootstrap p |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for run in runs[1:]:
        try:
            paired = paired_comparison(run, reference)
        except ValueError as error:
            logger.warning("not paired: %s", error)
            notes.append(f"* {run}: not paired: {error}")
            continue
        for m, stats in paired["metrics"].items():
            boot = stats["bootstrap"]
            boot_cells = (f"{boot['difference']:+.2f} [{boot['low']:+.2f}, {boot['high']:+.2f}] "
                          f"| {boot['p']:.3g}") if boot else "– | –"
            lines.append(
                f"| {paired['a']} | {m} | {len(paired['folds'])} | {stats['mean']:+.2f} ± "
                f"{stats['std']:.2f} | {stats['above']} / {stats['below']} / {stats['ties']} | "
                f"{stats['sign_test_p']:.3g} | {boot_cells} |"
            )
        notes += [f"* {paired['a']}: {warning}" for warning in paired["warnings"]]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"
