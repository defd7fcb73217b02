"""One table over several runs: accuracy, parameters and energy (the paper's Tables II-V)."""

import os
import statistics

from speechbrain_ptssnn.runs import METRICS, read_fold_metrics, read_json
from speechbrain_ptssnn.summary import summarize


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
    if os.path.exists(summary_path):
        summary = read_json(summary_path)
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
    ...        "mean": {"WA": 70.0, "UA": 65.0, "F1": 64.0}, "std": {"WA": 1.0, "UA": 2.0, "F1": 1.5},
    ...        "parameters": 1283656, "energy_mj": 0.35, "ann_twin_energy_mj": 0.9,
    ...        "energy_per_second_mj": 0.1, "efficiency_folds": 2}
    >>> print(comparison_table([row]), end="")
    | run | folds | WA (%) | UA (%) | F1 (%) | params (M) | energy / sample (mJ) | ANN twin (mJ) | folder |
    |---|---:|---:|---:|---:|---:|---:|---:|---|
    | ptssnn | 2 | 70.00 ± 1.00 | 65.00 ± 2.00 | 64.00 ± 1.50 | 1.284 | 0.35 | 0.9 | /runs/p |
    <BLANKLINE>
    Energy: the adapter only (upstream encoder excluded), E_MAC = 4.6 pJ, E_AC = 0.9 pJ, mean over folds with an efficiency report (python -m speechbrain_ptssnn.report RUN).
    """
    rows = [run if isinstance(run, dict) else run_summary(run) for run in runs]
    lines = [
        "| run | folds | WA (%) | UA (%) | F1 (%) | params (M) | energy / sample (mJ) | ANN twin (mJ) | folder |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        metrics = " | ".join(f"{row['mean'][m]:.2f} ± {row['std'][m]:.2f}" for m in METRICS)
        params = "–" if row["parameters"] is None else f"{row['parameters'] / 1e6:.3f}"
        lines.append(
            f"| {row['name']} | {len(row['folds'])} | {metrics} | {params} | "
            f"{_energy(row['energy_mj'])} | {_energy(row['ann_twin_energy_mj'])} | {row['folder']} |"
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
