"""The ``pretrainer``'s load hooks of exported models: strict, and loud on failure.

An exported ``hyperparams.yaml`` names them as
``speechbrain_ptssnn.inference.load_adapter_state`` and
``speechbrain_ptssnn.inference.load_label_encoder`` (the package exports them).
"""

import os

import torch


def load_adapter_state(adapter, path):
    """Loads adapter weights strictly, with ``torch.load(weights_only=True)``.

    Used as the ``pretrainer``'s hook for the adapter in exported
    ``hyperparams.yaml`` files, in place of SpeechBrain's default parameter
    transfer, which loads non-strictly (a mismatched file would leave random
    weights in place with only a logged warning).

    Arguments
    ---------
    adapter : torch.nn.Module
        The adapter built from the hparams.
    path : str or os.PathLike
        A plain state dict (``adapter.ckpt``).

    Raises
    ------
    ValueError
        If the file is not a state dict of tensors, or does not match the
        adapter (missing or unexpected keys, shape mismatches); the message
        names the file.

    Example
    -------
    >>> import os, tempfile
    >>> layer = torch.nn.Linear(2, 3)
    >>> path = os.path.join(tempfile.mkdtemp(), "adapter.ckpt")
    >>> torch.save(layer.state_dict(), path)
    >>> load_adapter_state(torch.nn.Linear(2, 3), path)
    >>> load_adapter_state(torch.nn.Linear(2, 4), path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: .../adapter.ckpt does not match the adapter built from hyperparams.yaml: ...
    """
    path = os.fspath(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a loadable weights-only state dict ({error})") from error
    check_adapter_state(adapter, state, path)


def check_adapter_state(adapter, state, path):
    """Loads a state dict strictly into the adapter, naming its file on failure.

    Arguments
    ---------
    adapter : torch.nn.Module
        The adapter built from the hparams.
    state : object
        What ``torch.load`` gave.
    path : str or os.PathLike
        The file it came from (for the messages).

    Raises
    ------
    ValueError
        If ``state`` is not a state dict of tensors, or does not match the
        adapter (missing or unexpected keys, shape mismatches).

    Example
    -------
    >>> check_adapter_state(torch.nn.Linear(2, 3), {"weight": torch.ones(3, 2)}, "w.ckpt")
    Traceback (most recent call last):
    ...
    ValueError: w.ckpt does not match the adapter built from hyperparams.yaml: ...
    """
    path = os.fspath(path)
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{path}: expected a plain state dict (parameter name -> tensor)")
    try:
        adapter.load_state_dict(state, strict=True)
    except RuntimeError as error:
        detail = " ".join(str(error).split())
        raise ValueError(
            f"{path} does not match the adapter built from hyperparams.yaml: {detail}"
        ) from error


def load_label_encoder(encoder, path):
    """Loads a ``CategoricalEncoder`` file, failing loudly (unlike its default hook).

    Arguments
    ---------
    encoder : speechbrain.dataio.encoder.CategoricalEncoder
        The (empty) encoder from the hparams.
    path : str or os.PathLike
        ``label_encoder.txt`` as training wrote it.

    Raises
    ------
    ValueError
        If the file is missing or unreadable (named in the message).

    Example
    -------
    >>> import os, tempfile
    >>> from speechbrain.dataio.encoder import CategoricalEncoder
    >>> from speechbrain_ptssnn.dataio import label_encoder_for
    >>> path = os.path.join(tempfile.mkdtemp(), "label_encoder.txt")
    >>> label_encoder_for(["angry", "sad"]).save(path)
    >>> encoder = CategoricalEncoder()
    >>> load_label_encoder(encoder, path)
    >>> encoder.decode_ndim([1, 0])
    ['sad', 'angry']
    """
    path = os.fspath(path)
    try:
        encoder.load(path)
    except Exception as error:
        raise ValueError(f"{path}: not a readable label encoder file ({error})") from error
