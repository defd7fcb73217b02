"""What produced a run folder, and the check that a rerun may write into it.

A run folder records what produced it in ``run_fingerprint.json``
(:func:`run_fingerprint`): the fold options, the corpus's content and the
hparams that shape the model or its training. Before anything is written,
:func:`claim_output_folder` compares it with the results already in the
folder: a rerun whose fingerprint differs is refused
(:class:`~speechbrain_ptssnn.runs.RunMismatchError`, naming the keys that
differ), unless ``overwrite``, which moves the old content aside to
``previous-<date>-<time>/``. The run layout is described in
:mod:`speechbrain_ptssnn.runs`.
"""

import json
import logging
import os

import yaml

from speechbrain_ptssnn.atomic import write_json
from speechbrain_ptssnn.dataprep.prepare import preparation_fingerprint
from speechbrain_ptssnn.runs import (
    FINGERPRINT_FILE,
    PREVIOUS_PREFIX,
    RunMismatchError,
    fingerprint_differences,
    fold_folders,
    move_aside,
    read_fingerprint,
    run_results,
)

logger = logging.getLogger(__name__)

#: version of the run fingerprint's layout
FINGERPRINT_FORMAT = 1

#: hparams that manage a run rather than shape its model or training: left out
#: of the fingerprint (``--fold``: benchmarks run fold by fold into one folder;
#: ``data_folder``: the corpus's content is fingerprinted instead, so it may move)
RUN_MANAGEMENT_KEYS = (
    "fold", "overwrite", "data_folder", "output_folder", "experiment_name", "fold_folder",
    "save_folder", "train_log", "feature_cache_folder", "cache_folder", "num_workers",
    "use_tensorboard", "efficiency_report",
)
#: the fold options: fingerprinted as the preparation resolves them (``fold_options``)
FOLD_OPTION_KEYS = ("corpus", "protocol", "n_folds", "valid_ratio", "fold_seed", "emotions")


class _RawLoader(yaml.SafeLoader):
    """Reads a HyperPyYAML file as written: tags kept, references unresolved."""


def _raw_tagged(loader, suffix, node):
    tag = "!" + suffix
    if isinstance(node, yaml.MappingNode):
        return {tag: loader.construct_mapping(node, deep=True)}
    if isinstance(node, yaml.SequenceNode):
        return {tag: loader.construct_sequence(node, deep=True)}
    return f"{tag} {loader.construct_scalar(node)}".rstrip()


_RawLoader.add_multi_constructor("!", _raw_tagged)


def _override(node, value):
    """``value`` over ``node``, mappings merged key by key (as HyperPyYAML does)."""
    if isinstance(node, dict) and isinstance(value, dict) and not _is_tagged(node):
        merged = dict(node)
        for key, item in value.items():
            merged[key] = _override(merged.get(key), item)
        return merged
    return value


def _is_tagged(node):
    return isinstance(node, dict) and len(node) == 1 and str(next(iter(node))).startswith("!")


def hparams_fingerprint(hparams_file, overrides, excluded=RUN_MANAGEMENT_KEYS + FOLD_OPTION_KEYS):
    """The hparams of a run as written, overrides applied, for the run fingerprint.

    Every top-level key but ``excluded`` is kept with its definition as the
    file writes it (tags kept, ``!ref`` unresolved) or as overridden. Since a
    reference points to another key, which is fingerprinted on its own, any
    change that reaches the model or the training changes the fingerprint,
    while a change of an excluded key (an output path, ``num_workers``)
    reaches no other key's definition and changes nothing.

    Arguments
    ---------
    hparams_file : str
        A HyperPyYAML file.
    overrides : dict
        Values replacing the file's.
    excluded : tuple of str
        Keys left out.

    Returns
    -------
    dict
        Key → JSON-ready definition.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "h.yaml")
    >>> _ = open(path, "w").write(
    ...     "lr: 0.1\\nfold: null\\nopt: !name:torch.optim.SGD\\n  lr: !ref <lr>\\n")
    >>> hparams_fingerprint(path, {"lr": 0.5, "fold": 2})
    {'lr': 0.5, 'opt': {'!name:torch.optim.SGD': {'lr': '!ref <lr>'}}}
    """
    with open(hparams_file, encoding="utf-8") as stream:
        raw = yaml.load(stream, Loader=_RawLoader) or {}
    for key, value in overrides.items():
        raw[key] = _override(raw.get(key), value)
    kept = {str(key): value for key, value in raw.items() if key not in excluded}
    return json.loads(json.dumps(kept, sort_keys=True, default=str))


def run_fingerprint(corpus, hparams_file, overrides, prepare_kwargs):
    """What produces a run: fold options, corpus content and hparams.

    Arguments
    ---------
    corpus : str
        The corpus name (``emodb``, ...).
    hparams_file : str
        A HyperPyYAML file.
    overrides : dict
        Values replacing the file's.
    prepare_kwargs : dict
        Keyword arguments of the corpus's ``prepare_<corpus>`` function
        (``output_folder`` and ``data_root_placeholder`` are not used).

    Returns
    -------
    dict
        ``format``; ``fold_options`` and ``corpus_content``
        (:func:`~speechbrain_ptssnn.dataprep.prepare.preparation_fingerprint`:
        relative paths and sizes of the audio files, not the corpus's
        absolute path); ``hparams`` (:func:`hparams_fingerprint`: every
        key but :data:`RUN_MANAGEMENT_KEYS` and the fold options).
    """
    kwargs = dict(prepare_kwargs)
    del kwargs["output_folder"], kwargs["data_root_placeholder"]
    preparation = preparation_fingerprint(corpus, **kwargs)
    hparams = hparams_fingerprint(hparams_file, overrides)
    return json.loads(json.dumps(
        {"format": FINGERPRINT_FORMAT, **preparation, "hparams": hparams},
        sort_keys=True, default=str,
    ))


def claim_output_folder(folder, fingerprint, overwrite=False, kept=()):
    """Refuses a folder holding other results, or moves them aside; records the fingerprint.

    Arguments
    ---------
    folder : str
        The run's output folder.
    fingerprint : dict
        This run's (:func:`run_fingerprint`), written to ``run_fingerprint.json``.
    overwrite : bool
        Move the old content aside to ``previous-<date>-<time>/`` instead of
        refusing it.
    kept : list of str
        Absolute paths inside ``folder`` that are not moved aside (a feature
        cache).

    Raises
    ------
    RunMismatchError
        Without ``overwrite``, if ``folder`` holds results made with another
        fingerprint (or with none recorded); nothing is changed then.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> claim_output_folder(folder, {"format": 1})
    >>> read_fingerprint(folder)
    {'format': 1}
    """
    if overwrite:
        aside = move_aside(folder, keep=list(kept))
        if aside is not None:
            logger.warning("--overwrite=True: moved the old content of %s to %s", folder, aside)
    else:
        problem = folder_mismatch(folder, fingerprint)
        if problem:
            raise RunMismatchError(
                f"refusing to run in {folder}: {problem}. Nothing in it was changed. Pass "
                "another --output_folder to keep them, or --overwrite=True to move them "
                f"aside (to {folder}/{PREVIOUS_PREFIX}<date>-<time>/) and start afresh."
            )
    if read_fingerprint(folder) != fingerprint:
        write_json(os.path.join(folder, FINGERPRINT_FILE), fingerprint, sort_keys=True)


def folder_mismatch(folder, fingerprint):
    """How the results in a run folder differ from a run's.

    Arguments
    ---------
    folder : str
        The run's output folder.
    fingerprint : dict
        The run's (:func:`run_fingerprint`).

    Returns
    -------
    str or None
        What differs (the keys, per fold where a fold differs from the
        folder); None when the folder holds no results or matching ones.
    """
    results = run_results(folder)
    if not results:
        return None
    recorded = read_fingerprint(folder)
    if recorded is None:
        shown = ", ".join(results[:2]) + (", ..." if len(results) > 2 else "")
        return (f"it holds {len(results)} results ({shown}) but no {FINGERPRINT_FILE} "
                "saying what produced them (a folder of an older version?)")
    problems = fingerprint_differences(recorded, fingerprint)
    for fold in fold_folders(folder):
        name = os.path.basename(fold)
        if not any(result.startswith(name + "/") for result in results):
            continue
        own = read_fingerprint(fold)
        if own is None:
            problems.append(f"{name} has results but no {FINGERPRINT_FILE}")
        elif own != recorded and own != fingerprint:
            problems += [f"{name}: {difference}"
                         for difference in fingerprint_differences(own, fingerprint)]
    if problems:
        return f"it holds results made with other options ({'; '.join(problems)})"
    return None
