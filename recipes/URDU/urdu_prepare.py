#!/usr/bin/env python3
"""Data preparation of URDU for the PTS-SNN recipes.

Writes SpeechBrain JSON manifests to
``<output_folder>/fold_<k>/{train,valid,test}.json``; the work is done by
:func:`speechbrain_ptssnn.dataprep.prepare.prepare_urdu`,
which training scripts import from here or from the package.

Usage::

    python recipes/URDU/urdu_prepare.py --data_folder /path/to/urdu \
        --output_folder results/urdu/data [--protocol {stratified,loso}] \
        [--n_folds N] [--valid_ratio R] [--seed S] [--emotions E ... | all]
"""

from speechbrain_ptssnn.dataprep.cli import main
from speechbrain_ptssnn.dataprep.prepare import prepare_urdu

__all__ = ["prepare_urdu"]

if __name__ == "__main__":
    main("urdu")
