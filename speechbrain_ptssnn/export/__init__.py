"""Turns a finished training run into a hub-ready model folder.

Usage::

    python -m speechbrain_ptssnn.export RUN_FOLDER OUT_FOLDER [--fold K | --best]
        [--repo_id USER/NAME] [--upstream KIND] [--upstream_source SRC]
        [--max_chunk_seconds S] [--force] [--onnx] [--nir]

``RUN_FOLDER`` is a recipe's ``output_folder`` (``hyperparams.yaml``,
``summary.json``, ``fold_<k>/...``). ``--fold K`` exports fold K;
``--best`` (the default) the finished fold with the highest **test** UA
(ties: the lowest fold number). Within the fold, the checkpoint is the one
training evaluated (:func:`speechbrain_ptssnn.runs.checkpoint_under_test`): the
average of the last epochs (``average_last > 0``, the default), else the best
by the run's ``best_metric`` on validation. ``OUT_FOLDER`` receives:

* ``hyperparams.yaml`` -- HyperPyYAML for
  :class:`~speechbrain_ptssnn.inference.EmotionRecognizer`: the upstream as the
  run used it (``upstream_source``, overridable), the adapter with the run's
  hparams, ``storage_dtype``, ``max_chunk_seconds``, the label encoder and a
  ``pretrainer`` that fetches the two files below from ``pretrained_path``
  (``--repo_id``, else the output folder; ``EmotionRecognizer.from_hparams``
  replaces it with its ``source``);
* ``adapter.ckpt`` -- the adapter's weights, a plain state dict
  (``torch.load(..., weights_only=True)`` reads it);
* ``label_encoder.txt`` -- the fold's label encoder;
* ``custom_interface.py`` -- for SpeechBrain's ``foreign_class``;
* ``README.md`` -- a model card: results, usage, licences, the trust warning,
  the calibration (and the ONNX check and NIR host/chip split when written);
* with ``--onnx``: ``adapter.onnx`` (:mod:`~speechbrain_ptssnn.export.onnx_export`),
  the model's adapter backend (``adapter_backend: onnx``, PLIF layers on the
  plain-PyTorch backend: inference needs neither SpikingJelly nor Numba);
* with ``--nir``: ``adapter.nir`` and ``adapter_nir.json``
  (:mod:`~speechbrain_ptssnn.export.nir_export`): the spiking part as a NIR
  graph, and what runs on the chip and on the host.

``hyperparams.yaml`` also holds ``temperature``, fitted on the fold's
validation part after training (``fold_<k>/calibration.json``; 1 without one).

The export checks that the weights load strictly into the adapter its
``hyperparams.yaml`` builds, and never pairs the adapter with an upstream it was
not trained on: ``--upstream`` of another kind than the run's is refused; a
run on precomputed features exports only with ``--upstream emotion2vec
--upstream_source SRC`` naming the model that computed them (recorded in the
model card); a known feature size other than the adapter's is refused.
Uploading is left to the hub's own tools, e.g. ``huggingface-cli upload
USER/NAME OUT_FOLDER .``.

Modules: :mod:`~speechbrain_ptssnn.export.run_export` (:func:`choose_fold`,
:func:`export_run`), :mod:`~speechbrain_ptssnn.export.hub_hparams` (the
exported ``hyperparams.yaml``), :mod:`~speechbrain_ptssnn.export.hub_yaml`
(tagged HyperPyYAML read and written with ruamel.yaml, nothing run),
:mod:`~speechbrain_ptssnn.export.model_card` (the ``README.md``),
:mod:`~speechbrain_ptssnn.export.hub_files` (the folder's file names and the
templates) and :mod:`~speechbrain_ptssnn.export.cli` (:func:`main`). The
templates ``templates/hyperparams.yaml``, ``templates/model_card.md`` and
``templates/custom_interface.py`` are package data.
"""

from speechbrain_ptssnn.export.cli import main
from speechbrain_ptssnn.export.hub_files import FILES
from speechbrain_ptssnn.export.hub_hparams import upstream_entries
from speechbrain_ptssnn.export.hub_yaml import dump_yaml, read_tagged_yaml, tag_of, tagged
from speechbrain_ptssnn.export.model_card import CORPORA, model_card
from speechbrain_ptssnn.export.run_export import choose_fold, export_run

__all__ = [
    "export_run",
    "choose_fold",
    "model_card",
    "main",
    "FILES",
    "CORPORA",
    "upstream_entries",
    "read_tagged_yaml",
    "dump_yaml",
    "tag_of",
    "tagged",
]
