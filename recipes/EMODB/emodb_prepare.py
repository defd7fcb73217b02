#!/usr/bin/env python3
"""Data preparation of EMODB for the PTS-SNN recipes.

Writes SpeechBrain JSON manifests to
``<output_folder>/fold_<k>/{train,valid,test}.json``; the work is done by
:func:`speechbrain_ptssnn.dataprep.prepare.prepare_emodb`,
which training scripts import from here or from the package.

Usage::

    python recipes/EMODB/emodb_prepare.py --data_folder /path/to/emodb \
        --output_folder results/emodb/data [--protocol {stratified,loso}] \
        [--n_folds N] [--valid_ratio R] [--seed S] [--emotions E ... | all]
"""

from speechbrain_ptssnn.dataprep.cli import main
from speechbrain_ptssnn.dataprep.prepare import prepare_emodb

__all__ = ["prepare_emodb"]

if __name__ == "__main__":
    main("emodb")
