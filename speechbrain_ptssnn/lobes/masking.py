"""Relative lengths, frame masks and masked reductions.

SpeechBrain describes padding with *relative* lengths: one value in (0, 1] per
utterance, the fraction of the padded time axis that is real. Every PTS-SNN lobe
turns these into a boolean frame mask with :func:`lengths_to_mask` and keeps
padded frames out of every statistic it computes.
"""

import torch


def check_lengths(lengths, batch_size):
    """Validates SpeechBrain relative lengths.

    Arguments
    ---------
    lengths : torch.Tensor or None
        Relative lengths ``[batch]``, each in (0, 1]; ``None`` means all full.
    batch_size : int
        The expected number of utterances.

    Returns
    -------
    torch.Tensor or None
        ``lengths`` as a 1-D float tensor, unchanged otherwise.

    Raises
    ------
    ValueError
        If the shape is not ``[batch]`` or a value lies outside (0, 1].

    Example
    -------
    >>> check_lengths(torch.tensor([1.0, 0.5]), 2)
    tensor([1.0000, 0.5000])
    >>> check_lengths(torch.tensor([1.5]), 1)
    Traceback (most recent call last):
    ...
    ValueError: relative lengths must lie in (0, 1], got values from 1.5 to 1.5
    """
    if lengths is None:
        return None
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.shape[0] != batch_size:
        raise ValueError(
            f"relative lengths must have shape [{batch_size}] (one per "
            f"utterance), got shape {list(lengths.shape)}"
        )
    lengths = lengths.float()
    if bool(((lengths <= 0) | (lengths > 1)).any()) or bool(lengths.isnan().any()):
        raise ValueError(
            "relative lengths must lie in (0, 1], got values from "
            f"{lengths.min().item():g} to {lengths.max().item():g}"
        )
    return lengths


def lengths_to_mask(lengths, max_len, device=None):
    """Turns relative lengths into a boolean mask of valid frames.

    A relative length ``l`` over ``T`` frames keeps the first
    ``round(l * T)`` frames (at least one), as SpeechBrain does.

    Arguments
    ---------
    lengths : torch.Tensor or None
        Relative lengths ``[batch]`` in (0, 1]; ``None`` means all frames valid
        (then ``device`` and the batch size come from nowhere, so a
        ``[1, max_len]`` mask is returned, which broadcasts).
    max_len : int
        Number of frames of the padded batch.
    device : torch.device, optional
        Where to build the mask (defaults to the device of ``lengths``).

    Returns
    -------
    torch.Tensor
        Boolean mask ``[batch, max_len]``, True on real frames.

    Example
    -------
    >>> lengths_to_mask(torch.tensor([1.0, 0.5]), 4)
    tensor([[ True,  True,  True,  True],
            [ True,  True, False, False]])
    """
    if lengths is None:
        return torch.ones(1, max_len, dtype=torch.bool, device=device)
    device = device if device is not None else lengths.device
    n_valid = torch.round(lengths.to(device).float() * max_len).long().clamp(1, max_len)
    frames = torch.arange(max_len, device=device)
    return frames.unsqueeze(0) < n_valid.unsqueeze(1)


def masked_mean(x, mask):
    """Mean of ``x`` over its valid frames.

    Arguments
    ---------
    x : torch.Tensor
        Frames ``[batch, time, channels]``.
    mask : torch.Tensor
        Boolean valid-frame mask ``[batch, time]`` (or ``[1, time]``).

    Returns
    -------
    torch.Tensor
        ``[batch, channels]``: the average over each utterance's valid frames.

    Example
    -------
    >>> x = torch.tensor([[[1.0], [3.0], [100.0]]])
    >>> masked_mean(x, torch.tensor([[True, True, False]]))
    tensor([[2.]])
    """
    weights = mask.to(x.dtype).unsqueeze(-1)
    total = (x * weights).sum(dim=1)
    count = weights.sum(dim=1).clamp(min=1.0)
    return total / count
