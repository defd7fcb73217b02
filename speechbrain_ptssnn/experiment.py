"""Cross-validation of one hparams file on one corpus, as the recipes run it.

A recipe parses its command line, then::

    experiment = CrossValidation("emodb", hparams_file, overrides, run_opts)
    run_on_main(prepare_emodb, kwargs=experiment.prepare_kwargs())
    run_on_main(experiment.fill_features)
    experiment.run()

which writes::

    <output_folder>/fold_<k>/{train,valid,test}.json   the fold's manifests
    <output_folder>/fold_<k>/save/                      checkpoints (adapter only)
    <output_folder>/fold_<k>/train_log.txt              per-epoch losses and metrics
    <output_folder>/fold_<k>/tensorboard/               the same, with --use_tensorboard=True
    <output_folder>/fold_<k>/label_encoder.txt
    <output_folder>/fold_<k>/predictions.csv            one row per test utterance
    <output_folder>/fold_<k>/metrics.json               WA, UA, F1, recall, confusion
    <output_folder>/fold_<k>/efficiency.*               with --efficiency_report=True
    <output_folder>/summary.json, summary.md            every fold, mean and std
    <output_folder>/confusion.csv, confusion.png        summed over folds

A fold whose ``metrics.json`` exists is finished and skipped on a rerun; an
unfinished one resumes from its last checkpoint.
"""

import dataclasses
import json
import logging
import os

import torch
import yaml
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.distributed import if_main_process
from speechbrain.utils.train_logger import FileTrainLogger

from speechbrain_ptssnn.brain import PTSSNNBrain
from speechbrain_ptssnn.dataio import SORTINGS, dataio_prep, label_encoder_for
from speechbrain_ptssnn.dataprep.manifest import read_manifest
from speechbrain_ptssnn.dataprep.prepare import select_emotions
from speechbrain_ptssnn.features import make_feature_source
from speechbrain_ptssnn.runs import BEST_METRICS, OPTIONS_FILE, fold_folders
from speechbrain_ptssnn.summary import write_summary

logger = logging.getLogger(__name__)

PROTOCOLS = (None, "stratified", "loso")


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


class CrossValidation:
    """Runs every fold (or one) of a prepared corpus with one hparams file.

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
        Before anything is trained, for a missing ``data_folder``, an unknown
        option value or a fold index out of range.
    """

    def __init__(self, corpus, hparams_file, overrides, run_opts):
        self.corpus = corpus.lower()
        self.hparams_file = hparams_file
        self.overrides = parse_overrides(overrides)
        self.run_opts = run_opts
        if not self.overrides.get("data_folder"):
            raise ValueError(
                "--data_folder is required: the folder holding the "
                f"{corpus} corpus (e.g. --data_folder=/path/to/{corpus})"
            )
        self.overrides.setdefault("corpus", self.corpus)
        self._set_n_classes()
        self.hparams = self._load_hparams()
        self._check_options()
        self.output_folder = self.hparams["output_folder"]
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

    def _load_hparams(self, **extra):
        with open(self.hparams_file, encoding="utf-8") as stream:
            return load_hyperpyyaml(stream, {**self.overrides, **extra})

    def _check_options(self):
        hp = self.hparams
        checks = [
            ("protocol", hp.get("protocol"), PROTOCOLS),
            ("best_metric", hp["best_metric"], BEST_METRICS),
            ("sorting", hp["sorting"], SORTINGS),
        ]
        for key, value, allowed in checks:
            if value not in allowed:
                raise ValueError(f"unknown --{key}={value}; expected one of {allowed}")
        fold = hp.get("fold")
        if fold is not None and (not isinstance(fold, int) or fold < 1):
            raise ValueError(f"--fold must be a fold number from 1, got {fold!r}")

    def prepare_kwargs(self):
        """Keyword arguments of the corpus's ``prepare_<corpus>`` function."""
        hp = self.hparams
        return {
            "data_folder": hp["data_folder"],
            "output_folder": self.output_folder,
            "protocol": hp.get("protocol") or None,
            "n_folds": hp.get("n_folds"),
            "valid_ratio": hp["valid_ratio"],
            "seed": hp["fold_seed"],
            "emotions": hp.get("emotions"),
        }

    @property
    def labels(self):
        """The classes of the prepared folds, in encoder order."""
        with open(os.path.join(self.output_folder, OPTIONS_FILE), encoding="utf-8") as stream:
            return list(json.load(stream)["options"]["emotions"])

    def folds(self):
        """The fold numbers this run covers (``--fold K`` or all)."""
        n_folds = len(fold_folders(self.output_folder))
        fold = self.hparams.get("fold")
        if fold is None:
            return list(range(1, n_folds + 1))
        if not 1 <= fold <= n_folds:
            raise ValueError(f"--fold={fold} is out of range: this protocol has folds 1 to {n_folds}")
        return [fold]

    @property
    def feature_source(self):
        """The upstream's features: a feature cache or precomputed files."""
        if self._feature_source is None:
            device = self.run_opts.get("device") or ("cuda:0" if torch.cuda.is_available() else "cpu")
            self._feature_source = make_feature_source(self.hparams, device=device)
        return self._feature_source

    def wav_paths(self):
        """Every audio file of the prepared folds (fold 1 holds them all)."""
        paths = []
        for split in ("train", "valid", "test"):
            manifest = read_manifest(os.path.join(self.output_folder, "fold_1", f"{split}.json"))
            paths.extend(entry["wav"] for entry in manifest.values())
        return sorted(paths)

    def fill_features(self):
        """Computes (or checks) the features of every utterance, once."""
        self.feature_source.fill(self.wav_paths())

    def run(self):
        """Trains and tests each fold, then writes the summary."""
        folds = self.folds()
        labels = self.labels
        self._check_feature_size()
        for fold in folds:
            self.run_fold(fold, labels)
        if if_main_process():
            write_summary(self.output_folder, labels, self._configuration())

    def _check_feature_size(self):
        size = self.feature_source.load(self.wav_paths()[0]).shape[-1]
        if size != self.hparams["input_size"]:
            raise ValueError(
                f"the {self.hparams['upstream']} features have {size} channels but "
                f"input_size is {self.hparams['input_size']}: pass --input_size={size}"
            )

    def run_fold(self, fold, labels):
        """Trains (unless ``test_only``) and tests one fold."""
        folder = os.path.join(self.output_folder, f"fold_{fold}")
        test_only = bool(self.run_opts.get("test_only"))
        if os.path.exists(os.path.join(folder, "metrics.json")) and not test_only:
            logger.info("fold %d is finished (metrics.json exists): skipping", fold)
            return
        hp = self._load_hparams()
        checkpointer = Checkpointer(
            os.path.join(folder, "save"),
            recoverables={"adapter": hp["adapter"], "counter": hp["epoch_counter"]},
        )
        if test_only and not checkpointer.list_checkpoints():
            raise ValueError(f"--test_only: fold {fold} has no checkpoint in {folder}/save")
        brain = PTSSNNBrain(
            modules={"adapter": hp["adapter"]},
            opt_class=hp["opt_class"],
            hparams=dict(
                hp,
                labels=labels,
                train_logger=FileTrainLogger(os.path.join(folder, "train_log.txt")),
                tensorboard_logger=self._tensorboard_logger(hp, folder),
            ),
            run_opts=self.run_opts,
            checkpointer=checkpointer,
        )
        if if_main_process():
            label_encoder_for(labels).save(os.path.join(folder, "label_encoder.txt"))
        datasets = dataio_prep(folder, self.feature_source, labels, hp["sorting"])
        loader = {"batch_size": hp["batch_size"], "num_workers": hp["num_workers"]}
        if not test_only:
            logger.info("fold %d: training %d utterances", fold, len(datasets["train"]))
            brain.fit(
                hp["epoch_counter"],
                datasets["train"],
                datasets["valid"],
                train_loader_kwargs=dict(loader, shuffle=hp["sorting"] == "random"),
                valid_loader_kwargs=loader,
            )
        best = hp["best_metric"]
        key = {"min_key": best} if best == "loss" else {"max_key": best}
        brain.evaluate(datasets["test"], test_loader_kwargs=loader, **key)
        brain.write_test_results(folder)
        if hp.get("efficiency_report") and if_main_process():
            from speechbrain_ptssnn.report import efficiency_report

            efficiency_report(self.output_folder, fold=fold, device=str(brain.device))

    @staticmethod
    def _tensorboard_logger(hp, folder):
        if not hp.get("use_tensorboard"):
            return None
        from speechbrain.utils.train_logger import TensorboardLogger

        return TensorboardLogger(os.path.join(folder, "tensorboard"))

    def _configuration(self):
        hp = self.hparams
        trainable = sum(p.numel() for p in hp["adapter"].parameters() if p.requires_grad)
        scalar = (str, int, float, bool, type(None))
        plain = {
            key: value
            for key, value in hp.items()
            if not key.startswith("__")
            and (
                isinstance(value, scalar)
                or isinstance(value, list) and all(isinstance(item, scalar) for item in value)
            )
        }
        return {"hparams_file": os.path.abspath(self.hparams_file), "overrides": self.overrides,
                "trainable_parameters": trainable, "hparams": plain}
