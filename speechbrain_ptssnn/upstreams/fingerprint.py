"""Fingerprints of weights: what makes two upstreams give the same features.

Feature caches key their entries on an upstream's ``identity()``; the weights
enter it as a hash of the state dict, so a changed backbone never serves
stale features.
"""

import hashlib

import torch


def state_fingerprint(state_dict, ignored_key_prefixes=()):
    """Hashes a state dict: names, shapes, dtypes and values.

    Arguments
    ---------
    state_dict : dict
        Name -> tensor.
    ignored_key_prefixes : tuple of str
        Keys starting with one of these are left out.

    Returns
    -------
    str
        A 32-hex-digit BLAKE2b digest.

    Example
    -------
    >>> a = state_fingerprint({"w": torch.zeros(2)})
    >>> a == state_fingerprint({"w": torch.zeros(2)}), a == state_fingerprint({"w": torch.ones(2)})
    (True, False)
    """
    hasher = hashlib.blake2b(digest_size=16)
    for name in sorted(state_dict):
        if ignored_key_prefixes and name.startswith(tuple(ignored_key_prefixes)):
            continue
        tensor = state_dict[name]
        hasher.update(name.encode())
        if not torch.is_tensor(tensor):
            hasher.update(repr(tensor).encode())
            continue
        hasher.update(f"{tuple(tensor.shape)}{tensor.dtype}".encode())
        data = tensor.detach().to("cpu").contiguous().reshape(-1)
        if data.numel():
            hasher.update(data.view(torch.uint8).numpy().data)
    return hasher.hexdigest()
