"""Cross-validation summary: every fold's metrics, their mean and std.

Also, when the run has them: a 95 % bootstrap interval of WA, UA and F1 over
the pooled test predictions of every fold (``summary.json["bootstrap"]``),
the cross-corpus results (``summary.json["cross_corpus"][<target>]``) and the
leakage warning (``summary.json["leakage"]``: the upstream may have seen the
test data).
"""

import csv
import os
import statistics

from speechbrain_ptssnn.atomic import write_json
from speechbrain_ptssnn.metrics import bootstrap_intervals
from speechbrain_ptssnn.runs import (
    METRICS,
    cross_corpus_target_folder,
    fold_folder,
    read_cross_corpus_metrics,
    read_fold_metrics,
    read_prediction_rows,
)
from speechbrain_ptssnn.upstreams.leakage import leakage_sentence


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
    confusion = [
        [sum(folds[k]["confusion"][i][j] for k in folds) for j in range(n)] for i in range(n)
    ]
    return {
        "mean": {m: statistics.fmean(v) for m, v in values.items()},
        "std": {m: statistics.stdev(v) if len(v) > 1 else 0.0 for m, v in values.items()},
        "confusion": confusion,
    }


def pooled_bootstrap(folders, labels, level=0.95):
    """Bootstrap intervals over the pooled ``predictions.csv`` rows of several folders.

    Arguments
    ---------
    folders : list of str
        Fold (or cross-corpus target) folders.
    labels : list of str
        The class names, in encoder order.
    level : float
        Coverage of the intervals.

    Returns
    -------
    dict or None
        See :func:`~speechbrain_ptssnn.metrics.bootstrap_intervals` (WA, UA,
        F1); None when a folder has no predictions.

    Example
    -------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> rows = "".join(f"u{i},a,{'a' if i % 4 else 'b'},0.5,0.5\\n" for i in range(40))
    >>> with open(os.path.join(folder, "predictions.csv"), "w") as f:
    ...     _ = f.write("id,true,predicted,p_a,p_b\\n" + rows)
    >>> interval = pooled_bootstrap([folder], ["a", "b"])["WA"]
    >>> interval["low"] <= interval["estimate"] == 75.0 <= interval["high"], interval["level"]
    (True, 0.95)
    """
    index = {label: i for i, label in enumerate(labels)}
    targets, predictions = [], []
    for folder in folders:
        rows = read_prediction_rows(folder)
        if not rows:
            return None
        targets += [index[row["true"]] for row in rows]
        predictions += [index[row["predicted"]] for row in rows]
    if not targets:
        return None
    return bootstrap_intervals(targets, predictions, len(labels), level=level)


def _cross_corpus(output_folder, configuration):
    """``summary.json["cross_corpus"]``: each tested target's metrics and interval."""
    tested = read_cross_corpus_metrics(output_folder)
    if not tested:
        return {}
    train_corpus = (configuration.get("cross_corpus") or {}).get("train_corpus")
    results = {}
    for target, metrics in tested.items():
        labels = metrics.get("labels") or []
        results[target] = {
            "train_corpus": train_corpus,
            **{key: metrics[key] for key in ("WA", "UA", "F1", "weighted_F1", "recall",
                                             "confusion", "count", "labels") if key in metrics},
            "bootstrap": pooled_bootstrap([cross_corpus_target_folder(output_folder, target)],
                                          labels),
        }
    return results


def write_summary(output_folder, labels, configuration, leakage=None):
    """Writes ``summary.json``, ``summary.md``, ``confusion.csv`` and ``confusion.png``.

    Arguments
    ---------
    output_folder : str
        The experiment folder.
    labels : list of str
        Class names.
    configuration : dict
        What was run (hparams file, overrides, trainable parameter count...).
    leakage : dict, optional
        What :func:`~speechbrain_ptssnn.upstreams.leakage.upstream_leakage`
        found: the summary then says the upstream may have seen test data.

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    folds = read_fold_metrics(output_folder)
    cross_corpus = _cross_corpus(output_folder, configuration)
    if not folds and not cross_corpus:
        raise ValueError(f"no finished fold (fold_<k>/metrics.json) in {output_folder}")
    if not folds:  # the cross-corpus stage only (--fold=cross_corpus)
        summary = {
            "labels": list(labels), "folds": {}, "trainable_parameters":
            configuration.get("trainable_parameters"), "configuration": configuration,
            "cross_corpus": cross_corpus, "leakage": leakage,
        }
        write_json(os.path.join(output_folder, "summary.json"), summary)
        with open(os.path.join(output_folder, "summary.md"), "w", encoding="utf-8") as stream:
            stream.write(summary_markdown(summary))
        return summary
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
        "bootstrap": pooled_bootstrap([fold_folder(output_folder, k) for k in sorted(folds)],
                                      labels),
        "configuration": configuration,
        "leakage": leakage,
    }
    if cross_corpus:
        summary["cross_corpus"] = cross_corpus
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


def _interval(interval):
    return f"{interval['estimate']:.2f} [{interval['low']:.2f}, {interval['high']:.2f}]"


def _warning_lines(summary):
    leakage = summary.get("leakage")
    if not leakage:
        return []
    return [f"**Warning: {leakage['warning']}.** {leakage_sentence(leakage)}.", ""]


def _cross_corpus_lines(summary):
    results = summary.get("cross_corpus") or {}
    if not results:
        return []
    first = next(iter(results.values()))
    lines = [
        "", "## Cross-corpus", "",
        f"Trained on {first.get('train_corpus') or 'the training corpus'} "
        f"({', '.join(first.get('labels') or [])}: the classes it shares with every target), "
        "tested on every utterance of these classes of each target; in brackets the 95 % "
        "bootstrap interval.", "",
        "| train → test | WA | UA | F1 | test utterances |",
        "|---|---:|---:|---:|---:|",
    ]
    for target, result in results.items():
        interval = result.get("bootstrap") or {}
        cells = [_interval(interval[m]) if m in interval else f"{result[m]:.2f}" for m in METRICS]
        lines.append(f"| {result.get('train_corpus')} → {target} | " + " | ".join(cells)
                     + f" | {result.get('count', '')} |")
    return lines


def summary_markdown(summary):
    """The summary as a markdown report (per-fold table, mean ± std, confusion, cross-corpus)."""
    labels = summary["labels"]
    if not summary["folds"]:
        lines = ["# Cross-corpus summary", "", *_warning_lines(summary),
                 f"Trainable parameters: {summary['trainable_parameters']:,}"]
        return "\n".join(lines + _cross_corpus_lines(summary)) + "\n"
    lines = [
        "# Cross-validation summary",
        "",
        *_warning_lines(summary),
        f"Trainable parameters: {summary['trainable_parameters']:,}  ",
        f"Test utterances: {summary['test_count']}",
        "",
        "| fold | WA | UA | F1 | test utterances |",
        "|---|---:|---:|---:|---:|",
    ]
    for k, fold in summary["folds"].items():
        lines.append(
            f"| {k} | {fold['WA']:.2f} | {fold['UA']:.2f} | {fold['F1']:.2f} | {fold['count']} |"
        )
    mean, std = summary["mean"], summary["std"]
    lines.append(
        "| **mean ± std** | "
        + " | ".join(f"**{mean[m]:.2f} ± {std[m]:.2f}**" for m in METRICS)
        + " | |"
    )
    bootstrap = summary.get("bootstrap")
    if bootstrap:
        first = next(iter(bootstrap.values()))
        lines += [
            "",
            f"95 % bootstrap intervals over the {first['utterances']} pooled test predictions "
            f"({first['resamples']} resamples, seed {first['seed']}; the pooled value, then the "
            "interval): " + ", ".join(f"{m} {_interval(bootstrap[m])}" for m in METRICS),
        ]
    lines += ["", "Confusion matrix summed over folds (rows: true, columns: predicted):", ""]
    lines.append("| | " + " | ".join(labels) + " |")
    lines.append("|---|" + "---:|" * len(labels))
    for label, row in zip(labels, summary["confusion"]):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    lines += _cross_corpus_lines(summary)
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
