#!/usr/bin/env python3
"""The Pareto picture of every benchmark setting, from the committed per-fold results.

For each ``benchmarks/results/<setting>/``: one point per configuration, its
WA (mean ± std over the folds of ``<config>/fold_<k>.json``) against its energy
per utterance (``<config>/efficiency_fold_1.json``, the first fold's efficiency
report), drawn to ``benchmarks/results/<setting>/pareto.png`` with the front
marked (:func:`speechbrain_ptssnn.report.pareto.plot_pareto`). Only the folds
that every configuration of the setting has finished are used, so the points
compare on the same folds (the title says how many). Configurations without an
efficiency report are listed but not drawn.

    python benchmarks/pareto.py [--settings emodb_stratified ...] [--configs linear ptssnn]
"""

import argparse
import glob
import os
import statistics
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from speechbrain_ptssnn.report.pareto import pareto_front, plot_pareto  # noqa: E402
from speechbrain_ptssnn.runs import read_json  # noqa: E402

RESULTS = os.path.join(REPO, "benchmarks", "results")


def finished_folds(folder, config):
    """``{fold number: metrics}`` of a configuration's committed fold results."""
    paths = glob.glob(os.path.join(folder, config, "fold_*.json"))
    return {int(os.path.basename(p)[5:-5]): read_json(p) for p in paths}


def setting_points(folder, configs=None):
    """One point per configuration folder of a setting (or of ``configs``), on the folds they all
    have."""
    results = {
        config: finished_folds(folder, config)
        for config in sorted(os.listdir(folder))
        if os.path.isdir(os.path.join(folder, config)) and (not configs or config in configs)
    }
    results = {config: folds for config, folds in results.items() if folds}
    common = set.intersection(*(set(folds) for folds in results.values())) if results else set()
    points = []
    for config, folds in results.items():
        was = [folds[k]["WA"] for k in sorted(common)]
        if not was:
            continue
        efficiency = read_json(os.path.join(folder, config, "efficiency_fold_1.json"))
        energy = efficiency["energy"]["model"]["per_sample"]["energy_mj"] if efficiency else None
        points.append({
            "name": config, "folds": len(was), "wa": statistics.fmean(was),
            "wa_std": statistics.stdev(was) if len(was) > 1 else 0.0, "energy_mj": energy,
            "spiking": bool(efficiency and efficiency["spiking"]["layers"]),
        })
    return points


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", nargs="*", help="settings to draw (default: all)")
    parser.add_argument("--configs", nargs="*",
                        help="configurations to draw (default: all; the folds compared are "
                             "those all of them have)")
    args = parser.parse_args(argv)
    settings = args.settings or sorted(
        name for name in os.listdir(RESULTS)
        if os.path.isdir(os.path.join(RESULTS, name)) and name != "validation"
    )
    for setting in settings:
        points = setting_points(os.path.join(RESULTS, setting), args.configs)
        drawn = [p for p in points if p["energy_mj"]]
        front = {drawn[i]["name"] for i in pareto_front(drawn)}
        for p in points:
            energy = f"{p['energy_mj']:.4f} mJ" if p["energy_mj"] else "no efficiency report"
            mark = " (Pareto front)" if p["name"] in front else ""
            print(f"{setting} {p['name']}: WA {p['wa']:.2f} ± {p['wa_std']:.2f} "
                  f"({p['folds']} folds), {energy}{mark}")
        if drawn:
            path = plot_pareto(drawn, os.path.join(RESULTS, setting, "pareto.png"),
                               title=f"{setting}: WA ({drawn[0]['folds']} common folds) "
                                     "against energy per utterance")
            print(f"wrote {os.path.relpath(path, REPO)}")


if __name__ == "__main__":
    main()
