"""The adapter as ONNX: ``adapter.onnx``, features and lengths in, logits out.

The graph is the whole adapter in evaluation mode (its batch norms on their
running statistics, dropout off) with every PLIF layer switched to the
plain-PyTorch recurrence (``backend="torch"``,
:mod:`speechbrain_ptssnn.lobes.torch_plif`), whose time loop is a TorchScript
loop: the TorchScript exporter (``dynamo=False``) writes it as one ONNX
``Loop`` per layer, so the number of frames stays a dynamic axis (the dynamo
exporter, torch's default, would unroll it to the example's length).

Inputs and output (float32):

* ``feats`` ``[batch, frames, input_size]``: the upstream's frames, rounded
  through the run's storage dtype (as :class:`EmotionRecognizer` computes them);
* ``lengths`` ``[batch]``: SpeechBrain relative lengths in (0, 1];
* ``logits`` ``[batch, n_classes]``: the adapter's logits (firing rates with
  the tie-break term), **before** the temperature (``temperature`` in
  ``hyperparams.yaml``): the probabilities are ``softmax(logits / T)``.

onnxruntime computes in float32 as PyTorch does but in its own order (matrix
products, layer norm), so a membrane that lands within rounding of the
threshold can fire in one and not the other; :func:`compare_onnx` counts such
spikes (the export of a copy that also outputs every PLIF layer's spikes).
"""

import copy
import os
import warnings

import numpy as np
import torch

from speechbrain_ptssnn.atomic import atomic_path
from speechbrain_ptssnn.export.hub_files import ONNX_FILE

__all__ = ["ONNX_FILE", "export_onnx", "compare_onnx", "exportable_copy", "plif_layers"]

INPUTS = ("feats", "lengths")
OUTPUT = "logits"
OPSET = 17


def plif_layers(module):
    """``(name, layer)`` of every PLIF layer of a module, in module order."""
    from speechbrain_ptssnn.lobes.neurons import PLIF

    return [(name, m) for name, m in module.named_modules() if isinstance(m, PLIF)]


def exportable_copy(adapter):
    """A copy of the adapter in evaluation mode with every PLIF layer on the torch backend.

    Example
    -------
    >>> from speechbrain_ptssnn.lobes import PTSSNN
    >>> copy_ = exportable_copy(PTSSNN(8, 2, hidden_sizes=(8, 4), bias_hidden_size=2))
    >>> sorted({layer.backend for _, layer in plif_layers(copy_)}), copy_.training
    (['torch'], False)
    """
    exported = copy.deepcopy(adapter).cpu().float().eval()
    for _, layer in plif_layers(exported):
        layer.backend = "torch"
    return exported


class _WithSpikes(torch.nn.Module):
    """The adapter, returning its logits and every PLIF layer's spikes (for counting flips)."""

    def __init__(self, adapter):
        super().__init__()
        self.adapter = adapter
        self.layers = plif_layers(adapter)

    def forward(self, feats, lengths):
        recorded = []
        hooks = [layer.register_forward_hook(lambda _m, _i, out: recorded.append(out))
                 for _, layer in self.layers]
        try:
            logits = self.adapter(feats, lengths)
        finally:
            for hook in hooks:
                hook.remove()
        return (logits, *recorded)


def example_inputs(input_size, batch=2, frames=40):
    """Inputs to trace the export with: random features, the second utterance padded."""
    generator = torch.Generator().manual_seed(0)
    feats = torch.randn(batch, frames, input_size, generator=generator)
    lengths = torch.linspace(1.0, 0.6, batch)
    return feats, lengths


def export_onnx(adapter, path, with_spikes=False, opset=OPSET):
    """Writes the adapter (or a copy that also outputs its spikes) as an ONNX file.

    Arguments
    ---------
    adapter : torch.nn.Module
        A :class:`~speechbrain_ptssnn.lobes.PTSSNN` (any backend; it is copied).
    path : str or os.PathLike
        The ``.onnx`` file to write (atomically).
    with_spikes : bool
        Also output every PLIF layer's spikes (``spikes_0``, ``spikes_1``, ...,
        in :func:`plif_layers` order), for :func:`compare_onnx`.
    opset : int
        The ONNX opset.

    Returns
    -------
    str
        The file written.
    """
    model = exportable_copy(adapter)
    names = [OUTPUT]
    if with_spikes:
        names += [f"spikes_{i}" for i in range(len(plif_layers(model)))]
        model = _WithSpikes(model)
    feats, lengths = example_inputs(adapter.input_size)
    dynamic = {"feats": {0: "batch", 1: "frames"}, "lengths": {0: "batch"}}
    dynamic.update({name: {0: "batch"} for name in names})
    for name in names[1:]:  # the attention's layer also sees the prompts: its own length
        dynamic[name] = {0: "batch", 1: f"{name}_steps"}
    path = os.fspath(path)
    with atomic_path(path) as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings on the input checks, the legacy exporter
        torch.onnx.export(model, (feats, lengths), tmp, dynamo=False, opset_version=opset,
                          input_names=list(INPUTS), output_names=names, dynamic_axes=dynamic)
    return path


def compare_onnx(adapter, batches, folder):
    """onnxruntime against PyTorch on batches of features: labels, logits and spikes.

    The PyTorch side is the adapter as it is (its own PLIF backend, e.g. the
    fused one training used); the ONNX side a copy exported with its spikes
    into ``folder``.

    Arguments
    ---------
    adapter : torch.nn.Module
        The adapter (evaluation mode is set on a copy).
    batches : iterable of (feats, lengths)
        Padded features ``[batch, frames, dim]`` and relative lengths.
    folder : str
        Where the comparison's ONNX file goes.

    Returns
    -------
    dict
        ``utterances``, ``labels_equal`` (count), ``max_logit_difference``,
        ``spikes`` (PyTorch's spike count over valid frames), ``flipped_spikes``
        (valid neuron-frames where the two disagree) and ``flipped_by_layer``.
    """
    from speechbrain_ptssnn.inference.onnx_adapter import onnx_session, run_session
    from speechbrain_ptssnn.lobes.masking import lengths_to_mask

    reference = _WithSpikes(copy.deepcopy(adapter).cpu().float().eval())
    layers = [name for name, _ in reference.layers]
    session = onnx_session(export_onnx(adapter, os.path.join(folder, "compare_spikes.onnx"),
                                       with_spikes=True))
    result = {"utterances": 0, "labels_equal": 0, "max_logit_difference": 0.0, "spikes": 0,
              "flipped_spikes": 0, "flipped_by_layer": dict.fromkeys(layers, 0)}
    for feats, lengths in batches:
        with torch.no_grad():
            expected = reference(feats, lengths)
        got = run_session(session, feats, lengths)
        logits, onnx_logits = expected[0], torch.from_numpy(got[0])
        result["utterances"] += logits.shape[0]
        result["labels_equal"] += int((logits.argmax(-1) == onnx_logits.argmax(-1)).sum())
        result["max_logit_difference"] = max(result["max_logit_difference"],
                                             float((logits - onnx_logits).abs().max()))
        frame_lengths = reference.adapter.frame_lengths(lengths, feats.shape[1])
        for name, spikes, onnx_spikes in zip(layers, expected[1:], got[1:]):
            valid = lengths_to_mask(frame_lengths, spikes.shape[1])
            if spikes.shape[1] != valid.shape[1]:  # attention: prompts in front of the frames
                extra = spikes.shape[1] - valid.shape[1]
                valid = torch.cat([valid.new_ones(valid.shape[0], extra), valid], dim=1)
            valid = valid.unsqueeze(-1).expand_as(spikes)
            flips = int((spikes != torch.from_numpy(onnx_spikes))[valid].sum())
            result["flipped_by_layer"][name] += flips
            result["flipped_spikes"] += flips
            result["spikes"] += int(spikes[valid].sum())
    return result


def onnx_max_difference(adapter, path, feats, lengths):
    """Largest absolute difference between the adapter's logits and the ONNX file's."""
    from speechbrain_ptssnn.inference.onnx_adapter import onnx_session, run_session

    with torch.no_grad():
        expected = copy.deepcopy(adapter).cpu().float().eval()(feats, lengths)
    got = run_session(onnx_session(path), feats, lengths)[0]
    return float(np.abs(expected.numpy() - got).max())
