"""speechbrain-ptssnn: PTS-SNN spiking adapters for speech emotion recognition.

A frozen self-supervised encoder (emotion2vec) turns audio into frames; the
Prompt-Tuned Temporal-Shift Spiking Neural Network in :mod:`.lobes` classifies
the emotion, trained with the loss in :mod:`.losses`.
"""

__version__ = "0.1.0"
