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
:mod:`speechbrain_ptssnn.run_fingerprint`): the fold options, the corpus's content and
the hparams that shape the model or its training. Creating an
:class:`Experiment` checks the folder first: a rerun whose fingerprint differs
from the one of the results already there is refused before anything is
written (:class:`~speechbrain_ptssnn.runs.RunMismatchError`, naming the keys
that differ), unless ``--overwrite=True``, which moves the old content aside
to ``previous-<date>-<time>/``. A fold whose ``metrics.json`` exists (and whose
fingerprint matches) is finished and skipped on a rerun; an unfinished one
resumes from its last checkpoint (SpeechBrain's ``Checkpointer``). The run
layout is described in :mod:`speechbrain_ptssnn.runs`; the cross-corpus stage
(``--test_corpora``) in :mod:`speechbrain_ptssnn.cross_corpus_stage`, the
temperature each fold gets after its test in :mod:`speechbrain_ptssnn.calibration`.
"""

import logging
import math
import numbers
import os

import torch
from hyperpyyaml import load_hyperpyyaml, resolve_references
from speechbrain.utils.distributed import get_rank, if_main_process

from speechbrain_ptssnn.atomic import write_json, write_text
from speechbrain_ptssnn.calibration import calibrate_fold
from speechbrain_ptssnn.cross_corpus_stage import CrossCorpusStage, CrossCorpusTest
from speechbrain_ptssnn.dataio import SORTINGS
from speechbrain_ptssnn.dataprep.cross_corpus import parse_test_corpora
from speechbrain_ptssnn.dataprep.emobox import partition_emotions
from speechbrain_ptssnn.dataprep.folds import PROTOCOLS
from speechbrain_ptssnn.dataprep.manifest import read_manifest
from speechbrain_ptssnn.dataprep.prepare import select_emotions
from speechbrain_ptssnn.features import make_feature_source
from speechbrain_ptssnn.run_fingerprint import (
    FINGERPRINT_FORMAT,
    FOLD_OPTION_KEYS,
    RUN_MANAGEMENT_KEYS,
    claim_output_folder,
    hparams_fingerprint,
    run_fingerprint,
)
from speechbrain_ptssnn.run_options import (
    Built,
    default_distributed_backend,
    parse_overrides,
    plain_hparams,
)
from speechbrain_ptssnn.runs import (
    BEST_METRICS,
    CROSS_CORPUS,
    FINGERPRINT_FILE,
    HPARAMS_FILE,
    OPTIONS_FILE,
    SPLITS,
    RunMismatchError,
    fingerprint_differences,
    fold_folder,
    fold_folders,
    is_finished,
    read_fingerprint,
    read_json,
)
from speechbrain_ptssnn.summary import write_summary
from speechbrain_ptssnn.upstreams.leakage import leakage_sentence, upstream_leakage

#: names importable from here (those of run_options, run_fingerprint and
#: cross_corpus_stage are re-exported)
__all__ = [
    "FINGERPRINT_FORMAT", "FOLD_OPTION_KEYS", "RUN_MANAGEMENT_KEYS", "Built",
    "CrossCorpusTest", "Experiment", "default_distributed_backend", "hparams_fingerprint",
    "parse_overrides", "plain_hparams",
]

logger = logging.getLogger(__name__)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


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
        self.leakage = upstream_leakage(
            self.options.get("upstream"), self.options.get("upstream_source"),
            [self.corpus, *(t.name for t in self.targets)],
        )
        if self.leakage:
            logger.warning("%s", leakage_sentence(self.leakage))
        self.fingerprint = None
        if _is_main_process():  # the other ranks wait for it in run_on_main(prepare_...)
            self.fingerprint = self.fingerprint_of()
            claim_output_folder(self.output_folder, self.fingerprint,
                                overwrite=self.options.get("overwrite"),
                                kept=self._kept_when_moving())

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
        self.cross_corpus = CrossCorpusStage(self, parse_test_corpora(options.get("test_corpora")))
        self.targets = self.cross_corpus.targets
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
        self.cross_corpus.check()

    def fingerprint_of(self):
        """What produced this run (:func:`~speechbrain_ptssnn.run_fingerprint.run_fingerprint`).

        Returns
        -------
        dict
            ``format``, ``fold_options``, ``corpus_content`` and ``hparams``.
        """
        return run_fingerprint(self.corpus, self.hparams_file, self.overrides,
                               self.prepare_kwargs())

    def _kept_when_moving(self):
        """A feature cache inside the output folder stays (it is keyed by its content)."""
        cache = self.options.get("cache_folder") or self.options.get("feature_cache_folder")
        return [os.path.abspath(cache)] if isinstance(cache, str) else []

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
        return self.load_built({"fold": fold}, f"fold {fold}")

    def load_built(self, fold_overrides, name):
        """The built hparams of a fold (or of the cross-corpus model), with their snapshot.

        Arguments
        ---------
        fold_overrides : dict
            What places the fold (``{"fold": k}``, or the cross-corpus
            model's folder and classes).
        name : str
            The fold's name in messages and in the snapshot's first line.

        Returns
        -------
        dict
            As :meth:`load_hparams`.
        """
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
                                      else self.cross_corpus.overrides())
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
        """Fits the fold's temperature and writes ``calibration.json``
        (:func:`~speechbrain_ptssnn.calibration.calibrate_fold`).

        Returns
        -------
        dict
            What was written.
        """
        return calibrate_fold(brain, self.feature_source, self.output_folder, fold)

    def write_summary(self):
        """Writes the summary of every finished fold (main process only)."""
        if not if_main_process():
            return
        hparams = self._build(self.folds()[0] if self.folds() else self.cross_corpus.overrides())
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
    # Cross-corpus stage (--test_corpora): see CrossCorpusStage
    # ------------------------------------------------------------------

    @property
    def cross_corpus_labels(self):
        """The classes of the cross-corpus model (:attr:`CrossCorpusStage.labels`)."""
        return self.cross_corpus.labels

    def _target_source(self, target):
        """A target's features (:meth:`CrossCorpusStage.target_source`)."""
        return self.cross_corpus.target_source(target)

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
        return self.cross_corpus.tests()

    def cross_corpus_brain(self, brain_class):
        """The cross-corpus model, trained once (on first call) and kept
        (:meth:`CrossCorpusStage.brain`).

        Arguments
        ---------
        brain_class : type
            The recipe's Brain (``PTSSNNBrain``).

        Returns
        -------
        speechbrain.Brain
            Ready for ``evaluate`` (which loads the tested checkpoint).
        """
        return self.cross_corpus.brain(brain_class)
