"""Random-weight emotion2vec model directories, for offline tests and benchmarks.

:func:`save_random_emotion2vec` writes a model directory of the real
architecture (:func:`~speechbrain_ptssnn.upstreams.emotion2vec_conf.emotion2vec_model_conf`,
base or scaled down) with random weights, in the on-disk layout of the
published models, so it loads through the same FunASR code path as a
downloaded one.
"""

import copy
import os

import torch

from speechbrain_ptssnn.upstreams.emotion2vec_conf import emotion2vec_model_conf
from speechbrain_ptssnn.upstreams.funasr_loading import (
    IGNORED_KEY_PREFIXES,
    import_funasr,
    preserved_rng_state,
)


def save_random_emotion2vec(directory, model_conf=None, seed=0, drop_decoder=True):
    """Writes a random-weight emotion2vec model directory FunASR can load.

    The directory gets ``config.yaml`` (``model: Emotion2vec`` and
    ``model_conf``) and ``model.pt`` (the state dict), the layout of the
    published models, so ``Emotion2vec(directory)`` and
    ``funasr.AutoModel(model=directory)`` load it through the same code path
    as a downloaded model.

    Arguments
    ---------
    directory : str or os.PathLike
        Where to write (created if needed).
    model_conf : dict, optional
        The architecture; :func:`emotion2vec_model_conf` () (base) by default.
    seed : int
        Seed of the random initialisation (the global RNG state is restored).
    drop_decoder : bool
        Leave the unused data2vec decoder out of ``model.pt``, as the published
        checkpoints do.

    Returns
    -------
    str
        ``directory``.

    Example
    -------
    >>> import os, tempfile
    >>> conf = emotion2vec_model_conf(embed_dim=32, depth=1, num_heads=2,
    ...     prenet_depth=1, conv_channels=16, decoder_dim=16, decoder_layers=1)
    >>> path = save_random_emotion2vec(tempfile.mkdtemp(), conf)
    >>> sorted(os.listdir(path))
    ['config.yaml', 'model.pt']
    """
    import yaml

    import_funasr()
    from funasr.models.emotion2vec.model import Emotion2vec as FunasrEmotion2vec

    model_conf = emotion2vec_model_conf() if model_conf is None else model_conf
    directory = str(directory)
    os.makedirs(directory, exist_ok=True)
    with preserved_rng_state():
        torch.manual_seed(seed)
        model = FunasrEmotion2vec(model_conf=copy.deepcopy(model_conf))
    state = model.state_dict()
    if drop_decoder:
        state = {k: v for k, v in state.items() if not k.startswith(IGNORED_KEY_PREFIXES[0])}
    with open(os.path.join(directory, "config.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump({"model": "Emotion2vec", "model_conf": model_conf}, f, sort_keys=False)
    torch.save(state, os.path.join(directory, "model.pt"))
    return directory
