"""Running an exported ``adapter.onnx`` with onnxruntime, in place of the PyTorch adapter.

An export made with ``--onnx`` lists ``adapter.onnx`` in its ``pretrainer``,
which fetches it (from the hub or the folder) and hands it to
:func:`load_onnx_adapter`; with ``adapter_backend: onnx`` (what such an export
stores, or ``ptssnn-classify --backend onnx``) :class:`EmotionRecognizer`
computes its logits with it. The session is created on first use, with as many
intra-op threads as torch has then (``--threads``).
"""

import os

import numpy as np
import torch

#: the adapter backends :class:`EmotionRecognizer` knows
ADAPTER_BACKENDS = ("torch", "onnx")


def onnx_session(path, threads=None):
    """An onnxruntime session on the CPU (``threads`` intra-op threads; None: its default).

    Raises
    ------
    ImportError
        If onnxruntime is not installed (the ``[export]`` extra).
    """
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError("running adapter.onnx needs onnxruntime: pip install onnxruntime "
                          "(or speechbrain-ptssnn[export])") from error
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(os.fspath(path), sess_options=options,
                                        providers=["CPUExecutionProvider"])


def run_session(session, feats, lengths=None):
    """Every output of an adapter session on ``feats`` ``[batch, frames, dim]`` (numpy arrays)."""
    feats = torch.as_tensor(feats, dtype=torch.float32)
    if lengths is None:
        lengths = torch.ones(feats.shape[0])
    inputs = {"feats": np.ascontiguousarray(feats.detach().cpu().numpy()),
              "lengths": torch.as_tensor(lengths, dtype=torch.float32).detach().cpu().numpy()}
    return session.run(None, inputs)


class OnnxAdapter:
    """The adapter's logits from ``adapter.onnx`` through onnxruntime.

    Arguments
    ---------
    path : str or os.PathLike, optional
        The ONNX file; usually set later by the ``pretrainer`` (:func:`load_onnx_adapter`).

    Example
    -------
    >>> adapter = OnnxAdapter()
    >>> adapter(torch.zeros(1, 3, 4))
    Traceback (most recent call last):
    ...
    ValueError: no adapter.onnx was loaded: this model was exported without --onnx
    """

    def __init__(self, path=None):
        self.path = None if path is None else os.fspath(path)
        self._session = None

    def load(self, path):
        """Points at an ONNX file (the session is opened on first use)."""
        self.path = os.fspath(path)
        self._session = None

    @property
    def session(self):
        """The onnxruntime session, opened with torch's current number of threads."""
        if self.path is None:
            raise ValueError("no adapter.onnx was loaded: this model was exported without --onnx")
        if self._session is None:
            self._session = onnx_session(self.path, threads=torch.get_num_threads())
        return self._session

    def __call__(self, feats, lengths=None):
        """Logits ``[batch, n_classes]`` of features ``[batch, frames, dim]`` (a CPU tensor)."""
        return torch.from_numpy(run_session(self.session, feats, lengths)[0])

    def __repr__(self):
        return f"OnnxAdapter({self.path!r})"


def load_onnx_adapter(adapter, path):
    """The ``pretrainer``'s hook for ``adapter.onnx``: checks the file and points ``adapter`` at it.

    Raises
    ------
    ValueError
        If the file is missing or empty (named in the message).
    """
    path = os.fspath(path)
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        raise ValueError(f"{path}: missing or empty ONNX file")
    adapter.load(path)
