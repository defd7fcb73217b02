"""Command line of :mod:`speechbrain_ptssnn.report`.

::

    python -m speechbrain_ptssnn.report RUN [--fold K] [--device cpu] [--no-plots]
                                        [--check-utterances N] [--KEY=VALUE ...]
    python -m speechbrain_ptssnn.report compare RUN [RUN ...] [--output FILE] [--paired]

The first form measures every finished fold of the experiment folder ``RUN``
(or fold ``K``) on its test set and writes ``fold_<k>/efficiency.json``,
``efficiency.md``, ``firing_rates.png`` and ``classifier_current.png``; any
other ``--KEY=VALUE`` overrides that hparams key when the model is rebuilt
(e.g. ``--data_folder=/moved/emodb``). The second prints one markdown table
over several runs (WA, UA, F1 mean ± std, parameters, energy per sample);
with ``--paired``, then the paired test of every run against the first on
their shared folds (fold-wise differences, sign test, paired bootstrap; runs
whose folds differ are not paired, with a warning).
"""

import argparse
import logging
import sys

import torch  # noqa: F401 (doctests)
import yaml

from speechbrain_ptssnn.atomic import write_text
from speechbrain_ptssnn.report.compare import (
    comparison_table,
    paired_table,
    pareto_points,
    run_summary,
)
from speechbrain_ptssnn.report.efficiency import efficiency_report
from speechbrain_ptssnn.report.pareto import plot_pareto


def parse_overrides(extra):
    """``--key=value`` / ``--key value`` pairs as a dict (values parsed as YAML).

    Arguments
    ---------
    extra : list of str
        Leftover command-line arguments.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        For an argument that is not ``--key[=value]``.

    Example
    -------
    >>> parse_overrides(["--data_folder=/data", "--input_size", "384"])
    {'data_folder': '/data', 'input_size': 384}
    """
    overrides, index = {}, 0
    while index < len(extra):
        argument = extra[index]
        if not argument.startswith("--") or len(argument) == 2:
            raise ValueError(f"unexpected argument {argument!r} (overrides are --key=value)")
        key, equals, value = argument[2:].partition("=")
        if not equals:
            if index + 1 >= len(extra):
                raise ValueError(f"override --{key} has no value")
            index += 1
            value = extra[index]
        overrides[key] = yaml.safe_load(value)
        index += 1
    return overrides


def report_main(argv):
    """``python -m speechbrain_ptssnn.report RUN ...``.

    Arguments
    ---------
    argv : list of str
        The arguments after the module name.

    Returns
    -------
    int
        The exit status (errors in the folder raise; :func:`main` reports them).

    Example
    -------
    >>> import tempfile
    >>> report_main([tempfile.mkdtemp()])  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: ... has no finished fold (no fold_<k>/metrics.json): train it with a recipe
    first, e.g. recipes/EMODB/train.py
    """
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_ptssnn.report",
        description="Parameters, spiking health and energy per sample of a trained experiment "
        "(writes fold_<k>/efficiency.json, efficiency.md and PNGs). "
        "`python -m speechbrain_ptssnn.report compare RUN [RUN ...]` compares runs.",
        epilog="Any other --KEY=VALUE overrides that hparams key when rebuilding the model.",
    )
    parser.add_argument("run", help="experiment folder (a recipe's output_folder)")
    parser.add_argument("--fold", type=int, default=None,
                        help="only this fold (default: every finished fold)")
    parser.add_argument("--device", default="cpu", help="where the model runs (cpu, cuda)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    parser.add_argument("--check-utterances", type=int, default=3,
                        help="utterances for the SpikingJelly stock-counter cross-check (0: skip)")
    parser.add_argument("--saturation", type=float, default=0.95,
                        help="rate from which a neuron counts as saturated (default 0.95)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args, extra = parser.parse_known_args(argv)
    try:
        overrides = parse_overrides(extra)
    except ValueError as error:
        parser.error(str(error))
    reports = efficiency_report(
        args.run, fold=args.fold, device=args.device, overrides=overrides,
        plots=not args.no_plots, check_utterances=args.check_utterances,
        saturation=args.saturation, progress=not args.quiet,
    )
    for fold, report in reports.items():
        print(fold_summary(report))
    return 0


def fold_summary(report):
    """A few lines on one fold's report, for the terminal.

    Arguments
    ---------
    report : dict
        A report of :func:`~speechbrain_ptssnn.report.efficiency.fold_efficiency`.

    Returns
    -------
    str

    Example
    -------
    >>> from speechbrain_ptssnn.lobes import PTSSNN
    >>> from speechbrain_ptssnn.report.efficiency import measure_model
    >>> model = PTSSNN(input_size=8, n_classes=2, hidden_sizes=(8, 4), bias_hidden_size=2)
    >>> report = measure_model(model, [("a", torch.randn(12, 8), 0.24)], check_utterances=0)
    >>> print(fold_summary(dict(report, fold=1, output_folder="/run", plots={})))
    ... # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    fold 1: 645 trainable parameters; energy per sample ... µJ (ANN twin ... µJ),
    mean test utterance 0.24 s
      blocks.0.neurons: rate ...
      ...
      wrote /run/fold_1/efficiency.json, efficiency.md
    """
    energy = report["energy"]
    folder = report["output_folder"]
    lines = [
        f"fold {report['fold']}: {report['parameters']['total']:,} trainable parameters; "
        f"energy per sample {1000 * energy['model']['per_sample']['energy_mj']:.2f} µJ "
        f"(ANN twin {1000 * energy['ann_twin']['per_sample']['energy_mj']:.2f} µJ), "
        f"mean test utterance {report['test_set']['mean_seconds']:.2f} s",
    ]
    for name, stats in report["spiking"]["layers"].items():
        lines.append(
            f"  {name}: rate {stats['mean_rate']:.4f}, "
            f"silent {100 * stats['silent_fraction']:.1f} %, "
            f"saturated {100 * stats['saturated_fraction']:.1f} %"
        )
    lines.append(f"  wrote {folder}/fold_{report['fold']}/efficiency.json, efficiency.md"
                 + "".join(f", {name}" for name in report["plots"].values()))
    return "\n".join(lines)


def compare_main(argv):
    """``python -m speechbrain_ptssnn.report compare RUN [RUN ...] [--output FILE] [--plot PNG]``.

    Arguments
    ---------
    argv : list of str
        The arguments after ``compare``.

    Returns
    -------
    int
        The exit status.

    Example
    -------
    >>> compare_main(["/no/such/run"])
    Traceback (most recent call last):
    ...
    FileNotFoundError: run folder /no/such/run does not exist
    """
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_ptssnn.report compare",
        description="One markdown table over runs: WA, UA, F1 (mean ± std over folds), "
        "parameters, energy per sample.",
    )
    parser.add_argument("runs", nargs="+", help="experiment folders")
    parser.add_argument("--output", default=None, help="also write the table to this file")
    parser.add_argument("--plot", default=None, metavar="PNG",
                        help="also draw WA against energy per utterance (runs with an "
                        "efficiency report), the Pareto front marked")
    parser.add_argument("--paired", action="store_true",
                        help="also the paired test of every run against the first, on the "
                        "same folds (fold-wise differences, sign test, paired bootstrap)")
    args = parser.parse_args(argv)
    if args.paired and len(args.runs) < 2:
        parser.error("--paired compares runs with the first: give two runs or more")
    table = comparison_table(args.runs)
    if args.paired:
        table += "\n" + paired_table(args.runs)
    print(table, end="")
    if args.output:
        write_text(args.output, table)
    if args.plot:
        points = pareto_points([run_summary(run) for run in args.runs])
        if not any(p["energy_mj"] for p in points):
            raise ValueError("--plot needs efficiency reports: run `python -m "
                             "speechbrain_ptssnn.report RUN` on the runs first")
        print(f"wrote {plot_pareto(points, args.plot)}")
    return 0


def main(argv=None):
    """Entry point: ``compare ...`` or a report.

    Arguments
    ---------
    argv : list of str, optional
        The arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        The exit status: 0, or 1 with a message on stderr for a bad folder.

    Example
    -------
    >>> main(["compare", "/no/such/run"])
    1
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if argv and argv[0] == "compare":
            return compare_main(argv[1:])
        return report_main(argv)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
