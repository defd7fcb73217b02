"""What the recipes share around their fold loop: options, folds, features, summary.

A recipe (``recipes/<CORPUS>/train.py``) reads like SpeechBrain's own: it
parses its command line, prepares the corpus, then for each fold loads the
hparams (whose ``fold`` key places the fold's folders), builds
:class:`~speechbrain_ptssnn.brain.PTSSNNBrain`, fits, evaluates and writes the
fold's results. :class:`Experiment` holds what every fold of that loop
shares: the checked options, the fold list, the feature source and the
summary at the end. It builds nothing before preparation (the options are
read without instantiating the hparams), so a bad option stops the run before
any file is written.

A run folder records what produced it (``run_fingerprint.json``, see
:meth:`Experiment.fingerprint_of`): the fold options, the corpus's content and
the hparams that shape the model or its training. Creating an
:class:`Experiment` checks the folder first: a rerun whose fingerprint differs
from the one of the results already there is refused before anything is
written (:class:`~speechbrain_ptssnn.runs.RunMismatchError`, naming the keys
that differ), unless ``--overwrite=True``, which moves the old content aside
to ``previous-<date>-<time>/``. A fold whose ``metrics.json`` exists (and whose
fingerprint matches) is finished and skipped on a rerun; an unfinished one
resumes from its last checkpoint (SpeechBrain's ``Checkpointer``). The run
layout is described in :mod:`speechbrain_ptssnn.runs`.
"""

import dataclasses
import json
import logging
import math
import numbers
import os
import re

import torch
import yaml
from hyperpyyaml import load_hyperpyyaml, resolve_references
from speechbrain.utils.distributed import get_rank, if_main_process, run_on_main

from speechbrain_ptssnn.atomic import write_json, write_text
from speechbrain_ptssnn.dataio import SORTINGS, manifest_dataset
from speechbrain_ptssnn.dataprep.cross_corpus import (
    parse_test_corpora,
    prepare_cross_corpus,
    shared_emotions,
)
from speechbrain_ptssnn.dataprep.emobox import partition_emotions
from speechbrain_ptssnn.dataprep.folds import PROTOCOLS
from speechbrain_ptssnn.dataprep.manifest import read_manifest
from speechbrain_ptssnn.dataprep.prepare import preparation_fingerprint, select_emotions
from speechbrain_ptssnn.features import make_feature_source
from speechbrain_ptssnn.metrics import calibration_summary, fit_temperature
from speechbrain_ptssnn.runs import (
    BEST_METRICS,
    CALIBRATION_FILE,
    CROSS_CORPUS,
    FINGERPRINT_FILE,
    HPARAMS_FILE,
    LABEL_ENCODER,
    OPTIONS_FILE,
    PREVIOUS_PREFIX,
    SPLITS,
    RunMismatchError,
    cross_corpus_folder,
    cross_corpus_target_folder,
    fingerprint_differences,
    fold_folder,
    fold_folders,
    is_finished,
    move_aside,
    read_fingerprint,
    read_json,
    run_results,
)
from speechbrain_ptssnn.summary import write_summary
from speechbrain_ptssnn.upstreams.leakage import leakage_sentence, upstream_leakage

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



def default_distributed_backend(run_opts):
    """Chooses gloo for ``torchrun`` when no GPU is there to use nccl.

    SpeechBrain defaults to nccl, which needs one GPU per process; unless
    ``--distributed_backend`` was given, a run without CUDA (or with
    ``--device=cpu``) uses gloo, so ``torchrun`` works on CPU unchanged.

    Arguments
    ---------
    run_opts : dict-like
        SpeechBrain run options, as ``sb.parse_arguments`` returns them.

    Returns
    -------
    dict-like
        The options, with ``distributed_backend`` gloo where chosen (a copy).
    """
    explicit = "distributed_backend" in run_opts.get("overridden_args", ())
    on_cpu = str(run_opts.get("device") or "").startswith("cpu") or not torch.cuda.is_available()
    if not explicit and on_cpu:
        if isinstance(run_opts, dict):
            return dict(run_opts, distributed_backend="gloo")
        overridden = set(run_opts.overridden_args) | {"distributed_backend"}
        return dataclasses.replace(
            run_opts, distributed_backend="gloo", overridden_args=overridden
        )
    return run_opts


class _OverridesLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading ``1e-3`` as a float (YAML 1.1 reads a string)."""


_OverridesLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_overrides(overrides):
    """Command-line overrides as a dict (``sb.parse_arguments`` gives YAML text).

    A number written with an exponent and no dot is a number, as in YAML 1.2
    (HyperPyYAML's): ``--lr=1e-3`` is 0.001. A key given twice keeps its last
    value, as on any command line.

    Example
    -------
    >>> parse_overrides("data_folder: /data\\nfold: 2\\nlr: 1e-3\\n")
    {'data_folder': '/data', 'fold': 2, 'lr': 0.001}
    """
    if isinstance(overrides, dict):
        return dict(overrides)
    return yaml.load(overrides or "", Loader=_OverridesLoader) or {}


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


class Built:
    """Stands for a tagged HyperPyYAML value (``!new:``, ``!name:``, ...) that was not built."""

    def __repr__(self):
        return "Built()"


class _PlainLoader(yaml.SafeLoader):
    """Reads every tagged HyperPyYAML value as a :class:`Built` marker."""


_PlainLoader.add_multi_constructor("!", lambda loader, suffix, node: Built())


def plain_hparams(hparams_file, overrides):
    """The plain values of an hparams file, without building any object.

    References and overrides are resolved as HyperPyYAML does; every tagged
    value (an object to build) reads as a :class:`Built` marker. Nothing is
    instantiated, so nothing is created on disk and no seed is set.

    Arguments
    ---------
    hparams_file : str
        A HyperPyYAML file.
    overrides : dict
        Values replacing the file's.

    Returns
    -------
    dict
        Top-level key → value.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "h.yaml")
    >>> _ = open(path, "w").write("a: 1\\nb: !ref <a>/x\\nc: !new:torch.nn.ReLU\\n")
    >>> plain_hparams(path, {"a": 2})
    {'a': 2, 'b': '2/x', 'c': Built()}
    """
    with open(hparams_file, encoding="utf-8") as stream:
        resolved = resolve_references(stream, overrides)
    return yaml.load(resolved, Loader=_PlainLoader) or {}


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


def _is_main_process():
    """Whether this is the main process, also before ``ddp_init_group``."""
    rank = get_rank()
    return rank is None or rank == 0


class Experiment:
    """One recipe run: its options, folds, feature source and summary.

    Arguments
    ---------
    corpus : str
        The corpus name (``emodb``, ``iemocap``, ...): the ``corpus`` key of
        the hparams, used in the default output folder.
    hparams_file : str
        A HyperPyYAML file such as ``hparams/ptssnn.yaml``.
    overrides : str or dict
        Command-line overrides; ``data_folder`` is required.
    run_opts : dict
        SpeechBrain run options (device, distributed backend, debug, ...);
        SpeechBrain's ``--test_only`` evaluates existing checkpoints only.

    Raises
    ------
    ValueError
        Before anything is built or written, for a missing ``data_folder``,
        an unknown or out-of-range option value (``batch_size`` < 1,
        ``lr`` <= 0, ``number_of_epochs`` < 1 without ``--test_only``) or a
        fold index out of range.
    RunMismatchError
        Before anything is written, if ``output_folder`` holds results made
        with another fingerprint (or with none recorded); the message names
        the keys that differ and the two ways on (another ``--output_folder``,
        or ``--overwrite=True``).
    """

    def __init__(self, corpus, hparams_file, overrides, run_opts):
        self.corpus = corpus.lower()
        self.hparams_file = hparams_file
        self.overrides = parse_overrides(overrides)
        self.run_opts = default_distributed_backend(run_opts)
        if not self.overrides.get("data_folder"):
            raise ValueError(
                "--data_folder is required: the folder holding the "
                f"{corpus} corpus (e.g. --data_folder=/path/to/{corpus})"
            )
        self.overrides.setdefault("corpus", self.corpus)
        self._set_n_classes()
        self.options = plain_hparams(hparams_file, self.overrides)
        self.test_only = bool(self.run_opts.get("test_only"))
        self._check_options()
        self.output_folder = self.options["output_folder"]
        self._feature_source = None
        self._cross_corpus = None
        self.leakage = upstream_leakage(
            self.options.get("upstream"), self.options.get("upstream_source"),
            [self.corpus, *(t.name for t in self.targets)],
        )
        if self.leakage:
            logger.warning("%s", leakage_sentence(self.leakage))
        self.fingerprint = None
        if _is_main_process():  # the other ranks wait for it in run_on_main(prepare_...)
            self.fingerprint = self.fingerprint_of()
            self._claim_output_folder()

    def _set_n_classes(self):
        """``n_classes`` follows the classes the preparation will keep."""
        emotions = self.overrides.get("emotions")
        if emotions is None and self.overrides.get("partitions"):
            emotions = partition_emotions(self.overrides["partitions"])
        labels = select_emotions(self.corpus, emotions)
        given = self.overrides.get("n_classes")
        if given is not None and given != len(labels):
            raise ValueError(
                f"--n_classes={given} does not match the {len(labels)} classes of "
                f"{self.corpus} ({', '.join(labels)}); leave n_classes out"
            )
        self.overrides["n_classes"] = len(labels)

    def _check_options(self):
        options = self.options
        checks = [
            ("protocol", options.get("protocol"), (None, *PROTOCOLS)),
            ("best_metric", options["best_metric"], BEST_METRICS),
            ("sorting", options["sorting"], SORTINGS),
        ]
        for key, value, allowed in checks:
            if value not in allowed:
                raise ValueError(f"unknown --{key}={value}; expected one of {allowed}")
        self.targets = parse_test_corpora(options.get("test_corpora"))
        fold = options.get("fold")
        if fold == CROSS_CORPUS and not self.targets:
            raise ValueError(f"--fold={CROSS_CORPUS} runs the cross-corpus stage only: give "
                             "--test_corpora=name:/path/to/corpus[,...] too")
        if fold is not None and fold != CROSS_CORPUS and (not _is_int(fold) or fold < 1):
            raise ValueError(f"--fold must be a fold number from 1 (or {CROSS_CORPUS}), "
                             f"got {fold!r}")
        batch_size = options.get("batch_size")
        if not _is_int(batch_size) or batch_size < 1:
            raise ValueError(f"--batch_size must be a whole number >= 1, got {batch_size!r}")
        lr = options.get("lr")
        if not _is_number(lr) or not lr > 0:
            raise ValueError(f"--lr must be a number > 0, got {lr!r}")
        epochs = options.get("number_of_epochs")
        if not _is_int(epochs) or epochs < 0 or (epochs == 0 and not self.test_only):
            raise ValueError(
                f"--number_of_epochs must be a whole number >= 1, got {epochs!r} (0 would "
                "test an untrained model; --test_only evaluates the saved checkpoints)"
            )
        overwrite = options.get("overwrite", False)
        if not isinstance(overwrite, bool):
            raise ValueError(f"--overwrite must be True or False, got {overwrite!r}")
        if overwrite and self.test_only:
            raise ValueError(
                "--overwrite=True with --test_only would move aside the checkpoints to test"
            )
        self._check_targets()

    def _check_targets(self):
        """The cross-corpus targets' folders, and features folders where needed."""
        precomputed = str(self.options.get("upstream")).lower() == "precomputed"
        for target in self.targets:
            if target.name == self.corpus:
                raise ValueError(f"--test_corpora: {target.name} is the training corpus; a "
                                 "cross-corpus target must be another corpus")
            if not os.path.isdir(target.data_folder):
                raise ValueError(f"--test_corpora: the {target.name} folder "
                                 f"{target.data_folder} does not exist")
            if precomputed and not target.features_folder:
                raise ValueError(
                    f"--test_corpora: with --upstream=precomputed, give {target.name}'s "
                    f"features folder as a third field ({target.name}:{target.data_folder}:DIR)"
                )
            if target.features_folder and not precomputed:
                raise ValueError(
                    f"--test_corpora: {target.name} has a features folder "
                    f"({target.features_folder}), which only --upstream=precomputed reads; "
                    f"its features go through the feature cache otherwise"
                )
        if self.targets:  # fewer than two shared classes: an error now, not after the folds
            _ = self.cross_corpus_labels

    # ------------------------------------------------------------ fingerprint
    def fingerprint_of(self):
        """What produced this run: fold options, corpus content and hparams.

        Returns
        -------
        dict
            ``format``; ``fold_options`` and ``corpus_content``
            (:func:`~speechbrain_ptssnn.dataprep.prepare.preparation_fingerprint`:
            relative paths and sizes of the audio files, not the corpus's
            absolute path); ``hparams`` (:func:`hparams_fingerprint`: every
            key but :data:`RUN_MANAGEMENT_KEYS` and the fold options).
        """
        kwargs = self.prepare_kwargs()
        del kwargs["output_folder"], kwargs["data_root_placeholder"]
        preparation = preparation_fingerprint(self.corpus, **kwargs)
        hparams = hparams_fingerprint(self.hparams_file, self.overrides)
        return json.loads(json.dumps(
            {"format": FINGERPRINT_FORMAT, **preparation, "hparams": hparams},
            sort_keys=True, default=str,
        ))

    def _claim_output_folder(self):
        """Refuses a folder holding other results, or moves them aside; records the fingerprint."""
        folder = self.output_folder
        if self.options.get("overwrite"):
            aside = move_aside(folder, keep=self._kept_when_moving())
            if aside is not None:
                logger.warning("--overwrite=True: moved the old content of %s to %s", folder, aside)
        else:
            problem = self._mismatch()
            if problem:
                raise RunMismatchError(
                    f"refusing to run in {folder}: {problem}. Nothing in it was changed. Pass "
                    "another --output_folder to keep them, or --overwrite=True to move them "
                    f"aside (to {folder}/{PREVIOUS_PREFIX}<date>-<time>/) and start afresh."
                )
        if read_fingerprint(folder) != self.fingerprint:
            write_json(os.path.join(folder, FINGERPRINT_FILE), self.fingerprint, sort_keys=True)

    def _kept_when_moving(self):
        """A feature cache inside the output folder stays (it is keyed by its content)."""
        cache = self.options.get("cache_folder") or self.options.get("feature_cache_folder")
        return [os.path.abspath(cache)] if isinstance(cache, str) else []

    def _mismatch(self):
        """How the results in the run folder differ from this run's (None: they do not)."""
        folder = self.output_folder
        results = run_results(folder)
        if not results:
            return None
        recorded = read_fingerprint(folder)
        if recorded is None:
            shown = ", ".join(results[:2]) + (", ..." if len(results) > 2 else "")
            return (f"it holds {len(results)} results ({shown}) but no {FINGERPRINT_FILE} "
                    "saying what produced them (a folder of an older version?)")
        problems = fingerprint_differences(recorded, self.fingerprint)
        for fold in fold_folders(folder):
            name = os.path.basename(fold)
            if not any(result.startswith(name + "/") for result in results):
                continue
            own = read_fingerprint(fold)
            if own is None:
                problems.append(f"{name} has results but no {FINGERPRINT_FILE}")
            elif own != recorded and own != self.fingerprint:
                problems += [f"{name}: {difference}"
                             for difference in fingerprint_differences(own, self.fingerprint)]
        if problems:
            return f"it holds results made with other options ({'; '.join(problems)})"
        return None

    def prepare_kwargs(self):
        """Keyword arguments of the corpus's ``prepare_<corpus>`` function."""
        options = self.options
        return {
            "data_folder": options["data_folder"],
            "output_folder": self.output_folder,
            "protocol": options.get("protocol") or None,
            "n_folds": options.get("n_folds"),
            "valid_ratio": options["valid_ratio"],
            "seed": options["fold_seed"],
            "emotions": options.get("emotions"),
            "partitions": options.get("partitions") or None,
            "data_root_placeholder": bool(options.get("data_root_placeholder")),
        }

    @property
    def labels(self):
        """The classes of the prepared folds, in encoder order."""
        recorded = read_json(os.path.join(self.output_folder, OPTIONS_FILE))
        return list(recorded["options"]["emotions"])

    def folds(self):
        """The fold numbers this run covers (``--fold K`` or all)."""
        n_folds = len(fold_folders(self.output_folder))
        fold = self.options.get("fold")
        if fold == CROSS_CORPUS:
            return []
        if fold is None:
            return list(range(1, n_folds + 1))
        if not 1 <= fold <= n_folds:
            raise ValueError(
                f"--fold={fold} is out of range: this protocol has folds 1 to {n_folds}"
            )
        return [fold]

    def is_finished(self, fold):
        """Whether fold ``fold`` is done, so a rerun skips it (never with ``--test_only``).

        Only a fold trained with this run's fingerprint is skipped (the
        folder check of the constructor already refused any other).
        """
        folder = fold_folder(self.output_folder, fold)
        if self.test_only or not is_finished(folder):
            return False
        if self.fingerprint is not None and read_fingerprint(folder) != self.fingerprint:
            differences = fingerprint_differences(read_fingerprint(folder), self.fingerprint)
            raise RunMismatchError(
                f"fold {fold} of {self.output_folder} was finished with other options "
                f"({'; '.join(differences) or f'no {FINGERPRINT_FILE}'}): not skipping it "
                "as if it were this run's"
            )
        logger.info("fold %d is finished (metrics.json exists): skipping", fold)
        return True

    def load_hparams(self, fold):
        """The hparams of one fold, built, with its snapshot written beside its results.

        Arguments
        ---------
        fold : int
            The fold number (the ``fold`` key, which places the fold's folders).

        Returns
        -------
        dict
            The loaded hparams, plus ``tensorboard_logger`` with
            ``use_tensorboard: True``.

        Raises
        ------
        ValueError
            With ``--test_only``, if the fold has no checkpoint.
        """
        return self._load({"fold": fold}, f"fold {fold}")

    def _load(self, fold_overrides, name):
        """The built hparams of a fold (or of the cross-corpus model), with their snapshot."""
        hparams = self._build(fold_overrides)
        if self.test_only and not hparams["checkpointer"].list_checkpoints():
            raise ValueError(
                f"--test_only: {name} has no checkpoint in {hparams['save_folder']}"
            )
        if if_main_process():
            with open(self.hparams_file, encoding="utf-8") as stream:
                resolved = resolve_references(stream, {**self.overrides, **fold_overrides})
            path = os.path.join(hparams["fold_folder"], HPARAMS_FILE)
            write_text(path, f"# {os.path.abspath(self.hparams_file)}, {name}\n"
                             f"{resolved.getvalue()}")
            if self.fingerprint is not None:
                write_json(os.path.join(hparams["fold_folder"], FINGERPRINT_FILE),
                           self.fingerprint, sort_keys=True)
        hparams["tensorboard_logger"] = None
        if hparams.get("use_tensorboard"):
            from speechbrain.utils.train_logger import TensorboardLogger

            folder = os.path.join(hparams["fold_folder"], "tensorboard")
            hparams["tensorboard_logger"] = TensorboardLogger(folder)
        return hparams

    def _build(self, fold):
        """Builds the hparams of fold ``fold`` (a number, or a dict of fold overrides)."""
        fold_overrides = fold if isinstance(fold, dict) else {"fold": fold}
        with open(self.hparams_file, encoding="utf-8") as stream:
            return load_hyperpyyaml(stream, {**self.overrides, **fold_overrides})

    def _cross_corpus_overrides(self):
        """What places the cross-corpus model: its folder and its classes."""
        return {"fold": None, "fold_folder": cross_corpus_folder(self.output_folder),
                "n_classes": len(self.cross_corpus_labels)}

    @property
    def feature_source(self):
        """The upstream's features: a feature cache or precomputed files."""
        if self._feature_source is None:
            device = self.run_opts.get("device") or (
                "cuda:0" if torch.cuda.is_available() else "cpu"
            )
            options = self.options
            if isinstance(options.get("upstream"), Built):  # an upstream object
                options = self._build(self.folds()[0] if self.folds()
                                      else self._cross_corpus_overrides())
            self._feature_source = make_feature_source(options, device=device)
        return self._feature_source

    def wav_paths(self):
        """Every audio file of the prepared folds (fold 1 holds them all)."""
        paths = []
        for split in SPLITS:
            manifest = read_manifest(os.path.join(self.output_folder, "fold_1", f"{split}.json"),
                                     data_root=self.options["data_folder"])
            paths.extend(entry["wav"] for entry in manifest.values())
        return sorted(paths)

    def fill_features(self):
        """Computes (or checks) the features of every utterance, once."""
        self.feature_source.fill(self.wav_paths())
        size = self.feature_source.load(self.wav_paths()[0]).shape[-1]
        if size != self.options["input_size"]:
            raise ValueError(
                f"the {self.options['upstream']} features have {size} channels but "
                f"input_size is {self.options['input_size']}: pass --input_size={size}"
            )

    def fold_finished(self, fold, brain):
        """After a fold's test: its temperature (:meth:`calibrate`), and its efficiency
        report with ``efficiency_report: True`` (main process only)."""
        if if_main_process():
            self.calibrate(fold, brain)
        if brain.hparams.efficiency_report and if_main_process():
            from speechbrain_ptssnn.report import efficiency_report

            efficiency_report(self.output_folder, fold=fold, device=str(brain.device))

    def calibrate(self, fold, brain):
        """Fits the fold's temperature on its validation part; writes ``calibration.json``.

        One scalar ``T`` (:func:`~speechbrain_ptssnn.metrics.fit_temperature`:
        the NLL of ``softmax(logits / T)`` on the validation part, with the
        checkpoint the test used), and the NLL and ECE (10 bins) of the
        validation and test parts before and after it. The test predictions
        (``predictions.csv``, ``metrics.json``) are not changed: the
        temperature rescales probabilities, never the decision. The export
        stores ``T`` with the model.

        Returns
        -------
        dict
            What was written.
        """
        hparams = vars(brain.hparams)
        # the fold's filled encoder, read directly: dataio_prep's load_or_create would wait at
        # a DDP barrier that the other processes never reach (this runs on the main one only)
        datasets = {
            split: manifest_dataset(
                os.path.join(hparams["fold_folder"], f"{split}.json"), self.feature_source,
                hparams["label_encoder"], data_root=hparams.get("data_folder"),
            )
            for split in ("valid", "test")
        }
        options = hparams.get("dataloader_options") or {}
        valid_logits, valid_targets = brain.collect_logits(datasets["valid"], options)
        test_logits, test_targets = brain.collect_logits(datasets["test"], options)
        temperature = fit_temperature(valid_logits, valid_targets)
        result = {
            "temperature": temperature,
            "fitted_on": "valid",
            "bins": 10,
            "valid": calibration_summary(valid_logits, valid_targets, temperature),
            "test": calibration_summary(test_logits, test_targets, temperature),
        }
        write_json(os.path.join(fold_folder(self.output_folder, fold), CALIBRATION_FILE), result)
        logger.info("fold %d: temperature %.4g (test ECE %.2f %% -> %.2f %%)", fold, temperature,
                    result["test"]["ece_before"], result["test"]["ece_after"])
        return result

    def write_summary(self):
        """Writes the summary of every finished fold (main process only)."""
        if not if_main_process():
            return
        hparams = self._build(self.folds()[0] if self.folds() else self._cross_corpus_overrides())
        trainable = sum(p.numel() for p in hparams["adapter"].parameters() if p.requires_grad)
        scalar = (str, int, float, bool, type(None))
        plain = {
            key: value
            for key, value in self.options.items()
            if not key.startswith("__")
            and (
                isinstance(value, scalar)
                or isinstance(value, list) and all(isinstance(item, scalar) for item in value)
            )
        }
        configuration = {
            "hparams_file": os.path.abspath(self.hparams_file),
            "overrides": self.overrides,
            "trainable_parameters": trainable,
            "hparams": plain,
        }
        if self.targets:
            configuration["cross_corpus"] = {
                "train_corpus": self.corpus, "labels": self.cross_corpus_labels,
                "targets": {t.name: t.data_folder for t in self.targets},
            }
        write_summary(self.output_folder, self.labels, configuration, leakage=self.leakage)

    # ------------------------------------------------------------------
    # Cross-corpus stage (--test_corpora)
    # ------------------------------------------------------------------

    @property
    def cross_corpus_labels(self):
        """The classes the cross-corpus model is trained and scored on.

        Those of the training corpus's classes (its ``emotions``) that every
        target of ``--test_corpora`` has, in the shared vocabulary's order.
        """
        emotions = select_emotions(self.corpus, self.options.get("emotions"))
        return shared_emotions(emotions, self.targets)

    def _prepare_cross_corpus(self):
        """Writes the cross-corpus manifests and fills every target's features (main process)."""
        prepared = prepare_cross_corpus(
            self.corpus, self.options["data_folder"], self.targets, self.output_folder,
            self.cross_corpus_labels, self.options["valid_ratio"], self.options["fold_seed"],
        )
        for target in self.targets:
            source = self._target_source(target)
            wavs = sorted(entry["wav"] for entry in read_manifest(
                os.path.join(prepared["targets"][target.name], "test.json")).values())
            source.fill(wavs)
            size = source.load(wavs[0]).shape[-1]
            if size != self.options["input_size"]:
                raise ValueError(
                    f"the {target.name} features have {size} channels but input_size is "
                    f"{self.options['input_size']}: both corpora need the same upstream"
                )

    def _target_source(self, target):
        """A target's features: its precomputed folder, or the run's own feature source."""
        if str(self.options.get("upstream")).lower() != "precomputed":
            return self.feature_source
        options = {**self.options, "features_folder": target.features_folder,
                   "data_folder": target.data_folder}
        return make_feature_source(options)

    def cross_corpus_targets(self):
        """The targets of ``--test_corpora`` still to test (all of them with ``--test_only``).

        Prepares the cross-corpus manifests and the targets' features first
        (main process only). Each target has ``name``, ``folder`` (where
        :meth:`PTSSNNBrain.write_test_results` writes its results) and
        ``dataset(label_encoder)`` (its test set).

        Returns
        -------
        list of CrossCorpusTest
            Empty without ``--test_corpora``.
        """
        if not self.targets:
            return []
        run_on_main(self._prepare_cross_corpus)
        tests = []
        for target in self.targets:
            folder = cross_corpus_target_folder(self.output_folder, target.name)
            if not self.test_only and is_finished(folder):
                logger.info("cross-corpus target %s is finished (metrics.json exists): "
                            "skipping", target.name)
                continue
            tests.append(CrossCorpusTest(target.name, folder, self._target_source(target)))
        return tests

    def cross_corpus_brain(self, brain_class):
        """The cross-corpus model, trained once (on first call) and kept.

        Built like a fold's (the hparams with ``fold_folder`` at
        ``<output_folder>/cross_corpus`` and ``n_classes`` the shared classes),
        fitted on the training corpus's shared classes with its speaker-disjoint
        validation set (resuming from its checkpoints like a fold; not fitted
        with ``--test_only``).

        Arguments
        ---------
        brain_class : type
            The recipe's Brain (``PTSSNNBrain``).

        Returns
        -------
        speechbrain.Brain
            Ready for ``evaluate`` with the best checkpoint.
        """
        if self._cross_corpus is not None:
            return self._cross_corpus
        hparams = self._load(self._cross_corpus_overrides(), "cross-corpus model")
        labels = self.cross_corpus_labels
        encoder = hparams["label_encoder"]
        encoder.load_or_create(os.path.join(hparams["fold_folder"], LABEL_ENCODER),
                               from_iterables=[labels])
        encoder.expect_len(len(labels))
        datasets = {
            split: manifest_dataset(os.path.join(hparams["fold_folder"], f"{split}.json"),
                                    self.feature_source, encoder)
            for split in ("train", "valid")
        }
        if hparams["sorting"] != "random":
            datasets["train"] = datasets["train"].filtered_sorted(
                sort_key="duration", reverse=hparams["sorting"] == "descending"
            )
        brain = brain_class(modules=hparams["modules"], opt_class=hparams["opt_class"],
                            hparams=hparams, run_opts=self.run_opts,
                            checkpointer=hparams["checkpointer"])
        if not self.test_only:
            brain.fit(brain.hparams.epoch_counter, datasets["train"], datasets["valid"],
                      train_loader_kwargs=hparams["train_dataloader_options"],
                      valid_loader_kwargs=hparams["dataloader_options"])
        self._cross_corpus = brain
        return brain


class CrossCorpusTest:
    """One target of the cross-corpus stage: its name, results folder and test set.

    Arguments
    ---------
    name : str
        The target corpus.
    folder : str
        ``<output_folder>/cross_corpus/<name>`` (its ``test.json``; its results go there).
    feature_source : object
        The target's features (``load(wav)``).
    """

    def __init__(self, name, folder, feature_source):
        self.name = name
        self.folder = folder
        self.feature_source = feature_source

    def __repr__(self):
        return f"CrossCorpusTest({self.name!r}, {self.folder!r})"

    def dataset(self, label_encoder):
        """The target's test set, encoded with the cross-corpus model's ``label_encoder``."""
        return manifest_dataset(os.path.join(self.folder, "test.json"), self.feature_source,
                                label_encoder)
