"""The temperature of a trained fold, fitted on its validation part.

After a fold's test, :func:`calibrate_fold` fits one scalar ``T`` so that
``softmax(logits / T)`` gives calibrated probabilities, and writes it with the
NLL and ECE before and after it to ``fold_<k>/calibration.json``. The export
stores ``T`` with the model; the test decisions are never changed.
"""

import logging
import os

from speechbrain_ptssnn.atomic import write_json
from speechbrain_ptssnn.dataio import manifest_dataset
from speechbrain_ptssnn.metrics import calibration_summary, fit_temperature
from speechbrain_ptssnn.runs import CALIBRATION_FILE, fold_folder

logger = logging.getLogger(__name__)


def calibrate_fold(brain, feature_source, output_folder, fold):
    """Fits the fold's temperature on its validation part; writes ``calibration.json``.

    One scalar ``T`` (:func:`~speechbrain_ptssnn.metrics.fit_temperature`:
    the NLL of ``softmax(logits / T)`` on the validation part, with the
    checkpoint the test used), and the NLL and ECE (10 bins) of the
    validation and test parts before and after it. The test predictions
    (``predictions.csv``, ``metrics.json``) are not changed: the
    temperature rescales probabilities, never the decision. The export
    stores ``T`` with the model. Runs on the main process only.

    Arguments
    ---------
    brain : PTSSNNBrain
        The fold's Brain, with the checkpoint its test used loaded.
    feature_source : object
        The run's features (``load(wav)``).
    output_folder : str
        The run folder.
    fold : int
        The fold number.

    Returns
    -------
    dict
        What was written.
    """
    hparams = vars(brain.hparams)
    # the fold's filled encoder, read directly: dataio_prep's load_or_create would wait at
    # a DDP barrier that the other processes never reach (this runs on the main one only)
    datasets = {
        split: manifest_dataset(
            os.path.join(hparams["fold_folder"], f"{split}.json"), feature_source,
            hparams["label_encoder"], data_root=hparams.get("data_folder"),
        )
        for split in ("valid", "test")
    }
    options = hparams.get("dataloader_options") or {}
    valid_logits, valid_targets = brain.collect_logits(datasets["valid"], options)
    test_logits, test_targets = brain.collect_logits(datasets["test"], options)
    temperature = fit_temperature(valid_logits, valid_targets)
    result = {
        "temperature": temperature,
        "fitted_on": "valid",
        "bins": 10,
        "valid": calibration_summary(valid_logits, valid_targets, temperature),
        "test": calibration_summary(test_logits, test_targets, temperature),
    }
    write_json(os.path.join(fold_folder(output_folder, fold), CALIBRATION_FILE), result)
    logger.info("fold %d: temperature %.4g (test ECE %.2f %% -> %.2f %%)", fold, temperature,
                result["test"]["ece_before"], result["test"]["ece_after"])
    return result
