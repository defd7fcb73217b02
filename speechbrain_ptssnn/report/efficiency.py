"""The efficiency report of a trained experiment: parameters, spiking health, energy.

:func:`efficiency_report` rebuilds each finished fold's tested checkpoint (see
:mod:`speechbrain_ptssnn.report.loading`), runs it on the fold's test set one
utterance at a time, and writes into ``fold_<k>/``:

* ``efficiency.json`` -- everything measured;
* ``efficiency.md`` -- the same as tables, with what is and is not counted
  (:func:`~speechbrain_ptssnn.report.markdown.efficiency_markdown`);
* ``firing_rates.png`` -- per-neuron firing-rate histogram of every PLIF layer;
* ``classifier_current.png`` -- the classifier neurons' input current with
  and without the homeostatic bias, against the threshold (the paper's Fig. 1).
"""

import logging
import os

import torch
from tqdm import tqdm

from speechbrain_ptssnn.atomic import write_json, write_text
from speechbrain_ptssnn.features import make_feature_source
from speechbrain_ptssnn.report.energy import (
    COUNTED,
    E_AC_PJ,
    E_MAC_PJ,
    NOT_COUNTED,
    OperationCounter,
    energy_summary,
    stock_counter_check,
)
from speechbrain_ptssnn.report.loading import (
    read_predictions,
    read_test_set,
    rebuild_fold,
)
from speechbrain_ptssnn.report.markdown import efficiency_markdown
from speechbrain_ptssnn.report.monitor import (
    SATURATION_RATE,
    ClassifierCurrentProbe,
    SpikeMonitor,
)
from speechbrain_ptssnn.report.parameters import parameter_table
from speechbrain_ptssnn.report.plots import plot_classifier_current, plot_firing_rates
from speechbrain_ptssnn.report.upstream_energy import upstream_estimate
from speechbrain_ptssnn.runs import checkpoint_choice, finished_folds

logger = logging.getLogger(__name__)

RATES_PLOT = "firing_rates.png"
CURRENT_PLOT = "classifier_current.png"


def efficiency_report(
    output_folder,
    fold=None,
    device="cpu",
    overrides=None,
    plots=True,
    check_utterances=3,
    saturation=SATURATION_RATE,
    progress=True,
):
    """Measures and writes the efficiency report of every finished fold (or one).

    Arguments
    ---------
    output_folder : str
        An experiment folder written by a recipe.
    fold : int, optional
        Only this fold (it must be finished); all finished folds by default.
    device : str
        Where the model runs (``"cpu"``, ``"cuda"``).
    overrides : dict, optional
        Hparams overrides for reloading (e.g. a moved ``data_folder`` or
        ``features_folder``).
    plots : bool
        Write the PNG figures.
    check_utterances : int
        Utterances on which SpikingJelly's stock ``SynOpCounter`` and
        ``MACCounter`` are run for comparison (0: skip).
    saturation : float
        A neuron firing on at least this fraction of its valid frames is saturated.
    progress : bool
        Show a progress bar over each test set.

    Returns
    -------
    dict
        Fold number → the report written to ``fold_<k>/efficiency.json``.

    Raises
    ------
    FileNotFoundError, ValueError
        Naming the folder or file at fault (no finished fold, no checkpoint...).

    Example
    -------
    >>> import tempfile
    >>> efficiency_report(tempfile.mkdtemp())  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: ... has no finished fold (no fold_<k>/metrics.json): train it with a recipe
    first, e.g. recipes/EMODB/train.py
    """
    folds = [int(fold)] if fold is not None else finished_folds(output_folder)
    reports = {}
    for k in folds:
        report = fold_efficiency(
            output_folder, k, device=device, overrides=overrides,
            check_utterances=check_utterances, saturation=saturation, progress=progress,
            plots=plots,
        )
        reports[k] = report
    return reports


def measure_model(
    model,
    utterances,
    labels=None,
    saturation=SATURATION_RATE,
    check_utterances=3,
    frame_rate=50.0,
    keep_currents=False,
    progress=False,
    description="test set",
):
    """Measures a model on utterances: parameters, spiking health, operations, energy.

    The model runs in eval mode on one utterance at a time (no padding),
    under :class:`~speechbrain_ptssnn.report.monitor.SpikeMonitor`,
    :class:`~speechbrain_ptssnn.report.monitor.ClassifierCurrentProbe` and
    :class:`~speechbrain_ptssnn.report.energy.OperationCounter`.

    Arguments
    ---------
    model : torch.nn.Module
        Takes ``(feats [1, time, dim], lengths [1])`` and returns logits.
    utterances : iterable of tuple
        ``(utterance id, features [time, dim], duration in seconds or None)``.
    labels : list of str, optional
        Class names (predictions are reported by name when given).
    saturation : float
        The rate from which a neuron is saturated.
    check_utterances : int
        Utterances also counted by SpikingJelly's stock counters (0: none).
    frame_rate : float
        Frames per second, for utterances without a duration.
    keep_currents : bool
        Keep the classifier's raw input currents in
        ``report["calibration"]["currents"]`` (for the figure; large).
    progress : bool
        Show a progress bar.
    description : str
        The progress bar's label.

    Returns
    -------
    dict
        ``model``, ``test_set``, ``predictions`` (id → class), ``parameters``,
        ``spiking``, ``calibration``, ``operations``, ``energy``,
        ``upstream``, ``op_counter_check``, ``counted``, ``not_counted``.

    Example
    -------
    >>> from speechbrain_ptssnn.lobes import PTSSNN
    >>> _ = torch.manual_seed(0)
    >>> model = PTSSNN(input_size=8, n_classes=2, hidden_sizes=(8, 4), bias_hidden_size=2)
    >>> utterances = [("a", torch.randn(12, 8), 0.24), ("b", torch.randn(7, 8), 0.14)]
    >>> report = measure_model(model, utterances, check_utterances=1)
    >>> report["test_set"]["utterances"], report["parameters"]["total"] == sum(
    ...     p.numel() for p in model.parameters())
    (2, True)
    >>> sorted(report["spiking"]["layers"])
    ['attention.neurons', 'blocks.0.neurons', 'blocks.1.neurons', 'classifier.neurons']
    >>> check = report["op_counter_check"]  # an untrained bias generator's output layer is
    >>> check["ours_macs"] - check["spikingjelly_macs"]  # all zeros: the stock counter sees spikes
    8
    """
    model.eval()
    device = next(model.parameters()).device if any(True for _ in model.parameters()) else "cpu"
    durations, frames, checked, predictions = [], [], [], {}
    ours_checked = None
    with torch.no_grad(), SpikeMonitor(model) as monitor, ClassifierCurrentProbe(model) as probe, \
            OperationCounter(model) as counter:
        for index, (utt_id, feats, duration) in enumerate(
            tqdm(utterances, desc=description, disable=not progress, leave=False)
        ):
            feats = feats.float().to(device).unsqueeze(0)
            lengths = torch.ones(1, device=device)
            logits = model(feats, lengths)
            if index < check_utterances:
                checked.append((feats, lengths))
                ours_checked = counter.totals()
            predicted = int(logits.argmax(dim=-1))
            predictions[utt_id] = labels[predicted] if labels else predicted
            frames.append(int(feats.shape[1]))
            durations.append(float(duration) if duration is not None else frames[-1] / frame_rate)
        layers = counter.layers()
        totals = counter.totals()
    n = len(frames)
    if not n:
        raise ValueError("no utterance to measure")
    seconds = sum(durations)
    calibration = probe.summary(saturation=saturation)
    if calibration is not None and keep_currents:
        calibration["currents"] = {
            "with_bias": probe.currents_with, "without_bias": probe.currents_without,
        }
    return {
        "model": {
            "class": type(model).__name__,
            "variant": getattr(model, "variant", None),
            "labels": list(labels) if labels else None,
        },
        "test_set": {
            "utterances": n,
            "seconds": seconds,
            "mean_seconds": seconds / n,
            "frames": sum(frames),
            "mean_frames": sum(frames) / n,
            "frame_rate_hz": sum(frames) / seconds if seconds else None,
        },
        "predictions": predictions,
        "parameters": parameter_table(model),
        "spiking": {
            "saturated_at": saturation,
            "layers": monitor.summary(saturation=saturation),
        },
        "calibration": calibration,
        "operations": {
            "layers": {
                name: {key: value / n for key, value in counts.items()}
                for name, counts in layers.items()
            },
            "totals_over_test_set": totals,
        },
        "energy": energy_summary(totals, n, seconds, E_MAC_PJ, E_AC_PJ),
        "upstream": upstream_estimate(durations, e_mac_pj=E_MAC_PJ),
        "op_counter_check": _stock_check(model, checked, ours_checked),
        "counted": list(COUNTED),
        "not_counted": list(NOT_COUNTED),
    }


def fold_efficiency(
    output_folder,
    fold,
    device="cpu",
    overrides=None,
    check_utterances=3,
    saturation=SATURATION_RATE,
    progress=True,
    plots=True,
):
    """Measures one fold and writes its ``efficiency.json``, ``efficiency.md`` and PNGs.

    Arguments
    ---------
    output_folder : str
        An experiment folder.
    fold : int
        A finished fold.
    device, overrides, check_utterances, saturation, progress, plots :
        See :func:`efficiency_report`.

    Returns
    -------
    dict
        The report (as written to ``efficiency.json``).

    Example
    -------
    >>> import tempfile
    >>> fold_efficiency(tempfile.mkdtemp(), 3)
    Traceback (most recent call last):
    ...
    ValueError: ... has no fold 3 (folds: none)
    """
    fold_run = rebuild_fold(output_folder, fold, overrides=overrides, device=device)
    model, hparams, folder = fold_run["model"], fold_run["hparams"], fold_run["folder"]
    test = read_test_set(folder, hparams.get("data_folder"))
    recorded = read_predictions(folder)
    source = make_feature_source(hparams, device=device)
    utterances = (
        (utt_id, source.load(entry["wav"]), entry.get("duration")) for utt_id, entry in test.items()
    )
    measured = measure_model(
        model, utterances, labels=fold_run["labels"], saturation=saturation,
        check_utterances=check_utterances, keep_currents=plots, progress=progress,
        description=f"fold {fold}: test set",
    )
    predictions = measured.pop("predictions")
    agree = sum(recorded.get(utt_id) == label for utt_id, label in predictions.items())
    measured["model"].update(
        experiment_name=hparams.get("experiment_name"),
        input_size=hparams.get("input_size"),
        n_classes=len(fold_run["labels"]),
    )
    measured["upstream"]["used_by_this_run"] = _upstream_name(hparams)
    report = {
        "fold": int(fold),
        "output_folder": os.path.abspath(output_folder),
        "hparams_source": fold_run["hparams_source"],
        "checkpoint": dict(fold_run["checkpoint"], chosen_by=checkpoint_choice(
            fold_run["checkpoint"]["meta"], fold_run["best_metric"])),
        "prediction_agreement": agree / len(predictions) if recorded else None,
        **measured,
        "plots": {},
    }
    currents = (report["calibration"] or {}).pop("currents", None)
    if plots:
        report["plots"] = _write_plots(report, currents, folder)
    write_json(os.path.join(folder, "efficiency.json"), report)
    write_text(os.path.join(folder, "efficiency.md"), efficiency_markdown(report))
    logger.info("fold %d: wrote %s", fold, os.path.join(folder, "efficiency.json"))
    return report


def _upstream_name(hparams):
    upstream = hparams.get("upstream", "emotion2vec")
    if not isinstance(upstream, str):
        return type(upstream).__name__
    if upstream == "emotion2vec":
        return f"emotion2vec ({hparams.get('upstream_source')})"
    if upstream == "precomputed":
        return f"precomputed features ({hparams.get('features_folder')})"
    return upstream


def _stock_check(model, inputs, ours):
    if not inputs or ours is None:
        return None
    stock = stock_counter_check(model, inputs)
    return {
        "utterances": len(inputs),
        "spikingjelly_synops": stock["synops"],
        "spikingjelly_macs": stock["macs"],
        "ours_acs": ours["acs"],
        "ours_macs": ours["macs"],
        "agrees": stock["synops"] == ours["acs"] and stock["macs"] == ours["macs"],
        "note": (
            "SpikingJelly's stock aten-level SynOpCounter and MACCounter on the first utterances. "
            "They differ from our count where an operand is binary by chance (an all-zero weight "
            "matrix, e.g. an untrained bias generator's output layer, or all-zero keys and values "
            "of a silent attention, which they take for spike trains; we count the attention "
            "products as dense MACs always), where an input holds integer spike counts above 1 "
            "(they count MACs), and on padded batches (never used here)."
        ),
    }


def _write_plots(report, currents, folder):
    plots = {}
    fold = report["fold"]
    name = report["model"].get("experiment_name") or report["model"]["class"]
    plots["firing_rates"] = os.path.basename(plot_firing_rates(
        report["spiking"]["layers"], os.path.join(folder, RATES_PLOT),
        title=f"{name}, fold {fold}: per-neuron firing rates on the test set",
    ))
    calibration = report["calibration"]
    if calibration is not None and currents is not None:
        plots["classifier_current"] = os.path.basename(plot_classifier_current(
            currents["with_bias"], currents["without_bias"], calibration["threshold"],
            os.path.join(folder, CURRENT_PLOT), has_bias=calibration["has_bias"],
            title=f"{name}, fold {fold}: classifier input current (valid frames × class neurons)",
        ))
    return plots
