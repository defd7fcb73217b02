"""Running an exported NIR graph: the host's stream in, the chip's spikes back, the comparison.

The other half of :mod:`~speechbrain_ptssnn.export.nir_export` (which builds
and writes the graph and documents the host/chip split and the input stream's
channels): :func:`host_stream` builds one utterance's input stream,
:func:`chip_frames` reads the graph's output back into frames,
:func:`reference_outputs` and :func:`host_logits` give PyTorch's spikes and
the logits the host computes from the chip's.

**Round trip**: :func:`import_nir` maps the graph back to PyTorch through
nirtorch (exactly the float32 arithmetic of the PLIF layers; or SpikingJelly's
own node mapping, whose LIF divides by ``tau``), :func:`run_graph` steps it,
and :func:`compare_nir` checks its spikes, and the logits the host computes
from them, against the adapter's.
"""

import os

import numpy as np
import torch

#: seconds per step (one step per upstream frame), SpikingJelly's default
DT = 1e-4


def _float32(array):
    return np.ascontiguousarray(array, dtype=np.float32)


# ------------------------------------------------------------------ host side
def host_stream(adapter, feats):
    """The graph's input for one utterance: ``[steps, channels]``.

    Its channels and steps are described in
    :mod:`~speechbrain_ptssnn.export.nir_export` (the input stream).

    Arguments
    ---------
    adapter : speechbrain_ptssnn.lobes.PTSSNN
        The adapter (evaluation mode).
    feats : torch.Tensor
        One utterance's upstream features ``[frames, input_size]``, no padding.
    """
    with torch.no_grad():
        feats = adapter.frame_pooling(feats[None].float())[0][0]
        if adapter.variant == "vanilla":
            return feats
        h = adapter.saturation(feats[None], None)
        if adapter.encoder is not None:
            h = adapter.encoder(h, None)
    h = h[0]
    frames, channels = h.shape
    n = int(round(adapter.blocks[0].shift.fraction * channels))
    lag = 1 if len(adapter.blocks) == 2 else 0
    stream = torch.zeros(frames + lag, channels + n + 2)
    stream[:frames, :channels] = h
    stream[: frames - 1, channels : channels + n] = h[1:, n : 2 * n]
    stream[0, channels + n] = 1.0
    if lag:
        stream[frames, channels + n + 1] = 1.0
    return stream


def chip_frames(adapter, outputs, frames):
    """The graph's outputs ``[steps, channels]`` as frames ``[frames, channels]``
    (the lag dropped)."""
    lag = 0 if adapter.variant == "vanilla" else (1 if len(adapter.blocks) == 2 else 0)
    return outputs[lag : lag + frames]


def _chip_layers(adapter):
    """The PyTorch modules whose outputs the graph reproduces, with their output channels."""
    if adapter.variant == "vanilla":
        layers = [adapter.neurons]
        if adapter.classifier.readout == "rate":
            layers.append(adapter.classifier.neurons)
        return layers
    return [adapter.blocks[-1]]


def reference_outputs(adapter, feats):
    """The graph's spikes, from PyTorch: ``[frames, channels]``.

    The last block's spikes; for the vanilla variant the hidden spikes, then
    the class spikes (none with the membrane read-out).
    """
    recorded = []
    hooks = [layer.register_forward_hook(lambda _m, _i, out: recorded.append(out[0]))
             for layer in _chip_layers(adapter)]
    try:
        with torch.no_grad():
            adapter(feats[None].float())
    finally:
        for hook in hooks:
            hook.remove()
    return torch.cat(recorded, dim=-1)


def host_logits(adapter, feats, chip_output):
    """The logits the host computes from the chip's frames ``[frames, channels]``.

    The adapter runs as usual with the chip layers' outputs replaced by the
    chip's (forward hooks), so everything after them is the host's own
    arithmetic on the chip's spikes. For the vanilla variant with the
    membrane read-out, the logits are the mean of the graph's integrator
    membranes.
    """
    if adapter.variant == "vanilla":
        hidden = adapter.projection.out_features
        classifier = adapter.classifier
        if classifier.readout == "membrane":
            logits = chip_output[:, hidden:].mean(dim=0)
            scale = classifier.log_scale
            return logits if scale is None else logits * scale.detach().exp()
        replaced = [(adapter.neurons, chip_output[:, :hidden]),
                    (classifier.neurons, chip_output[:, hidden:])]
    else:
        replaced = [(adapter.blocks[-1], chip_output)]
    hooks = [layer.register_forward_hook(lambda _m, _i, _out, piece=piece: piece[None])
             for layer, piece in replaced]
    try:
        with torch.no_grad():
            return adapter(feats[None].float())[0]
    finally:
        for hook in hooks:
            hook.remove()


# ------------------------------------------------------------------- import
class _Delay(torch.nn.Module):
    """``nir.Delay`` of a whole number of steps."""

    def __init__(self, steps):
        super().__init__()
        self.steps = int(steps)

    def forward(self, x, state=None):
        queue = list(state) if state is not None else [torch.zeros_like(x)] * self.steps
        queue.append(x)
        return queue[0], tuple(queue[1:])


class _LIF(torch.nn.Module):
    """``nir.LIF`` (or ``nir.LI``) one step at a time, with the PLIF layers' float32 arithmetic."""

    def __init__(self, q, r, v_leak, v_threshold=None, v_reset=None):
        super().__init__()
        self.q = float(np.float32(q))
        self.r = r
        self.v_leak = v_leak
        self.decay = bool(np.allclose(r, 1.0) and np.allclose(v_leak, 0.0))
        self.undecayed = bool(np.allclose(r * q, 1.0) and np.allclose(v_leak, 0.0))
        self.register_buffer("r_q", torch.as_tensor(_float32(r * q)))
        self.register_buffer("leak", torch.as_tensor(_float32(v_leak)))
        self.spiking = v_threshold is not None
        if self.spiking:
            self.register_buffer("threshold", torch.as_tensor(_float32(v_threshold)))
            self.register_buffer("reset", torch.as_tensor(_float32(v_reset)))

    def forward(self, x, state=None):
        v = state if state is not None else torch.zeros_like(x)
        if self.decay:
            h = v + (x - v) * self.q
        elif self.undecayed:
            h = v - v * self.q + x
        else:
            h = v + (self.leak - v) * self.q + self.r_q * x
        if not self.spiking:
            return h, h
        s = (h - self.threshold >= 0.0).to(x.dtype)
        return s, h * (1.0 - s) + s * self.reset


def _steps(delay, dt):
    steps = np.unique(np.round(np.asarray(delay) / dt).astype(int))
    if steps.size != 1 or not np.allclose(np.asarray(delay), steps[0] * dt):
        raise ValueError("a nir.Delay must delay every channel by the same whole number of steps")
    return int(steps[0])


def node_map(dt=DT):
    """nirtorch's node map for the adapter's graphs (Input, Output, Affine, Linear,
    Delay, LIF, LI)."""
    import nir

    def affine(node):
        module = torch.nn.Linear(node.weight.shape[1], node.weight.shape[0], bias=True)
        module.weight.data = torch.from_numpy(_float32(node.weight))
        module.bias.data = torch.from_numpy(_float32(node.bias))
        return module

    def linear(node):
        module = torch.nn.Linear(node.weight.shape[1], node.weight.shape[0], bias=False)
        module.weight.data = torch.from_numpy(_float32(node.weight))
        return module

    def lif(node):
        return _LIF(dt / np.unique(node.tau).item(), np.asarray(node.r), np.asarray(node.v_leak),
                    np.asarray(node.v_threshold), np.asarray(node.v_reset))

    def li(node):
        return _LIF(dt / np.unique(node.tau).item(), np.asarray(node.r), np.asarray(node.v_leak))

    return {nir.Affine: affine, nir.Linear: linear, nir.LIF: lif, nir.LI: li,
            nir.Delay: lambda node: _Delay(_steps(node.delay, dt))}


def spikingjelly_node_map(dt=DT):
    """SpikingJelly's own NIR node mapping (``import_from_nir``'s), plus ``nir.Delay``.

    SpikingJelly's LIF charges ``v + (x - v) / tau`` (a division where the PLIF
    layers multiply by ``1 / tau``), so a membrane within rounding of the
    threshold may fire differently.
    """
    import nir
    from spikingjelly.activation_based.nir_exchange.from_nir import _NodeMapper

    mapping = dict(_NodeMapper(dt=dt).map_dict)
    mapping[nir.Delay] = lambda node: _Delay(_steps(node.delay, dt))
    return mapping


def import_nir(graph, importer="nirtorch", dt=DT):
    """A NIR graph (or file) as a PyTorch module stepped by nirtorch.

    Arguments
    ---------
    graph : nir.NIRGraph or str
        The graph, or an ``adapter.nir`` file.
    importer : str
        ``"nirtorch"`` (:func:`node_map`) or ``"spikingjelly"``
        (:func:`spikingjelly_node_map`).
    dt : float
        Seconds per step.
    """
    import nir
    import nirtorch

    if not isinstance(graph, nir.NIRGraph):
        graph = nir.read(os.fspath(graph))
    mapping = node_map(dt) if importer == "nirtorch" else spikingjelly_node_map(dt)
    return nirtorch.nir_to_torch(graph, mapping)


def run_graph(module, stream):
    """Steps an imported graph through ``stream`` ``[steps, channels]``; returns
    ``[steps, out]``."""
    state, outputs = None, []
    with torch.no_grad():
        for x in stream:
            out, state = module(x[None], state)
            outputs.append(out[0])
    return torch.stack(outputs)


def compare_nir(adapter, graph, utterances, importer="nirtorch"):
    """The imported graph against PyTorch on utterances: spikes and the host's logits.

    Arguments
    ---------
    adapter : speechbrain_ptssnn.lobes.PTSSNN
        The adapter the graph was exported from (evaluation mode).
    graph : nir.NIRGraph or str
        The graph or its file.
    utterances : iterable of torch.Tensor
        Features ``[frames, input_size]``, one utterance each.
    importer : str
        See :func:`import_nir`.

    Returns
    -------
    dict
        ``utterances``, ``frames``, ``spikes`` (PyTorch's, in the graph's
        output), ``flipped_spikes`` (neuron-frames that differ),
        ``identical_utterances``, ``labels_equal`` and
        ``max_logit_difference`` (the host's logits from the chip's spikes
        against the adapter's).
    """
    adapter = adapter.eval()
    module = import_nir(graph, importer)
    result = {"importer": importer, "utterances": 0, "frames": 0, "spikes": 0,
              "flipped_spikes": 0, "identical_utterances": 0, "labels_equal": 0,
              "max_logit_difference": 0.0}
    for feats in utterances:
        feats = feats.float()
        expected = reference_outputs(adapter, feats)
        outputs = chip_frames(adapter, run_graph(module, host_stream(adapter, feats)),
                              expected.shape[0])
        flips = int((expected != outputs[:, : expected.shape[1]]).sum())
        with torch.no_grad():
            logits = adapter(feats[None])[0]
        chip_logits = host_logits(adapter, feats, outputs)
        result["utterances"] += 1
        result["frames"] += int(expected.shape[0])
        result["spikes"] += int(expected.sum())
        result["flipped_spikes"] += flips
        result["identical_utterances"] += int(flips == 0)
        result["labels_equal"] += int(int(logits.argmax()) == int(chip_logits.argmax()))
        result["max_logit_difference"] = max(result["max_logit_difference"],
                                             float((logits - chip_logits).abs().max()))
    return result


def generated_utterance(input_size, frames=80, seed=0):
    """Features of a generated utterance: smooth random frames (a fixed seed)."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(frames + 4, input_size, generator=generator)
    return (noise[:-4] + noise[1:-3] + noise[2:-2] + noise[3:-1] + noise[4:]) / 5.0 ** 0.5


def check_round_trip(adapter, path, frames=80):
    """:func:`compare_nir` of a written graph on one generated utterance (the export's check)."""
    result = compare_nir(adapter, path, [generated_utterance(adapter.input_size, frames)])
    return {key: result[key] for key in ("importer", "frames", "spikes", "flipped_spikes",
                                         "labels_equal", "max_logit_difference")}
