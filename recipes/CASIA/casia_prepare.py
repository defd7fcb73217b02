#!/usr/bin/env python3
"""Data preparation of CASIA for the PTS-SNN recipes.

Writes SpeechBrain JSON manifests to
``<output_folder>/fold_<k>/{train,valid,test}.json``; the work is done by
:func:`speechbrain_ptssnn.dataprep.prepare.prepare_casia`,
which training scripts import from here or from the package.

Usage::

    python recipes/CASIA/casia_prepare.py --data_folder /path/to/casia \
        --output_folder results/casia/data [--protocol {stratified,loso}] \
        [--n_folds N] [--valid_ratio R] [--seed S] [--emotions E ... | all]
"""

from speechbrain_ptssnn.dataprep.cli import main
from speechbrain_ptssnn.dataprep.prepare import prepare_casia

__all__ = ["prepare_casia"]

if __name__ == "__main__":
    main("casia")
