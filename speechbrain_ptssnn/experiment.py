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

A fold whose ``metrics.json`` exists is finished and skipped on a rerun; an
unfinished one resumes from its last checkpoint (SpeechBrain's
``Checkpointer``). The run layout is described in :mod:`speechbrain_ptssnn.runs`.
"""

import dataclasses
import logging
import os

import torch
import yaml
from hyperpyyaml import load_hyperpyyaml, resolve_references
from speechbrain.utils.distributed import if_main_process

from speechbrain_ptssnn.atomic import write_json
from speechbrain_ptssnn.dataio import SORTINGS, dataio_prep
from speechbrain_ptssnn.dataprep.folds import PROTOCOLS
from speechbrain_ptssnn.dataprep.manifest import read_manifest
from speechbrain_ptssnn.dataprep.prepare import select_emotions
from speechbrain_ptssnn.features import make_feature_source
from speechbrain_ptssnn.metrics import calibration_summary, fit_temperature
from speechbrain_ptssnn.runs import (
    BEST_METRICS,
    CALIBRATION_FILE,
    HPARAMS_FILE,
    OPTIONS_FILE,
    SPLITS,
    fold_folder,
    fold_folders,
    is_finished,
    read_json,
)
from speechbrain_ptssnn.summary import write_summary

logger = logging.getLogger(__name__)



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


def parse_overrides(overrides):
    """Command-line overrides as a dict (``sb.parse_arguments`` gives YAML text).

    Example
    -------
    >>> parse_overrides("data_folder: /data\\nfold: 2\\n")
    {'data_folder': '/data', 'fold': 2}
    """
    if isinstance(overrides, dict):
        return dict(overrides)
    return yaml.safe_load(overrides or "") or {}


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
        an unknown option value or a fold index out of range.
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
        self._check_options()
        self.output_folder = self.options["output_folder"]
        self.test_only = bool(self.run_opts.get("test_only"))
        self._feature_source = None

    def _set_n_classes(self):
        """``n_classes`` follows the classes the preparation will keep."""
        labels = select_emotions(self.corpus, self.overrides.get("emotions"))
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
        fold = options.get("fold")
        if fold is not None and (not isinstance(fold, int) or fold < 1):
            raise ValueError(f"--fold must be a fold number from 1, got {fold!r}")

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
        if fold is None:
            return list(range(1, n_folds + 1))
        if not 1 <= fold <= n_folds:
            raise ValueError(
                f"--fold={fold} is out of range: this protocol has folds 1 to {n_folds}"
            )
        return [fold]

    def is_finished(self, fold):
        """Whether fold ``fold`` is done, so a rerun skips it (never with ``--test_only``)."""
        if self.test_only or not is_finished(fold_folder(self.output_folder, fold)):
            return False
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
        hparams = self._build(fold)
        if self.test_only and not hparams["checkpointer"].list_checkpoints():
            raise ValueError(
                f"--test_only: fold {fold} has no checkpoint in {hparams['save_folder']}"
            )
        if if_main_process():
            with open(self.hparams_file, encoding="utf-8") as stream:
                resolved = resolve_references(stream, {**self.overrides, "fold": fold}).getvalue()
            path = os.path.join(hparams["fold_folder"], HPARAMS_FILE)
            with open(path, "w", encoding="utf-8") as stream:
                stream.write(f"# {os.path.abspath(self.hparams_file)}, fold {fold}\n{resolved}")
        hparams["tensorboard_logger"] = None
        if hparams.get("use_tensorboard"):
            from speechbrain.utils.train_logger import TensorboardLogger

            folder = os.path.join(hparams["fold_folder"], "tensorboard")
            hparams["tensorboard_logger"] = TensorboardLogger(folder)
        return hparams

    def _build(self, fold):
        with open(self.hparams_file, encoding="utf-8") as stream:
            return load_hyperpyyaml(stream, {**self.overrides, "fold": fold})

    @property
    def feature_source(self):
        """The upstream's features: a feature cache or precomputed files."""
        if self._feature_source is None:
            device = self.run_opts.get("device") or (
                "cuda:0" if torch.cuda.is_available() else "cpu"
            )
            options = self.options
            if isinstance(options.get("upstream"), Built):  # an upstream object
                options = self._build(self.folds()[0])
            self._feature_source = make_feature_source(options, device=device)
        return self._feature_source

    def wav_paths(self):
        """Every audio file of the prepared folds (fold 1 holds them all)."""
        paths = []
        for split in SPLITS:
            manifest = read_manifest(os.path.join(self.output_folder, "fold_1", f"{split}.json"))
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
        hparams = dict(vars(brain.hparams))
        datasets = dataio_prep(hparams, self.feature_source, self.labels)
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
        hparams = self._build(self.folds()[0])
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
        write_summary(self.output_folder, self.labels, configuration)
