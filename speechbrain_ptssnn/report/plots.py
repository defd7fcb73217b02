"""PNG figures of the efficiency report (matplotlib, Agg backend)."""

import numpy as np


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_firing_rates(layers, path, title="Per-neuron firing rates on the test set"):
    """One histogram of per-neuron firing rates per spiking layer.

    Arguments
    ---------
    layers : dict
        Layer name → statistics with ``rates``, ``mean_rate``,
        ``silent_fraction`` and ``saturated_fraction`` (see
        :func:`~speechbrain_ptssnn.report.monitor.rate_statistics`).
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
    >>> stats = {"blocks.0.neurons": {"rates": [0.0, 0.2, 1.0], "mean_rate": 0.4,
    ...          "silent_fraction": 1 / 3, "saturated_fraction": 1 / 3}}
    >>> path = plot_firing_rates(stats, os.path.join(tempfile.mkdtemp(), "rates.png"))
    >>> os.path.getsize(path) > 0
    True
    """
    plt = pyplot()
    from matplotlib import ticker

    names = list(layers)
    columns = min(3, max(len(names), 1))
    rows = max(1, -(-len(names) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, names):
        stats = layers[name]
        ax.set_visible(True)
        ax.hist(stats["rates"], bins=40, range=(0.0, 1.0), color="tab:blue", edgecolor="white")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlim(0.0, 1.0)
        ax.axvline(0.95, color="tab:red", linestyle=":", linewidth=1)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("firing rate over valid frames")
        ax.set_ylabel("neurons (log scale)")
        ax.text(
            0.98, 0.95,
            f"mean {stats['mean_rate']:.3f}\nsilent {100 * stats['silent_fraction']:.1f}%\n"
            f"saturated {100 * stats['saturated_fraction']:.1f}%",
            transform=ax.transAxes, ha="right", va="top", fontsize=8,
            bbox=dict(boxstyle="round", facecolor="white", alpha=0.8),
        )
    if not names:
        axes.flat[0].set_visible(True)
        axes.flat[0].text(0.5, 0.5, "no spiking layer", ha="center", va="center")
        axes.flat[0].set_axis_off()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_classifier_current(with_bias, without_bias, threshold, path, has_bias=True, title=None):
    """The classifier neurons' input current with and without the homeostatic bias.

    The paper's Fig. 1 from real data: two histograms of the membrane input
    current over every valid frame and class neuron, and the firing threshold.

    Arguments
    ---------
    with_bias, without_bias : sequence of float
        Currents as the model runs, and with the bias removed.
    threshold : float
        The neurons' firing threshold.
    path : str
        The PNG to write.
    has_bias : bool
        Whether the model has a homeostatic bias (else one histogram).
    title : str, optional
        Figure title.

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> import os, tempfile
    >>> path = plot_classifier_current([0.5, 1.2, 0.9], [0.1, 0.8, 0.4], 1.0,
    ...                                os.path.join(tempfile.mkdtemp(), "current.png"))
    >>> os.path.getsize(path) > 0
    True
    """
    plt = pyplot()
    with_bias = np.asarray(with_bias, dtype=np.float64)
    without_bias = np.asarray(without_bias, dtype=np.float64)
    values = np.concatenate([with_bias, without_bias, [threshold]])
    low, high = np.percentile(values, 0.5), np.percentile(values, 99.5)
    if high <= low:
        low, high = low - 1.0, high + 1.0
    bins = np.linspace(low, high, 60)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    above = 100 * (with_bias >= threshold).mean()
    if has_bias:
        ax.hist(without_bias, bins=bins, alpha=0.55, color="tab:gray",
                label=f"without bias ({100 * (without_bias >= threshold).mean():.1f}% ≥ threshold)")
        ax.hist(with_bias, bins=bins, alpha=0.55, color="tab:blue",
                label=f"with homeostatic bias ({above:.1f}% ≥ threshold)")
    else:
        ax.hist(with_bias, bins=bins, alpha=0.7, color="tab:blue",
                label=f"no homeostatic bias in this model ({above:.1f}% ≥ threshold)")
    ax.axvline(threshold, color="tab:red", linestyle="--", label=f"threshold V_th = {threshold:g}")
    ax.set_xlabel("membrane input current of the classifier neurons")
    ax.set_ylabel("frames × neurons")
    ax.set_title(title or "Classifier input current on the test set", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
