"""The spiking part of the adapter as a NIR graph (``adapter.nir``), and what stays on the host.

NIR, the neuromorphic intermediate representation, is read by Lava (Loihi),
Sinabs (Speck), Rockpool (Xylo), snnTorch, Norse and SpikingJelly. It has
affine maps, delays and LIF neurons, but no layer norm, no attention and no
per-utterance statistics, so the adapter is split (``adapter_nir.json``
records the split, the model card shows it):

* **chip** (the graph): the temporal-shift blocks, each ``Shift -> Linear ->
  BN -> + shortcut -> PLIF``. The batch norm (evaluation mode: running
  statistics) is folded into the linear map, ``BN(Wz) = (a * W) z + b`` with
  ``a = weight / sqrt(running_var + eps)`` and ``b = bias - a * running_mean``,
  and the shortcut is added to it. The shift is written with ``nir.Delay``:
  ``W Shift(h)_t = W_f h_{t-1} + W_s h_t + W_b h_{t+1}`` (``W_f``, ``W_s``,
  ``W_b`` are ``W``'s columns of the forward-shifted, unshifted and
  backward-shifted channels, zero elsewhere); the forward half is a delay of
  one step. The backward half looks one frame ahead: for the first block,
  whose input comes from the host, the host sends its backward-shifted
  channels one frame early (a lookahead group of the input); the second
  block runs one step behind the first (a one-frame output lag), so that
  ``W_b`` reads the first block's spikes undelayed, ``W_s`` and the shortcut
  through one delay and ``W_f`` through two.
* **host**: what needs real arithmetic or the whole utterance: the soft
  saturation (layer norm, ``tanh``; and the spike encoder when there is one),
  the spiking linear attention (its context sums over every frame), the
  homeostatic bias (from the attention's prompts), the classifier and its
  read-out (mean firing rate, tie-break term).

The vanilla variant (projection, one PLIF layer, the classifier's PLIF layer)
maps entirely: its graph holds every layer, and the host only averages the
output spikes (its outputs are the hidden spikes followed by the class
spikes, so the tie-break current can be computed too).

**The input stream** of the blocks' graph, one step per upstream frame, has
``C + n + 2`` channels: the first block's input frames (``C``: the saturated
features, or the encoder's spikes), then its ``n`` backward-shifted channels
taken from the *next* frame (zero at the last frame), then ``start`` (1 at step
0) and ``stop`` (1 at step ``T``). With two blocks the stream has ``T + 1``
steps and the output at step ``s`` is frame ``s - 1``: ``start`` drives the
second block above threshold at step 0 (a spike whose reset to 0 leaves it at
rest when its frame 0 arrives; that step's output is dropped), ``stop`` keeps
the first block silent at step ``T``, where the second block's last frame
looks ahead to a frame that does not exist. :func:`host_stream` builds the
stream, :func:`chip_frames` reads the output back into frames.

**Neurons**: PLIF layers become ``nir.LIF`` with ``tau = dt / sigmoid(w)``,
``r = 1`` (``tau / dt`` where the input is not decayed), ``v_leak = v_reset =
0`` and the layer's threshold (as SpikingJelly's ``export_to_nir`` maps
them), ``dt`` = 1e-4 s per step (its default). As in SpikingJelly, a neuron
fires when its membrane reaches the threshold (``>=``).

**Round trip**: :func:`import_nir` maps the graph back to PyTorch through
nirtorch (exactly the float32 arithmetic of the PLIF layers; or SpikingJelly's
own node mapping, whose LIF divides by ``tau``), :func:`run_graph` steps it,
and :func:`compare_nir` checks its spikes, and the logits the host computes
from them, against the adapter's.
"""

import os

import numpy as np
import torch

DT = 1e-4
#: what each part of a variant needs on the host
_HOST_PARTS = {
    "saturation": "soft saturation (LayerNorm, tanh)",
    "encoder": "spike encoder (batch norm, PLIF)",
    "attention": "spiking linear attention (needs the whole utterance)",
    "bias_generator": "homeostatic bias",
    "classifier": "classifier (Linear, PLIF) and its read-out (mean firing rate, tie-break)",
}


def _numpy(tensor):
    return tensor.detach().cpu().to(torch.float64).numpy()


def _float32(array):
    return np.ascontiguousarray(array, dtype=np.float32)


def _lif(layer, shape, dt):
    """``nir.LIF`` of a PLIF layer (any backend)."""
    import nir

    node = layer.node
    q = float(torch.sigmoid(node.w.detach().float()))
    tau = dt / q
    return nir.LIF(
        tau=np.full(shape, tau),
        r=np.full(shape, 1.0 if node.decay_input else tau / dt),
        v_leak=np.zeros(shape),
        v_threshold=np.full(shape, float(node.v_threshold)),
        v_reset=np.zeros(shape),
    )


def _folded_block(block):
    """A temporal-shift block's maps, batch norm folded: ``{forward, same, backward, bias, n}``.

    ``forward``/``same``/``backward`` are ``[out, in]`` matrices applied to
    the input at ``t - 1``, ``t`` and ``t + 1`` (the shortcut is in ``same``).
    """
    norm = block.norm
    scale = _numpy(norm.weight) / np.sqrt(_numpy(norm.running_var) + norm.eps)
    bias = _numpy(norm.bias) - scale * _numpy(norm.running_mean)
    weight = scale[:, None] * _numpy(block.linear.weight)
    channels = weight.shape[1]
    n = int(round(block.shift.fraction * channels))
    forward, same, backward = (np.zeros_like(weight) for _ in range(3))
    forward[:, :n] = weight[:, :n]
    backward[:, n : 2 * n] = weight[:, n : 2 * n]
    same[:, 2 * n :] = weight[:, 2 * n :]
    if n == 0:
        same = weight.copy()
    if isinstance(block.shortcut, torch.nn.Identity):
        same += np.eye(channels)
    elif block.shortcut is not None:
        same += _numpy(block.shortcut.weight)
    return {"forward": forward, "same": same, "backward": backward, "bias": bias, "n": n}


def _check_exportable(adapter):
    from speechbrain_ptssnn.lobes.neurons import PLIF

    if adapter.variant == "vanilla":
        layers = [adapter.neurons] + ([adapter.classifier.neurons]
                                      if adapter.classifier.readout == "rate" else [])
    else:
        layers = [block.neurons for block in adapter.blocks]
        if len(adapter.blocks) > 2:
            raise NotImplementedError(
                f"the NIR export maps one or two temporal-shift blocks (the default), not "
                f"{len(adapter.blocks)}: a third would need its lookahead gated on the chip")
    for layer in layers:
        if not isinstance(layer, PLIF):
            raise ValueError(f"the NIR export needs PLIF neurons, not {type(layer).__name__}")
        if float(getattr(layer.node, "v_reset", 0.0) or 0.0) != 0.0:
            raise ValueError("the NIR export needs PLIF neurons with a hard reset to 0")


def nir_graph(adapter, dt=DT):
    """The adapter's spiking part as a NIR graph, and the host/chip split.

    Arguments
    ---------
    adapter : speechbrain_ptssnn.lobes.PTSSNN
        A trained adapter (its batch norms' running statistics are folded).
    dt : float
        Seconds per step (one step per upstream frame) for the time constants.

    Returns
    -------
    graph : nir.NIRGraph
    split : dict
        ``chip`` and ``host`` (what runs where), ``input`` (the stream's
        channels and steps), ``output`` (channels, ``lag`` in steps), ``dt``,
        and the parameters and neurons on each side.

    Raises
    ------
    NotImplementedError, ValueError
        For an adapter the export does not map (more than two blocks, neurons
        other than PLIF with a hard reset).
    """
    _check_exportable(adapter)
    if adapter.variant == "vanilla":
        graph, chip, layout = _vanilla_graph(adapter, dt)
        host = ["read-out (mean firing rate of the class spikes; tie-break term from the "
                "hidden spikes)"]
        host_modules = []
    else:
        graph, chip, layout = _blocks_graph(adapter, dt)
        host_modules = [name for name in _HOST_PARTS if getattr(adapter, name, None) is not None]
        host = [_HOST_PARTS[name] for name in host_modules]
        if "bias_generator" in host_modules:
            source = {"full": "the attention's output prompts",
                      "no_prompt": "the mean attention output",
                      "no_attention": "the mean spikes of the last block"}[adapter.variant]
            host[host_modules.index("bias_generator")] = (
                f"homeostatic bias (from {source}, over the whole utterance)")
        if adapter.classifier.readout == "membrane":
            host[host_modules.index("classifier")] = (
                "classifier (Linear) and its read-out (mean membrane potential of leaky "
                "integrators, no spikes)")
    chip_parameters = sum(p.numel() for name, p in adapter.named_parameters()
                          if adapter.variant == "vanilla" or name.startswith("blocks."))
    split = {
        "format": "NIR",
        "variant": adapter.variant,
        "dt": dt,
        "steps_per_frame": 1,
        "whole": adapter.variant == "vanilla",
        "chip": chip,
        "host": host,
        **layout,
        "parameters": {"chip": int(chip_parameters),
                       "host": int(sum(p.numel() for p in adapter.parameters())
                                   - chip_parameters)},
        "neurons": {"chip": int(sum(_neurons(layer) for layer in _graph_neurons(adapter))),
                    "host": int(sum(_neurons(layer) for layer in _host_neurons(adapter)))},
        "neuron_rule": "nir.LIF, tau = dt / sigmoid(w), r = 1 (tau / dt for undecayed input), "
                       "v_leak = v_reset = 0; fires at v >= v_threshold",
    }
    return graph, split


def _blocks_graph(adapter, dt):
    import nir

    blocks = list(adapter.blocks)
    first = _folded_block(blocks[0])
    channels = first["same"].shape[1]
    n = first["n"]
    width = channels + n + 2
    start, stop = channels + n, channels + n + 1
    lagged = len(blocks) == 2
    nodes = {"input": nir.Input(input_type=np.array([width]))}
    edges = []

    # block 1: the host sends frame t's channels and frame t+1's backward-shifted ones
    out1 = first["same"].shape[0]
    now = np.zeros((out1, width))
    now[:, :channels] = first["same"]
    now[:, channels:start] = first["backward"][:, n : 2 * n]
    past = np.zeros((out1, width))
    past[:, :channels] = first["forward"]
    if lagged:  # silence block 1 on the step after the last frame
        bound = np.abs(past).sum(axis=1).max() + np.abs(first["bias"]).max()
        now[:, stop] = -2.0 * (bound + abs(float(blocks[0].neurons.v_threshold)) + 1.0)
    nodes["block1_now"] = nir.Affine(weight=_float32(now), bias=_float32(first["bias"]))
    nodes["block1_delay"] = nir.Delay(delay=np.full(width, dt))
    nodes["block1_past"] = nir.Linear(weight=_float32(past))
    nodes["block1_lif"] = _lif(blocks[0].neurons, out1, dt)
    edges += [("input", "block1_now"), ("input", "block1_delay"),
              ("block1_delay", "block1_past"), ("block1_now", "block1_lif"),
              ("block1_past", "block1_lif")]
    last, last_width = "block1_lif", out1
    chip = [f"blocks.0: temporal shift (nir.Delay), Linear {channels}->{out1} with batch norm "
            "folded and the shortcut added (nir.Affine, nir.Linear), PLIF (nir.LIF)"]
    if lagged:
        second = _folded_block(blocks[1])
        out2 = second["same"].shape[0]
        nodes["block2_next"] = nir.Affine(weight=_float32(second["backward"]),
                                          bias=_float32(second["bias"]))
        nodes["block2_delay1"] = nir.Delay(delay=np.full(out1, dt))
        nodes["block2_now"] = nir.Linear(weight=_float32(second["same"]))
        nodes["block2_delay2"] = nir.Delay(delay=np.full(out1, dt))
        nodes["block2_past"] = nir.Linear(weight=_float32(second["forward"]))
        neurons = blocks[1].neurons.node
        q = float(torch.sigmoid(neurons.w.detach().float()))
        bound = np.abs(second["backward"]).sum(axis=1).max() + np.abs(second["bias"]).max()
        threshold = abs(float(neurons.v_threshold))
        pulse = np.zeros((out2, width))
        pulse[:, start] = 2.0 * ((threshold / q if neurons.decay_input else threshold)
                                 + bound + 1.0)
        nodes["block2_start"] = nir.Linear(weight=_float32(pulse))
        nodes["block2_lif"] = _lif(blocks[1].neurons, out2, dt)
        edges += [("block1_lif", "block2_next"), ("block1_lif", "block2_delay1"),
                  ("block2_delay1", "block2_now"), ("block2_delay1", "block2_delay2"),
                  ("block2_delay2", "block2_past"), ("input", "block2_start"),
                  ("block2_next", "block2_lif"), ("block2_now", "block2_lif"),
                  ("block2_past", "block2_lif"), ("block2_start", "block2_lif")]
        last, last_width = "block2_lif", out2
        chip.append(f"blocks.1: temporal shift (nir.Delay, one-step output lag), Linear "
                    f"{out1}->{out2} with batch norm folded and the shortcut added "
                    "(nir.Affine, nir.Linear), PLIF (nir.LIF)")
    nodes["output"] = nir.Output(output_type=np.array([last_width]))
    edges.append((last, "output"))
    lag = 1 if lagged else 0
    layout = {
        "input": {
            "channels": width,
            "steps": "frames + 1" if lagged else "frames",
            "groups": [
                {"name": "frames", "start": 0, "size": channels,
                 "what": "the first block's input at frame t (saturated features"
                         + (", spike-encoded" if adapter.encoder is not None else "") + ")"},
                {"name": "lookahead", "start": channels, "size": n,
                 "what": f"channels {n}..{2 * n - 1} of frame t + 1 (0 at the last frame)"},
                {"name": "start", "start": start, "size": 1, "what": "1 at step 0"},
                {"name": "stop", "start": stop, "size": 1,
                 "what": "1 at step frames (after the last frame)" if lagged else "unused"},
            ],
        },
        "output": {"channels": last_width, "lag": lag,
                   "what": f"the spikes of blocks.{len(blocks) - 1}; step s holds frame s - {lag}"},
    }
    return nir.NIRGraph(nodes=nodes, edges=edges), chip, layout


def _vanilla_graph(adapter, dt):
    import nir

    projection, classifier = adapter.projection, adapter.classifier
    hidden, classes = projection.out_features, classifier.linear.out_features
    nodes = {
        "input": nir.Input(input_type=np.array([projection.in_features])),
        "projection": nir.Affine(weight=_float32(_numpy(projection.weight)),
                                 bias=_float32(_numpy(projection.bias))),
        "hidden_lif": _lif(adapter.neurons, hidden, dt),
        "classifier": nir.Affine(weight=_float32(_numpy(classifier.linear.weight)),
                                 bias=_float32(_numpy(classifier.linear.bias))),
    }
    if classifier.readout == "rate":
        nodes["classifier_neurons"] = _lif(classifier.neurons, classes, dt)
    else:  # non-firing leaky integrators
        tau = dt / float(torch.sigmoid(classifier.w.detach().float()))
        nodes["classifier_neurons"] = nir.LI(tau=np.full(classes, tau), r=np.ones(classes),
                                             v_leak=np.zeros(classes))
    # the output is [hidden spikes; class spikes]: two identity blocks summed into a
    # node (an Output node takes one edge) that passes them on
    width = hidden + classes
    nodes["out_hidden"] = nir.Linear(weight=_float32(np.eye(width, hidden)))
    nodes["out_classes"] = nir.Linear(weight=_float32(np.eye(width, classes, -hidden)))
    nodes["outputs"] = nir.Linear(weight=_float32(np.eye(width)))
    nodes["output"] = nir.Output(output_type=np.array([width]))
    edges = [("input", "projection"), ("projection", "hidden_lif"),
             ("hidden_lif", "classifier"), ("classifier", "classifier_neurons"),
             ("hidden_lif", "out_hidden"), ("classifier_neurons", "out_classes"),
             ("out_hidden", "outputs"), ("out_classes", "outputs"), ("outputs", "output")]
    what = "PLIF (nir.LIF)" if classifier.readout == "rate" else "leaky integrators (nir.LI)"
    chip = [f"projection: Linear {projection.in_features}->{hidden} (nir.Affine), PLIF (nir.LIF)",
            f"classifier: Linear {hidden}->{classes} (nir.Affine), {what}"]
    layout = {
        "input": {"channels": projection.in_features, "steps": "frames",
                  "groups": [{"name": "frames", "start": 0, "size": projection.in_features,
                              "what": "the upstream's features at frame t"}]},
        "output": {"channels": hidden + classes, "lag": 0,
                   "what": f"the hidden spikes (channels 0..{hidden - 1}) and the classifier's "
                           f"{'spikes' if classifier.readout == 'rate' else 'membranes'} "
                           f"(channels {hidden}..{hidden + classes - 1})"},
    }
    return nir.NIRGraph(nodes=nodes, edges=edges), chip, layout


def _graph_neurons(adapter):
    if adapter.variant == "vanilla":
        return [adapter.projection, adapter.classifier.linear]
    return [block.linear for block in adapter.blocks]


def _host_neurons(adapter):
    """Layers of spiking neurons left on the host (their widths)."""
    if adapter.variant == "vanilla":
        return []
    layers = [adapter.classifier.linear] if adapter.classifier.readout == "rate" else []
    if adapter.encoder is not None:
        layers.append(adapter.encoder.output_size)
    attention = getattr(adapter, "attention", None)
    if attention is not None:
        layers.append(attention.dim * (4 if attention.spiking_qkv else 1))
    return layers


def _neurons(layer):
    return layer if isinstance(layer, int) else layer.out_features


def write_nir(adapter, path, dt=DT):
    """Writes :func:`nir_graph` to ``path`` (NIR's HDF5 format); returns the split."""
    import nir

    from speechbrain_ptssnn.atomic import atomic_path

    graph, split = nir_graph(adapter, dt)
    path = os.fspath(path)
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
    split["file"] = os.path.basename(path)
    return split


# ------------------------------------------------------------------ host side
def host_stream(adapter, feats):
    """The graph's input for one utterance: ``[steps, channels]`` (see the module documentation).

    Arguments
    ---------
    adapter : speechbrain_ptssnn.lobes.PTSSNN
        The adapter (evaluation mode).
    feats : torch.Tensor
        One utterance's upstream features ``[frames, input_size]``, no padding.
    """
    with torch.no_grad():
        if adapter.variant == "vanilla":
            return feats.float()
        h = adapter.saturation(feats[None].float(), None)
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
                              feats.shape[0])
        flips = int((expected != outputs[:, : expected.shape[1]]).sum())
        with torch.no_grad():
            logits = adapter(feats[None])[0]
        chip_logits = host_logits(adapter, feats, outputs)
        result["utterances"] += 1
        result["frames"] += int(feats.shape[0])
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
