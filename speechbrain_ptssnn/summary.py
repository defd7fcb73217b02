"""Cross-validation summary: every fold's metrics, their mean and std."""

import csv
import os
import statistics

from speechbrain_ptssnn.atomic import write_json
from speechbrain_ptssnn.runs import METRICS, read_fold_metrics


def summarize(folds, labels):
    """Mean and (sample) standard deviation of WA, UA, F1 (and weighted F1) over folds.

    Weighted F1 is summarised when every fold records it (results written
    before version 0.2 do not).

    Arguments
    ---------
    folds : dict
        Fold number → metrics with ``WA``, ``UA``, ``F1``, ``confusion``.
    labels : list of str
        Class names, in confusion-matrix order.

    Returns
    -------
    dict
        ``mean``, ``std`` (per metric) and ``confusion`` (summed).

    Example
    -------
    >>> folds = {1: {"WA": 50.0, "UA": 40.0, "F1": 30.0, "confusion": [[1, 1], [0, 0]]},
    ...          2: {"WA": 70.0, "UA": 60.0, "F1": 50.0, "confusion": [[1, 0], [1, 1]]}}
    >>> result = summarize(folds, ["a", "b"])
    >>> result["mean"]["WA"], round(result["std"]["WA"], 3), result["confusion"]
    (60.0, 14.142, [[2, 1], [1, 1]])
    """
    names = [*METRICS, *[m for m in ("weighted_F1",) if all(m in f for f in folds.values())]]
    values = {m: [folds[k][m] for k in sorted(folds)] for m in names}
    n = len(labels)
    confusion = [[sum(folds[k]["confusion"][i][j] for k in folds) for j in range(n)] for i in range(n)]
    return {
        "mean": {m: statistics.fmean(v) for m, v in values.items()},
        "std": {m: statistics.stdev(v) if len(v) > 1 else 0.0 for m, v in values.items()},
        "confusion": confusion,
    }


def write_summary(output_folder, labels, configuration):
    """Writes ``summary.json``, ``summary.md``, ``confusion.csv`` and ``confusion.png``.

    Arguments
    ---------
    output_folder : str
        The experiment folder.
    labels : list of str
        Class names.
    configuration : dict
        What was run (hparams file, overrides, trainable parameter count...).

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    folds = read_fold_metrics(output_folder)
    if not folds:
        raise ValueError(f"no finished fold (fold_<k>/metrics.json) in {output_folder}")
    stats = summarize(folds, labels)
    summary = {
        "labels": list(labels),
        "folds": {
            str(k): {
                key: folds[k][key]
                for key in ("WA", "UA", "F1", "weighted_F1", "recall", "confusion", "count")
                if key in folds[k]
            }
            for k in sorted(folds)
        },
        "mean": stats["mean"],
        "std": stats["std"],
        "confusion": stats["confusion"],
        "test_count": sum(folds[k]["count"] for k in folds),
        "trainable_parameters": configuration.get("trainable_parameters"),
        "configuration": configuration,
    }
    write_json(os.path.join(output_folder, "summary.json"), summary)
    with open(os.path.join(output_folder, "summary.md"), "w", encoding="utf-8") as stream:
        stream.write(summary_markdown(summary))
    with open(os.path.join(output_folder, "confusion.csv"), "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["true \\ predicted", *labels])
        for label, row in zip(labels, stats["confusion"]):
            writer.writerow([label, *row])
    plot_confusion(stats["confusion"], labels, os.path.join(output_folder, "confusion.png"))
    return summary


def summary_markdown(summary):
    """The summary as a markdown report (per-fold table, mean ± std, confusion)."""
    labels = summary["labels"]
    lines = [
        "# Cross-validation summary",
        "",
        f"Trainable parameters: {summary['trainable_parameters']:,}  ",
        f"Test utterances: {summary['test_count']}",
        "",
        "| fold | WA | UA | F1 | test utterances |",
        "|---|---:|---:|---:|---:|",
    ]
    for k, fold in summary["folds"].items():
        lines.append(f"| {k} | {fold['WA']:.2f} | {fold['UA']:.2f} | {fold['F1']:.2f} | {fold['count']} |")
    mean, std = summary["mean"], summary["std"]
    lines.append(
        "| **mean ± std** | "
        + " | ".join(f"**{mean[m]:.2f} ± {std[m]:.2f}**" for m in METRICS)
        + " | |"
    )
    lines += ["", "Confusion matrix summed over folds (rows: true, columns: predicted):", ""]
    lines.append("| | " + " | ".join(labels) + " |")
    lines.append("|---|" + "---:|" * len(labels))
    for label, row in zip(labels, summary["confusion"]):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def plot_confusion(confusion, labels, path):
    """Saves the confusion matrix as a PNG, counts and row percentages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.1 * n + 2, 1.1 * n + 1.5))
    totals = [max(sum(row), 1) for row in confusion]
    rates = [[v / t for v in row] for row, t in zip(confusion, totals)]
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            color = "white" if rates[i][j] > 0.6 else "black"
            ax.text(j, i, f"{confusion[i][j]}\n{100 * rates[i][j]:.0f}%", ha="center", va="center",
                    fontsize=8, color=color)
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (summed over folds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
