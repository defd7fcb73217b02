"""The files of an exported model folder, and the templates they are made from.

The templates (``templates/hyperparams.yaml``, ``templates/model_card.md``,
``templates/custom_interface.py``) are package data, shipped by ``setup.py``
(``package_data``) and read through :mod:`importlib.resources`, so an
installed copy of the package finds them as a checkout does.
"""

from importlib import resources

from speechbrain_ptssnn.runs import ADAPTER_CHECKPOINT, LABEL_ENCODER

HYPERPARAMS = "hyperparams.yaml"
WEIGHTS = ADAPTER_CHECKPOINT
LABELS = LABEL_ENCODER
INTERFACE = "custom_interface.py"
CARD = "README.md"
#: the files of an exported model folder
FILES = (HYPERPARAMS, WEIGHTS, LABELS, INTERFACE, CARD)
#: written with --onnx: the adapter for onnxruntime
ONNX_FILE = "adapter.onnx"
#: written with --nir: the spiking part as a NIR graph, and what runs where
NIR_FILE = "adapter.nir"
NIR_SPLIT = "adapter_nir.json"

HPARAMS_TEMPLATE = "hyperparams.yaml"
MODEL_CARD_TEMPLATE = "model_card.md"
INTERFACE_TEMPLATE = "custom_interface.py"


def template_text(name):
    """The text of the template ``templates/<name>``.

    Example
    -------
    >>> text = template_text(INTERFACE_TEMPLATE)
    >>> "from speechbrain_ptssnn.inference import EmotionRecognizer" in text
    True
    """
    templates = resources.files(__package__).joinpath("templates")
    return templates.joinpath(name).read_text(encoding="utf-8")
