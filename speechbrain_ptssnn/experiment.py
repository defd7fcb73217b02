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
from speechbrain.utils.distributed import if_main_process, run_on_main

from speechbrain_ptssnn.dataio import SORTINGS, manifest_dataset
from speechbrain_ptssnn.dataprep.cross_corpus import (
    parse_test_corpora,
    prepare_cross_corpus,
    shared_emotions,
)
from speechbrain_ptssnn.dataprep.emobox import partition_emotions
from speechbrain_ptssnn.dataprep.folds import PROTOCOLS
from speechbrain_ptssnn.dataprep.manifest import read_manifest
from speechbrain_ptssnn.dataprep.prepare import select_emotions
from speechbrain_ptssnn.features import make_feature_source
from speechbrain_ptssnn.runs import (
    BEST_METRICS,
    CROSS_CORPUS,
    HPARAMS_FILE,
    LABEL_ENCODER,
    OPTIONS_FILE,
    SPLITS,
    cross_corpus_folder,
    cross_corpus_target_folder,
    fold_folder,
    fold_folders,
    is_finished,
    read_json,
)
from speechbrain_ptssnn.summary import write_summary
from speechbrain_ptssnn.upstreams.leakage import leakage_sentence, upstream_leakage

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
        self._cross_corpus = None
        self.leakage = upstream_leakage(
            self.options.get("upstream"), self.options.get("upstream_source"),
            [self.corpus, *(t.name for t in self.targets)],
        )
        if self.leakage:
            logger.warning("%s", leakage_sentence(self.leakage))

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
        if fold is not None and fold != CROSS_CORPUS and (not isinstance(fold, int) or fold < 1):
            raise ValueError(f"--fold must be a fold number from 1 (or {CROSS_CORPUS}), "
                             f"got {fold!r}")
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
            os.makedirs(hparams["fold_folder"], exist_ok=True)
            with open(path, "w", encoding="utf-8") as stream:
                stream.write(f"# {os.path.abspath(self.hparams_file)}, {name}\n"
                             f"{resolved.getvalue()}")
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
        """After a fold's test: its efficiency report, with ``efficiency_report: True``."""
        if brain.hparams.efficiency_report and if_main_process():
            from speechbrain_ptssnn.report import efficiency_report

            efficiency_report(self.output_folder, fold=fold, device=str(brain.device))

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
