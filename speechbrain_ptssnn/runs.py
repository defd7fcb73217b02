"""The layout of a run folder, in one place.

A recipe's ``output_folder`` holds::

    hyperparams.yaml                        the hparams as given (SpeechBrain's snapshot)
    run_fingerprint.json                    what produced the folder: fold options, corpus
                                            content, the hparams that shape model and training
    prepare_options.json                    the data-preparation options
    skipped_files.txt                       corpus files not understood, if any
    fold_<k>/{train,valid,test}.json        the fold's manifests (k from 1)
    fold_<k>/hyperparams.yaml               the hparams that trained the fold, resolved
    fold_<k>/run_fingerprint.json           the fingerprint the fold was trained with
    fold_<k>/save/CKPT+*/adapter.ckpt       checkpoints (SpeechBrain's Checkpointer)
    fold_<k>/save/CKPT+averaged/            with ``average_last > 0``: the last epochs'
                                            weights averaged, the checkpoint tested
    fold_<k>/train_log.txt                  per-epoch losses and metrics
    fold_<k>/label_encoder.txt
    fold_<k>/predictions.csv                one row per test utterance
    fold_<k>/metrics.json                   WA, UA, F1, recall, confusion: the fold is finished
    fold_<k>/calibration.json               temperature fitted on valid; NLL, ECE before/after
    summary.json, summary.md                every fold, mean and std
    confusion.csv, confusion.png            summed over folds
    cross_corpus/{train,valid}.json         --test_corpora: the training corpus's shared classes
    cross_corpus/save/, train_log.txt, ...  the cross-corpus model (a fold folder of its own)
    cross_corpus/<target>/test.json         every utterance of the target's shared classes
    cross_corpus/<target>/{metrics.json,predictions.csv}   the target's test results
    previous-<date>-<time>/                 old results moved aside by ``--overwrite=True``

Everything that reads or writes this layout (the experiment, the summary, the
report, the export) finds it through this module. A folder's results are never
deleted nor relabelled: a rerun whose fingerprint differs from the recorded one
is refused (:class:`RunMismatchError`), or, with ``--overwrite=True``, the old
results are moved aside (:func:`move_aside`).
"""

import json
import os
import re
import time

HPARAMS_FILE = "hyperparams.yaml"
OPTIONS_FILE = "prepare_options.json"
SKIPPED_FILE = "skipped_files.txt"
SPLITS = ("train", "valid", "test")
SAVE_FOLDER = "save"
ADAPTER_CHECKPOINT = "adapter.ckpt"
#: the averaged checkpoint's name (``CKPT+averaged``) and the meta key marking it
AVERAGED_CHECKPOINT = "averaged"
AVERAGED_EPOCHS = "averaged_epochs"
TRAIN_LOG = "train_log.txt"
LABEL_ENCODER = "label_encoder.txt"
PREDICTIONS = "predictions.csv"
METRICS_FILE = "metrics.json"
CALIBRATION_FILE = "calibration.json"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
#: the cross-corpus stage's folder, and ``--fold=cross_corpus`` (that stage only)
CROSS_CORPUS = "cross_corpus"
FINGERPRINT_FILE = "run_fingerprint.json"
PREVIOUS_PREFIX = "previous-"

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


def is_averaged(checkpoint):
    """Whether a SpeechBrain ``Checkpoint`` is an averaged one (its meta lists the epochs).

    Example
    -------
    >>> from speechbrain.utils.checkpoints import Checkpoint
    >>> is_averaged(Checkpoint("CKPT+averaged", {AVERAGED_EPOCHS: [29, 30]}, {}))
    True
    >>> is_averaged(Checkpoint("CKPT+2026", {"UA": 80.0}, {}))
    False
    """
    return AVERAGED_EPOCHS in checkpoint.meta


def checkpoint_choice(meta, best_metric="UA"):
    """How the tested checkpoint was chosen, in words, from its meta.

    Example
    -------
    >>> checkpoint_choice({AVERAGED_EPOCHS: [26, 27, 28, 29, 30]})
    'the average of the weights of epochs 26-30 (the last 5)'
    >>> checkpoint_choice({"UA": 81.2}, "loss")
    'the checkpoint with the lowest validation loss'
    """
    epochs = meta.get(AVERAGED_EPOCHS)
    if epochs and len(epochs) == 1:
        return f"the weights of epoch {epochs[0]} (the one epoch there was to average)"
    if epochs:
        return (f"the average of the weights of epochs {epochs[0]}-{epochs[-1]} "
                f"(the last {len(epochs)})")
    direction = "lowest" if best_metric == "loss" else "highest"
    return f"the checkpoint with the {direction} validation {best_metric}"


def checkpoint_under_test(folder, best_metric="UA"):
    """The checkpoint of a fold its test used.

    The averaged checkpoint when the fold has one (trained with
    ``average_last > 0``), otherwise the best by validation ``best_metric``.

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
    >>> checkpoint_under_test(tempfile.mkdtemp())
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
    checkpointer = Checkpointer(save)
    checkpoint = (checkpointer.find_checkpoint(ckpt_predicate=is_averaged)
                  or checkpointer.find_checkpoint(**checkpoint_key(best_metric)))
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


def cross_corpus_folder(output_folder):
    """The folder of the cross-corpus model: ``<output_folder>/cross_corpus``.

    Example
    -------
    >>> cross_corpus_folder("/runs/x")
    '/runs/x/cross_corpus'
    """
    return os.path.join(output_folder, CROSS_CORPUS)


def cross_corpus_target_folder(output_folder, target):
    """Where one target corpus's test manifest and results go.

    Example
    -------
    >>> cross_corpus_target_folder("/runs/x", "urdu")
    '/runs/x/cross_corpus/urdu'
    """
    return os.path.join(cross_corpus_folder(output_folder), target)


def read_cross_corpus_metrics(output_folder):
    """The ``metrics.json`` of every tested cross-corpus target.

    Returns
    -------
    dict
        Target corpus name → its metrics (untested targets left out), by name.

    Example
    -------
    >>> import tempfile
    >>> read_cross_corpus_metrics(tempfile.mkdtemp())
    {}
    """
    folder = cross_corpus_folder(output_folder)
    if not os.path.isdir(folder):
        return {}
    targets = {}
    for name in sorted(os.listdir(folder)):
        metrics = read_json(os.path.join(folder, name, METRICS_FILE))
        if metrics is not None:
            targets[name] = metrics
    return targets


def read_prediction_rows(folder):
    """The rows of a fold's (or target's) ``predictions.csv``: ``id``, ``true``, ``predicted``.

    Returns
    -------
    list of dict
        One dict per test utterance (the probability columns too); empty
        without the file.

    Example
    -------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "predictions.csv"), "w") as f:
    ...     _ = f.write("id,true,predicted,p_a,p_b\\nu1,a,b,0.4,0.6\\n")
    >>> [(row["id"], row["true"], row["predicted"]) for row in read_prediction_rows(folder)]
    [('u1', 'a', 'b')]
    """
    import csv

    path = os.path.join(folder, PREDICTIONS)
    if not os.path.isfile(path):
        return []
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


class RunMismatchError(ValueError):
    """A run folder holds results of another configuration than the one asked for."""


def read_fingerprint(folder):
    """The fingerprint recorded in a run or fold folder, or None."""
    try:
        return read_json(os.path.join(folder, FINGERPRINT_FILE))
    except ValueError:  # a file that is not JSON records nothing
        return None


def _shown(value, width=60):
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def fingerprint_differences(recorded, current):
    """What differs between two fingerprints, one ``"key: old → new"`` string per key.

    A fingerprint is a dict of sections (``fold_options``, ``hparams``: key →
    value; ``corpus_content``: the corpus's file count, bytes and digest);
    keys are named without their section.

    Example
    -------
    >>> old = {"fold_options": {"n_folds": 10}, "hparams": {"lr": 0.1, "seed": 1},
    ...        "corpus_content": {"files": 4, "bytes": 40, "sha256": "a"}}
    >>> new = {"fold_options": {"n_folds": 3}, "hparams": {"lr": 0.1},
    ...        "corpus_content": {"files": 3, "bytes": 30, "sha256": "b"}}
    >>> fingerprint_differences(old, new)  # doctest: +NORMALIZE_WHITESPACE
    ['n_folds: 10 → 3', 'corpus content: 4 files, 40 bytes → 3 files, 30 bytes',
     'seed: 1 → (not set)']
    >>> fingerprint_differences(old, old)
    []
    """
    recorded, current = recorded or {}, current or {}
    differences = []
    for section in sorted(set(recorded) | set(current), key=_section_order):
        old, new = recorded.get(section), current.get(section)
        if old == new:
            continue
        if section == "corpus_content":
            before, after = _content(old), _content(new)
            if before == after:
                after += " (other file names or sizes)"
            differences.append(f"corpus content: {before} → {after}")
        elif isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new)):
                if key not in new or key not in old or old[key] != new[key]:
                    before = _shown(old[key]) if key in old else "(not set)"
                    after = _shown(new[key]) if key in new else "(not set)"
                    differences.append(f"{key}: {before} → {after}")
        else:
            differences.append(f"{section}: {_shown(old)} → {_shown(new)}")
    return differences


def _section_order(section):
    order = ("fold_options", "corpus_content", "hparams")
    return (order.index(section) if section in order else len(order), section)


def _content(content):
    if not isinstance(content, dict):
        return "(not recorded)"
    return f"{content.get('files')} files, {content.get('bytes')} bytes"


def run_results(output_folder):
    """The results a run folder holds, relative to it (what a rerun must never lose).

    Results are a fold's test results, training log and checkpoints, and the
    summary; manifests, options and hparams snapshots are not.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "fold_1", "save", "CKPT+1"))
    >>> open(os.path.join(root, "fold_1", "train.json"), "w").close()
    >>> run_results(root)
    ['fold_1/save/CKPT+1']
    """
    found = [name for name in (SUMMARY_JSON, SUMMARY_MD)
             if os.path.exists(os.path.join(output_folder, name))]
    for folder in fold_folders(output_folder):
        fold = os.path.basename(folder)
        found += [f"{fold}/{name}" for name in (METRICS_FILE, PREDICTIONS, TRAIN_LOG)
                  if os.path.exists(os.path.join(folder, name))]
        save = os.path.join(folder, SAVE_FOLDER)
        if os.path.isdir(save):
            found += [f"{fold}/{SAVE_FOLDER}/{name}" for name in sorted(os.listdir(save))
                      if name.startswith("CKPT+")]
    return found


def move_aside(output_folder, keep=()):
    """Moves everything of a run folder into ``<output_folder>/previous-<date>-<time>/``.

    Nothing is deleted: the old results stay readable there. Earlier
    ``previous-*`` folders and the paths in ``keep`` (a feature cache inside
    the run folder, say) stay where they are.

    Arguments
    ---------
    output_folder : str
        A run folder.
    keep : iterable of str
        Paths of entries of ``output_folder`` not to move.

    Returns
    -------
    str or None
        The folder the old content went to; None if there was nothing to move.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "fold_1"))
    >>> os.makedirs(os.path.join(root, "cache"))
    >>> aside = move_aside(root, keep=[os.path.join(root, "cache")])
    >>> sorted(os.listdir(root)) == sorted(["cache", os.path.basename(aside)])
    True
    >>> os.listdir(aside)
    ['fold_1']
    """
    if not os.path.isdir(output_folder):
        return None
    kept = {os.path.realpath(path) for path in keep}
    names = [
        name for name in sorted(os.listdir(output_folder))
        if not name.startswith(PREVIOUS_PREFIX)
        and os.path.realpath(os.path.join(output_folder, name)) not in kept
    ]
    if not names:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = os.path.join(output_folder, f"{PREVIOUS_PREFIX}{stamp}")
    n = 1
    while os.path.exists(aside):
        n += 1
        aside = os.path.join(output_folder, f"{PREVIOUS_PREFIX}{stamp}-{n}")
    os.makedirs(aside)
    for name in names:
        os.replace(os.path.join(output_folder, name), os.path.join(aside, name))
    return aside
