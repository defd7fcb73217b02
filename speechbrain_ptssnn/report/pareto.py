"""The accuracy–energy picture: WA against energy per utterance, one point per run.

A configuration is worth deploying only if no other is both more accurate
and cheaper: the Pareto front. :func:`pareto_front` finds it and
:func:`plot_pareto` draws every run (WA mean ± std over its folds against its
energy per utterance by Eq. 19-21), ANN heads and spiking configurations with
different markers, the front ringed and joined.
"""

import numpy as np

from speechbrain_ptssnn.report.plots import pyplot


def pareto_front(points):
    """The indices of the points no other point dominates.

    A point dominates another if its WA is at least as high and its energy at
    most as large, one of the two strictly.

    Arguments
    ---------
    points : list of dict
        Each with ``wa`` and ``energy_mj``.

    Returns
    -------
    list of int
        Indices into ``points``, by increasing energy.

    Example
    -------
    >>> points = [{"wa": 80, "energy_mj": 0.05}, {"wa": 85, "energy_mj": 0.2},
    ...           {"wa": 78, "energy_mj": 0.3}, {"wa": 82, "energy_mj": 0.01}]
    >>> pareto_front(points)
    [3, 1]
    """

    def dominated(i):
        a = points[i]
        return any(
            b["wa"] >= a["wa"] and b["energy_mj"] <= a["energy_mj"]
            and (b["wa"] > a["wa"] or b["energy_mj"] < a["energy_mj"])
            for j, b in enumerate(points) if j != i
        )

    front = [i for i in range(len(points)) if not dominated(i)]
    return sorted(front, key=lambda i: points[i]["energy_mj"])


def above_its_neighbour(point, points):
    """Whether ``point``'s WA is at least that of the run nearest to it in energy.

    Its label goes above it then, below otherwise, so the labels of two runs of
    nearly equal energy do not overlap.

    Arguments
    ---------
    point : dict
        One of ``points``, with ``wa`` and ``energy_mj``.
    points : list of dict
        Every run drawn.

    Returns
    -------
    bool

    Example
    -------
    >>> runs = [{"wa": 84.0, "energy_mj": 0.045}, {"wa": 83.5, "energy_mj": 0.0451},
    ...         {"wa": 87.0, "energy_mj": 0.2}]
    >>> [above_its_neighbour(run, runs) for run in runs]
    [True, False, True]
    """
    others = [p for p in points if p is not point]
    if not others:
        return True
    nearest = min(others, key=lambda p: abs(np.log(p["energy_mj"] / point["energy_mj"])))
    return point["wa"] >= nearest["wa"]


def plot_pareto(points, path, title="Accuracy against energy per utterance"):
    """Draws WA (mean ± std over folds) against energy per utterance.

    Arguments
    ---------
    points : list of dict
        One per run: ``name``, ``wa``, ``wa_std``, ``energy_mj`` (per
        utterance, Eq. 19-21) and ``spiking`` (False for an ANN head). Points
        without an energy are left out.
    path : str
        The PNG to write.
    title : str
        Figure title.

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> import os, tempfile
    >>> points = [
    ...     {"name": "linear", "wa": 85.0, "wa_std": 3.4, "energy_mj": 0.045, "spiking": False},
    ...     {"name": "ptssnn", "wa": 86.0, "wa_std": 3.0, "energy_mj": 0.02, "spiking": True}]
    >>> path = plot_pareto(points, os.path.join(tempfile.mkdtemp(), "pareto.png"))
    >>> os.path.getsize(path) > 0
    True
    """
    plt = pyplot()
    points = [p for p in points if p.get("energy_mj")]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for spiking, marker, label in ((False, "s", "ANN head"), (True, "o", "spiking")):
        chosen = [p for p in points if bool(p["spiking"]) == spiking]
        if chosen:
            ax.errorbar([p["energy_mj"] for p in chosen], [p["wa"] for p in chosen],
                        yerr=[p.get("wa_std") or 0.0 for p in chosen], fmt=marker,
                        capsize=3, label=label)
    for p in points:
        ax.annotate(p["name"], (p["energy_mj"], p["wa"]), textcoords="offset points",
                    xytext=(5, 4 if above_its_neighbour(p, points) else -11), fontsize=8)
    front = [points[i] for i in pareto_front(points)]
    if front:   # ringed, and joined when there are several
        ax.plot([p["energy_mj"] for p in front], [p["wa"] for p in front], "k--", lw=0.8,
                marker="o", markersize=12, markerfacecolor="none", label="Pareto front")
    energies = np.array([p["energy_mj"] for p in points])
    if len(energies) and energies.max() / max(energies.min(), 1e-12) > 3:   # a cluster stays apart
        ax.set_xscale("log")
    ax.set_xlabel("energy per utterance (mJ, Eq. 19-21)")
    ax.set_ylabel("WA (%), mean ± std over folds")
    ax.margins(x=0.1)   # room for the labels of the outermost runs
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
