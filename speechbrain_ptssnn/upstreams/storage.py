"""The dtype features are stored in, and rounding through it.

Feature caches store features in a storage dtype (``float16`` by default, half
the space) and load them back as float32; precomputed files are rounded
through the same dtype on load, and the inference path rounds freshly computed
features through it, so training, evaluation and inference see the very same
values.
"""

import torch

_STORAGE_DTYPES = {
    "float16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float": torch.float32,
}


def resolve_storage_dtype(dtype):
    """Turns a storage dtype name into a torch dtype.

    Arguments
    ---------
    dtype : str or torch.dtype
        ``"float16"`` (default of the caches), ``"bfloat16"`` or ``"float32"``.

    Returns
    -------
    torch.dtype
        The dtype.

    Raises
    ------
    ValueError
        For any other dtype.

    Example
    -------
    >>> resolve_storage_dtype("float16")
    torch.float16
    """
    if isinstance(dtype, torch.dtype):
        if dtype not in _STORAGE_DTYPES.values():
            raise ValueError(f"unsupported storage dtype {dtype}; use float16, bfloat16 or float32")
        return dtype
    name = str(dtype).replace("torch.", "").lower()
    if name not in _STORAGE_DTYPES:
        raise ValueError(
            f"unsupported storage dtype {dtype!r}; use one of float16, bfloat16, float32"
        )
    return _STORAGE_DTYPES[name]


def storage_dtype_name(dtype):
    """The name of a dtype without the ``torch.`` prefix, as identities record it.

    Arguments
    ---------
    dtype : torch.dtype
        A dtype.

    Returns
    -------
    str
        E.g. ``"float16"``.

    Example
    -------
    >>> storage_dtype_name(torch.float16)
    'float16'
    """
    return str(dtype).replace("torch.", "")


def round_to_storage_dtype(feats, dtype="float16"):
    """Rounds features through the storage dtype, returning float32.

    The feature caches store features in ``dtype`` and load them as float32;
    the inference path applies this function to freshly computed features so
    that training, evaluation and inference see the very same values.

    Arguments
    ---------
    feats : torch.Tensor
        Features of any float dtype.
    dtype : str or torch.dtype
        The storage dtype (see :func:`resolve_storage_dtype`).

    Returns
    -------
    torch.Tensor
        ``feats`` cast to ``dtype`` and back to float32.

    Example
    -------
    >>> x = torch.tensor([1.0001, 0.1])
    >>> round_to_storage_dtype(x, "float16")
    tensor([1.0000, 0.1000])
    >>> round_to_storage_dtype(x, "float16").dtype
    torch.float32
    """
    return feats.to(resolve_storage_dtype(dtype)).to(torch.float32)
