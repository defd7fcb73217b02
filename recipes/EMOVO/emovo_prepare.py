#!/usr/bin/env python3
"""Data preparation of EMOVO for the PTS-SNN recipes.

Writes SpeechBrain JSON manifests to
``<output_folder>/fold_<k>/{train,valid,test}.json``; the work is done by
:func:`speechbrain_ptssnn.dataprep.prepare.prepare_emovo`,
which training scripts import from here or from the package.

Usage::

    python recipes/EMOVO/emovo_prepare.py --data_folder /path/to/emovo \
        --output_folder results/emovo/data [--protocol {stratified,loso}] \
        [--n_folds N] [--valid_ratio R] [--seed S] [--emotions E ... | all]
"""

from speechbrain_ptssnn.dataprep.cli import main
from speechbrain_ptssnn.dataprep.prepare import prepare_emovo

__all__ = ["prepare_emovo"]

if __name__ == "__main__":
    main("emovo")
