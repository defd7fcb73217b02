"""The layout of a run folder, in one place.

A recipe's ``output_folder`` holds::

    hyperparams.yaml                        the hparams as given (SpeechBrain's snapshot)
    prepare_options.json                    the data-preparation options
    skipped_files.txt                       corpus files not understood, if any
    fold_<k>/{train,valid,test}.json        the fold's manifests (k from 1)
    fold_<k>/hyperparams.yaml               the hparams that trained the fold, resolved
    fold_<k>/save/CKPT+*/adapter.ckpt       checkpoints (SpeechBrain's Checkpointer)
    fold_<k>/train_log.txt                  per-epoch losses and metrics
    fold_<k>/label_encoder.txt
    fold_<k>/predictions.csv                one row per test utterance
    fold_<k>/metrics.json                   WA, UA, F1, recall, confusion: the fold is finished
    fold_<k>/calibration.json               the temperature fitted on valid; NLL and ECE before/after
    summary.json, summary.md                every fold, mean and std
    confusion.csv, confusion.png            summed over folds

Everything that reads or writes this layout (the experiment, the summary, the
report, the export) finds it through this module.
"""

import json
import os
import re

HPARAMS_FILE = "hyperparams.yaml"
OPTIONS_FILE = "prepare_options.json"
SKIPPED_FILE = "skipped_files.txt"
SPLITS = ("train", "valid", "test")
SAVE_FOLDER = "save"
ADAPTER_CHECKPOINT = "adapter.ckpt"
TRAIN_LOG = "train_log.txt"
LABEL_ENCODER = "label_encoder.txt"
PREDICTIONS = "predictions.csv"
METRICS_FILE = "metrics.json"
CALIBRATION_FILE = "calibration.json"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"

#: the metrics of a fold, in percent
METRICS = ("WA", "UA", "F1")
#: validation metrics a checkpoint can be chosen by (``loss``: the lowest wins)
BEST_METRICS = ("UA", "WA", "F1", "loss")

_FOLD_FOLDER = re.compile(r"^fold_(\d+)$")


def fold_folder(output_folder, fold):
    """The folder of fold ``fold``: ``<output_folder>/fold_<fold>``.

    Example
    -------
    >>> fold_folder("/runs/x", 3)
    '/runs/x/fold_3'
    """
    return os.path.join(output_folder, f"fold_{fold}")


def fold_number(folder):
    """The ``k`` of a ``fold_<k>`` folder.

    Example
    -------
    >>> fold_number("/runs/x/fold_10")
    10
    """
    return int(os.path.basename(os.path.normpath(folder)).split("_", 1)[1])


def fold_folders(output_folder):
    """The fold folders of a run folder, in fold order (none if it does not exist).

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name in ["fold_10", "fold_2", "fold_x", "notes"]:
    ...     os.makedirs(os.path.join(root, name))
    >>> [os.path.basename(f) for f in fold_folders(root)]
    ['fold_2', 'fold_10']
    """
    if not os.path.isdir(output_folder):
        return []
    folders = [
        os.path.join(output_folder, name)
        for name in os.listdir(output_folder)
        if _FOLD_FOLDER.match(name) and os.path.isdir(os.path.join(output_folder, name))
    ]
    return sorted(folders, key=fold_number)


def read_json(path):
    """The JSON in ``path``, or None when there is no such file."""
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def read_fold_metrics(output_folder):
    """The ``metrics.json`` of every finished fold.

    Arguments
    ---------
    output_folder : str
        A run folder.

    Returns
    -------
    dict
        Fold number → its metrics (unfinished folds left out).
    """
    folds = {}
    for folder in fold_folders(output_folder):
        metrics = read_json(os.path.join(folder, METRICS_FILE))
        if metrics is not None:
            folds[fold_number(folder)] = metrics
    return folds


def is_finished(folder):
    """Whether a fold folder holds its test results (``metrics.json``)."""
    return os.path.exists(os.path.join(folder, METRICS_FILE))


def finished_folds(output_folder):
    """The finished folds of a run folder, checked.

    Returns
    -------
    list of int
        Fold numbers, ascending.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist.
    ValueError
        If it has no finished fold.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for k in (1, 2):
    ...     os.makedirs(os.path.join(root, f"fold_{k}"))
    >>> open(os.path.join(root, "fold_2", "metrics.json"), "w").close()
    >>> finished_folds(root)
    [2]
    """
    if not os.path.isdir(output_folder):
        raise FileNotFoundError(f"run folder {output_folder} does not exist")
    folds = [fold_number(f) for f in fold_folders(output_folder) if is_finished(f)]
    if not folds:
        raise ValueError(
            f"{output_folder} has no finished fold (no fold_<k>/{METRICS_FILE}): "
            "train it with a recipe first, e.g. recipes/EMODB/train.py"
        )
    return folds


def finished_fold_folder(output_folder, fold):
    """The folder of a finished fold, checked.

    Raises
    ------
    ValueError
        If the fold is missing or unfinished.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "fold_1"))
    >>> finished_fold_folder(root, 1)
    Traceback (most recent call last):
    ...
    ValueError: fold 1 of ... is not finished (no .../fold_1/metrics.json)
    """
    folder = fold_folder(output_folder, fold)
    if not os.path.isdir(folder):
        existing = [fold_number(f) for f in fold_folders(output_folder)]
        raise ValueError(
            f"{output_folder} has no fold {fold} (folds: {existing or 'none'})"
        )
    if not is_finished(folder):
        raise ValueError(
            f"fold {fold} of {output_folder} is not finished (no {folder}/{METRICS_FILE})"
        )
    return folder


def best_checkpoint(folder, best_metric="UA"):
    """The checkpoint of a fold its test used: the best by validation ``best_metric``.

    Arguments
    ---------
    folder : str
        A fold folder (holding ``save/``).
    best_metric : str
        One of :data:`BEST_METRICS`: ``UA``, ``WA``, ``F1`` (the highest
        wins) or ``loss`` (the lowest).

    Returns
    -------
    speechbrain.utils.checkpoints.Checkpoint
        With ``path``, ``meta`` and ``paramfiles`` (``paramfiles["adapter"]``
        is the adapter's weights).

    Raises
    ------
    ValueError
        For an unknown ``best_metric``.
    FileNotFoundError
        If the fold has no checkpoint, none recording ``best_metric``, or
        the chosen one has no ``adapter.ckpt``.

    Example
    -------
    >>> import tempfile
    >>> best_checkpoint(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    FileNotFoundError: fold folder ... has no checkpoint (no .../save/CKPT+*)
    """
    from speechbrain.utils.checkpoints import Checkpointer

    if best_metric not in BEST_METRICS:
        raise ValueError(f"unknown best_metric {best_metric!r}; expected one of {BEST_METRICS}")
    save = os.path.join(folder, SAVE_FOLDER)
    if not os.path.isdir(save) or not any(n.startswith("CKPT+") for n in os.listdir(save)):
        raise FileNotFoundError(f"fold folder {folder} has no checkpoint (no {save}/CKPT+*)")
    checkpoint = Checkpointer(save).find_checkpoint(**checkpoint_key(best_metric))
    if checkpoint is None:
        raise FileNotFoundError(
            f"no checkpoint in {save} records the validation metric {best_metric!r}"
        )
    if not os.path.exists(os.path.join(checkpoint.path, ADAPTER_CHECKPOINT)):
        raise FileNotFoundError(f"checkpoint {checkpoint.path} has no {ADAPTER_CHECKPOINT}")
    return checkpoint


def checkpoint_key(best_metric):
    """``Checkpointer`` keyword choosing by ``best_metric``: ``max_key`` or ``min_key``.

    Example
    -------
    >>> checkpoint_key("UA"), checkpoint_key("loss")
    ({'max_key': 'UA'}, {'min_key': 'loss'})
    """
    return {"min_key": best_metric} if best_metric == "loss" else {"max_key": best_metric}
