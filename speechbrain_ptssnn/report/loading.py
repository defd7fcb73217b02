"""Rebuilding a trained fold from an experiment folder: hparams, checkpoint, test set.

An experiment folder is what a recipe writes (see
:mod:`speechbrain_ptssnn.experiment`)::

    <output_folder>/hyperparams.yaml          the resolved hparams (SpeechBrain)
    <output_folder>/summary.json              hparams file + overrides (when all folds ran)
    <output_folder>/fold_<k>/metrics.json     the fold is finished
    <output_folder>/fold_<k>/save/CKPT+*/adapter.ckpt
    <output_folder>/fold_<k>/test.json, predictions.csv

The model is rebuilt from ``hyperparams.yaml`` first (a snapshot of what was
trained, with ``n_classes`` overridden to the fold's label count, in the
adapter too, since the snapshot holds resolved values), else from the hparams
file and overrides recorded in ``summary.json``; the first whose adapter
accepts the tested checkpoint's weights (strictly) wins.
"""

import csv
import functools
import json
import os

import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_ptssnn.dataprep.manifest import read_manifest
from speechbrain_ptssnn.runs import (
    HPARAMS_FILE,
    checkpoint_under_test,
    finished_fold_folder,
    fold_folder,
)


def fold_labels(folder):
    """The class names of a finished fold, in encoder order (from ``metrics.json``).

    Arguments
    ---------
    folder : str
        A fold folder.

    Returns
    -------
    list of str

    Example
    -------
    >>> import json, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "metrics.json"), "w") as f:
    ...     json.dump({"labels": ["angry", "sad"]}, f)
    >>> fold_labels(folder)
    ['angry', 'sad']
    """
    with open(os.path.join(folder, "metrics.json"), encoding="utf-8") as stream:
        metrics = json.load(stream)
    if "labels" not in metrics:
        raise ValueError(f"{folder}/metrics.json lists no labels")
    return list(metrics["labels"])


def read_predictions(folder):
    """``id → predicted label`` from a fold's ``predictions.csv`` (empty if absent).

    Arguments
    ---------
    folder : str
        A fold folder.

    Returns
    -------
    dict

    Example
    -------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "predictions.csv"), "w") as f:
    ...     _ = f.write("id,true,predicted,p_a,p_b\\nu1,a,b,0.4,0.6\\n")
    >>> read_predictions(folder)
    {'u1': 'b'}
    """
    path = os.path.join(folder, "predictions.csv")
    if not os.path.exists(path):
        return {}
    with open(path, newline="", encoding="utf-8") as stream:
        return {row["id"]: row["predicted"] for row in csv.DictReader(stream)}


def read_test_set(folder, data_root=None):
    """The fold's test manifest, ``id → entry`` (``wav``, ``duration``, ``emo``, ...).

    Arguments
    ---------
    folder : str
        A fold folder.
    data_root : str, optional
        The corpus folder, for manifests written with ``{data_root}`` paths.

    Returns
    -------
    dict

    Raises
    ------
    FileNotFoundError, ValueError
        Without ``test.json``, or with an empty one.

    Example
    -------
    >>> import tempfile
    >>> read_test_set(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    FileNotFoundError: fold folder ... has no test.json
    """
    path = os.path.join(folder, "test.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"fold folder {folder} has no test.json")
    test = read_manifest(path, data_root)
    if not test:
        raise ValueError(f"{path} lists no utterance")
    return test


def _training_folder(output_folder, recorded):
    """Where the recipe ran, if the recorded output folder was relative."""
    if not recorded or os.path.isabs(str(recorded)):
        return None
    actual = os.path.abspath(output_folder)
    suffix = os.path.normpath(str(recorded))
    if actual.endswith(os.sep + suffix):
        return actual[: -len(suffix) - 1]
    return None


def _absolute_paths(hparams, output_folder):
    """Makes relative cache folders relative to where the recipe ran."""
    base = _training_folder(output_folder, hparams.get("output_folder"))
    if base is None:
        return hparams
    for key in ("feature_cache_folder", "cache_folder", "features_folder", "data_folder"):
        value = hparams.get(key)
        if isinstance(value, str) and not os.path.isabs(value) and not os.path.exists(value):
            candidate = os.path.join(base, value)
            if os.path.exists(candidate):
                hparams[key] = candidate
    return hparams


def _load_snapshot(snapshot, n_classes, overrides):
    """A resolved hparams snapshot, loaded with ``n_classes`` set (in the adapter too)."""
    with open(snapshot, encoding="utf-8") as stream:
        text = stream.read()
    nested = {**overrides, "n_classes": n_classes, "adapter": {"n_classes": n_classes}}
    try:
        hparams = load_hyperpyyaml(text, nested)
        if isinstance(hparams.get("adapter"), torch.nn.Module):
            return hparams
    except Exception:  # the adapter takes no n_classes: plain override
        pass
    return load_hyperpyyaml(text, {**overrides, "n_classes": n_classes})


def hparams_candidates(output_folder, n_classes, overrides=None, fold=None):
    """The ways to reload a run's hparams, in order of preference.

    The fold's own snapshot (``fold_<k>/hyperparams.yaml``, written by the
    recipe when the fold was trained) comes first, then the run's
    (``hyperparams.yaml``), then the hparams file and overrides recorded in
    ``summary.json``.

    Arguments
    ---------
    output_folder : str
        An experiment folder.
    n_classes : int
        The fold's number of classes.
    overrides : dict, optional
        Extra overrides (e.g. a moved ``data_folder``).
    fold : int, optional
        The fold whose snapshot to try first.

    Returns
    -------
    list of tuple
        ``(description, loader)``; calling ``loader()`` returns the hparams.

    Raises
    ------
    FileNotFoundError
        If the folder has neither file.

    Example
    -------
    >>> import tempfile
    >>> hparams_candidates(tempfile.mkdtemp(), 4)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    FileNotFoundError: ... has neither hyperparams.yaml nor summary.json: cannot tell which
    model was trained
    """
    overrides = dict(overrides or {})
    candidates = []
    snapshots = [os.path.join(output_folder, HPARAMS_FILE)]
    if fold is not None:
        snapshots.insert(0, os.path.join(fold_folder(output_folder, fold), HPARAMS_FILE))
    for snapshot in filter(os.path.exists, snapshots):
        load = functools.partial(_load_snapshot, snapshot, n_classes, overrides)
        candidates.append((snapshot, load))
    summary = os.path.join(output_folder, "summary.json")
    if os.path.exists(summary):
        with open(summary, encoding="utf-8") as stream:
            configuration = json.load(stream).get("configuration") or {}
        hparams_file = configuration.get("hparams_file")
        if hparams_file:
            def from_summary():
                if not os.path.exists(hparams_file):
                    raise FileNotFoundError(f"{hparams_file} (recorded in {summary}) is gone")
                recorded = dict(configuration.get("overrides") or {})
                with open(hparams_file, encoding="utf-8") as stream:
                    return load_hyperpyyaml(
                        stream, {**recorded, **overrides, "n_classes": n_classes}
                    )

            candidates.append((f"{hparams_file} with the overrides of {summary}", from_summary))
    if not candidates:
        raise FileNotFoundError(
            f"{output_folder} has neither hyperparams.yaml nor summary.json: "
            "cannot tell which model was trained"
        )
    return candidates


def rebuild_fold(output_folder, fold, overrides=None, device="cpu"):
    """The trained model of one fold, with its hparams and checkpoint.

    Arguments
    ---------
    output_folder : str
        An experiment folder.
    fold : int
        A finished fold.
    overrides : dict, optional
        Extra hparams overrides.
    device : str
        Where to put the model.

    Returns
    -------
    dict
        ``hparams``, ``model`` (in eval mode), ``hparams_source``,
        ``checkpoint`` (path and meta), ``best_metric``, ``labels`` and
        ``folder``.

    Raises
    ------
    ValueError, FileNotFoundError
        Naming the folder or file at fault.

    Example
    -------
    >>> import tempfile
    >>> rebuild_fold(tempfile.mkdtemp(), 1)
    Traceback (most recent call last):
    ...
    ValueError: ... has no fold 1 (folds: none)
    """
    folder = finished_fold_folder(output_folder, fold)
    labels = fold_labels(folder)
    errors = []
    for description, loader in hparams_candidates(output_folder, len(labels), overrides, fold):
        try:
            hparams = loader()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(f"{description}: {type(error).__name__}: {error}")
            continue
        model = hparams.get("adapter")
        if not isinstance(model, torch.nn.Module):
            errors.append(f"{description}: no `adapter` module")
            continue
        best_metric = hparams.get("best_metric", "UA") or "UA"
        checkpoint = checkpoint_under_test(folder, best_metric)
        state = torch.load(
            os.path.join(checkpoint.path, "adapter.ckpt"), map_location="cpu", weights_only=True
        )
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            errors.append(f"{description}: the checkpoint does not fit: {error}")
            continue
        model.to(device).eval()
        return {
            "hparams": _absolute_paths(hparams, output_folder),
            "model": model,
            "hparams_source": description,
            "checkpoint": {"path": str(checkpoint.path), "meta": dict(checkpoint.meta)},
            "best_metric": best_metric,
            "labels": labels,
            "folder": folder,
        }
    raise ValueError(
        f"cannot rebuild the model of fold {fold} of {output_folder}:\n  " + "\n  ".join(errors)
    )
