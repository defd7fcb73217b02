#!/usr/bin/env python3
"""Trains and evaluates a PTS-SNN configuration on EMOVO, every fold.

    python recipes/EMOVO/train.py hparams/ptssnn.yaml --data_folder=/path/to/EMOVO

Defaults of this corpus: its 7 emotions, 10-fold stratified cross-validation
(--protocol=loso for leave-one-speaker-out). ``--fold=K`` runs one fold,
``--test_only`` re-evaluates the checkpoints; see README for every output.
"""

import sys

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main

from speechbrain_ptssnn.dataprep.prepare import prepare_emovo
from speechbrain_ptssnn.experiment import CrossValidation, default_distributed_backend

if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    run_opts = default_distributed_backend(run_opts)
    sb.utils.distributed.ddp_init_group(run_opts)
    experiment = CrossValidation("emovo", hparams_file, overrides, run_opts)
    sb.create_experiment_directory(
        experiment_directory=experiment.output_folder,
        hyperparams_to_save=hparams_file,
        overrides=experiment.overrides,
    )
    run_on_main(prepare_emovo, kwargs=experiment.prepare_kwargs())
    run_on_main(experiment.fill_features)
    experiment.run()
