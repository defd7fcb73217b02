#!/usr/bin/env python3
"""Recipe for training and testing a PTS-SNN configuration on URDU, fold by fold.

    python recipes/URDU/train.py hparams/ptssnn.yaml --data_folder=/path/to/URDU

Defaults of this corpus: its 4 emotions, 10-fold stratified cross-validation
(--protocol=loso for leave-one-speaker-out). ``--fold=K`` runs one fold,
``--test_only`` re-evaluates the checkpoints; ``--test_corpora=urdu:/path/to/URDU``
adds a cross-corpus test (``--fold=cross_corpus``: only that); see README for every output.
"""

import sys

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main

from speechbrain_ptssnn.brain import PTSSNNBrain
from speechbrain_ptssnn.dataio import dataio_prep
from speechbrain_ptssnn.dataprep.prepare import prepare_urdu
from speechbrain_ptssnn.experiment import Experiment
from speechbrain_ptssnn.runs import checkpoint_key

if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    experiment = Experiment("urdu", hparams_file, overrides, run_opts)
    sb.utils.distributed.ddp_init_group(experiment.run_opts)
    sb.create_experiment_directory(
        experiment_directory=experiment.output_folder,
        hyperparams_to_save=hparams_file,
        overrides=experiment.overrides,
    )
    run_on_main(prepare_urdu, kwargs=experiment.prepare_kwargs())
    run_on_main(experiment.fill_features)

    for fold in experiment.folds():
        if experiment.is_finished(fold):
            continue
        hparams = experiment.load_hparams(fold)
        datasets = dataio_prep(hparams, experiment.feature_source, experiment.labels)
        brain = PTSSNNBrain(
            modules=hparams["modules"],
            opt_class=hparams["opt_class"],
            hparams=hparams,
            run_opts=experiment.run_opts,
            checkpointer=hparams["checkpointer"],
        )
        if not experiment.test_only:
            brain.fit(
                brain.hparams.epoch_counter,
                datasets["train"],
                datasets["valid"],
                train_loader_kwargs=hparams["train_dataloader_options"],
                valid_loader_kwargs=hparams["dataloader_options"],
            )
        brain.evaluate(
            datasets["test"],
            test_loader_kwargs=hparams["dataloader_options"],
            **checkpoint_key(hparams["best_metric"]),
        )
        brain.write_test_results()
        experiment.fold_finished(fold, brain)

    # --test_corpora: one model on the classes shared with every target, tested on each
    for target in experiment.cross_corpus_targets():
        brain = experiment.cross_corpus_brain(PTSSNNBrain)
        brain.evaluate(
            target.dataset(brain.hparams.label_encoder),
            test_loader_kwargs=brain.hparams.dataloader_options,
            **checkpoint_key(brain.hparams.best_metric),
        )
        brain.write_test_results(target.folder)

    experiment.write_summary()
