#!/usr/bin/env python3
"""Data preparation of IEMOCAP for the PTS-SNN recipes.

Writes SpeechBrain JSON manifests to
``<output_folder>/fold_<k>/{train,valid,test}.json``; the work is done by
:func:`speechbrain_ptssnn.dataprep.prepare.prepare_iemocap`,
which training scripts import from here or from the package.

Usage::

    python recipes/IEMOCAP/iemocap_prepare.py --data_folder /path/to/iemocap \
        --output_folder results/iemocap/data [--protocol {stratified,loso}] \
        [--n_folds N] [--valid_ratio R] [--seed S] [--emotions E ... | all]
"""

from speechbrain_ptssnn.dataprep.cli import main
from speechbrain_ptssnn.dataprep.prepare import prepare_iemocap

__all__ = ["prepare_iemocap"]

if __name__ == "__main__":
    main("iemocap")
