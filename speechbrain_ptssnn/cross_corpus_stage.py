"""The cross-corpus stage of a run (``--test_corpora``).

After the folds, one more model is trained on the training corpus's classes
that every target corpus shares (in ``<output_folder>/cross_corpus``, a fold
folder of its own) and tested on each target corpus as a whole
(``cross_corpus/<name>/``). :class:`CrossCorpusStage` checks the targets
when the run starts, prepares their manifests and features, and trains that
model once; :class:`CrossCorpusTest` is one target's test set.
"""

import logging
import os

from speechbrain.utils.distributed import run_on_main

from speechbrain_ptssnn.dataio import manifest_dataset
from speechbrain_ptssnn.dataprep.cross_corpus import prepare_cross_corpus, shared_emotions
from speechbrain_ptssnn.dataprep.manifest import read_manifest
from speechbrain_ptssnn.dataprep.prepare import select_emotions
from speechbrain_ptssnn.features import make_feature_source
from speechbrain_ptssnn.runs import (
    LABEL_ENCODER,
    cross_corpus_folder,
    cross_corpus_target_folder,
    is_finished,
)

logger = logging.getLogger(__name__)


class CrossCorpusStage:
    """The cross-corpus model of a run and its targets.

    Arguments
    ---------
    run : Experiment
        The run it belongs to: its ``corpus``, ``options``, ``output_folder``
        (read when used), ``test_only``, ``run_opts``, ``feature_source`` and
        ``load_built(fold_overrides, name)`` (hparams built with their
        snapshot written).
    targets : list of CrossCorpusTarget
        The parsed ``--test_corpora`` (empty: no cross-corpus stage).
    """

    def __init__(self, run, targets):
        self.run = run
        self.targets = targets
        self._brain = None

    @property
    def labels(self):
        """The classes the cross-corpus model is trained and scored on.

        Those of the training corpus's classes (its ``emotions``) that every
        target of ``--test_corpora`` has, in the shared vocabulary's order.
        """
        emotions = select_emotions(self.run.corpus, self.run.options.get("emotions"))
        return shared_emotions(emotions, self.targets)

    def check(self):
        """The targets' folders, and features folders where needed.

        Raises
        ------
        ValueError
            For a target that is the training corpus or has no folder, a
            features folder missing (``--upstream=precomputed``) or given
            where it is not read, fewer than two shared classes.
        """
        precomputed = str(self.run.options.get("upstream")).lower() == "precomputed"
        for target in self.targets:
            if target.name == self.run.corpus:
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
            _ = self.labels

    def overrides(self):
        """What places the cross-corpus model: its folder and its classes."""
        return {"fold": None, "fold_folder": cross_corpus_folder(self.run.output_folder),
                "n_classes": len(self.labels)}

    def target_source(self, target):
        """A target's features: its precomputed folder, or the run's own feature source."""
        options = self.run.options
        if str(options.get("upstream")).lower() != "precomputed":
            return self.run.feature_source
        options = {**options, "features_folder": target.features_folder,
                   "data_folder": target.data_folder}
        return make_feature_source(options)

    def _prepare(self):
        """Writes the cross-corpus manifests and fills every target's features (main process)."""
        options = self.run.options
        prepared = prepare_cross_corpus(
            self.run.corpus, options["data_folder"], self.targets, self.run.output_folder,
            self.labels, options["valid_ratio"], options["fold_seed"],
        )
        for target in self.targets:
            source = self.target_source(target)
            wavs = sorted(entry["wav"] for entry in read_manifest(
                os.path.join(prepared["targets"][target.name], "test.json")).values())
            source.fill(wavs)
            size = source.load(wavs[0]).shape[-1]
            if size != options["input_size"]:
                raise ValueError(
                    f"the {target.name} features have {size} channels but input_size is "
                    f"{options['input_size']}: both corpora need the same upstream"
                )

    def tests(self):
        """The targets still to test (all of them with ``--test_only``).

        Prepares the cross-corpus manifests and the targets' features first
        (main process only).

        Returns
        -------
        list of CrossCorpusTest
            Empty without ``--test_corpora``.
        """
        if not self.targets:
            return []
        run_on_main(self._prepare)
        tests = []
        for target in self.targets:
            folder = cross_corpus_target_folder(self.run.output_folder, target.name)
            if not self.run.test_only and is_finished(folder):
                logger.info("cross-corpus target %s is finished (metrics.json exists): "
                            "skipping", target.name)
                continue
            tests.append(CrossCorpusTest(target.name, folder, self.target_source(target)))
        return tests

    def brain(self, brain_class):
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
            Ready for ``evaluate`` (which loads the tested checkpoint).
        """
        if self._brain is not None:
            return self._brain
        hparams = self.run.load_built(self.overrides(), "cross-corpus model")
        labels = self.labels
        encoder = hparams["label_encoder"]
        encoder.load_or_create(os.path.join(hparams["fold_folder"], LABEL_ENCODER),
                               from_iterables=[labels])
        encoder.expect_len(len(labels))
        datasets = {
            split: manifest_dataset(os.path.join(hparams["fold_folder"], f"{split}.json"),
                                    self.run.feature_source, encoder)
            for split in ("train", "valid")
        }
        if hparams["sorting"] != "random":
            datasets["train"] = datasets["train"].filtered_sorted(
                sort_key="duration", reverse=hparams["sorting"] == "descending"
            )
        brain = brain_class(modules=hparams["modules"], opt_class=hparams["opt_class"],
                            hparams=hparams, run_opts=self.run.run_opts,
                            checkpointer=hparams["checkpointer"])
        if not self.run.test_only:
            brain.fit(brain.hparams.epoch_counter, datasets["train"], datasets["valid"],
                      train_loader_kwargs=hparams["train_dataloader_options"],
                      valid_loader_kwargs=hparams["dataloader_options"])
        self._brain = brain
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
