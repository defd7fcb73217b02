"""PTS-SNN emotion recognition for SpeechBrain's foreign_class.

    from speechbrain.inference.interfaces import foreign_class
    model = foreign_class(source=SOURCE, pymodule_file="custom_interface.py",
                          classname="EmotionRecognizer")

The interface lives in the speechbrain-ptssnn package (which hyperparams.yaml
needs anyway): install it first.
"""

try:
    from speechbrain_ptssnn.inference import EmotionRecognizer  # noqa: F401
except ImportError as error:  # pragma: no cover
    raise ImportError(
        "this model needs the speechbrain-ptssnn package (pip install speechbrain-ptssnn, "
        "or pip install -e . in its repository)"
    ) from error

__all__ = ["EmotionRecognizer"]
