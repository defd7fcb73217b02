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
* **host**: what needs real arithmetic or the whole utterance: the frame
  pooling (with ``frame_stride`` > 1), the soft
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

**Round trip**: :mod:`~speechbrain_ptssnn.export.nir_roundtrip` builds the
stream, steps the graph imported back to PyTorch and compares its spikes, and
the logits the host computes from them, with the adapter's (its names are
importable from here too).
"""

import os

import numpy as np
import torch

from speechbrain_ptssnn.export.nir_roundtrip import (
    DT,
    _float32,
    check_round_trip,
    chip_frames,
    compare_nir,
    generated_utterance,
    host_logits,
    host_stream,
    import_nir,
    node_map,
    reference_outputs,
    run_graph,
    spikingjelly_node_map,
)

__all__ = [
    "DT", "nir_graph", "write_nir",
    # re-exported from nir_roundtrip
    "check_round_trip", "chip_frames", "compare_nir", "generated_utterance", "host_logits",
    "host_stream", "import_nir", "node_map", "reference_outputs", "run_graph",
    "spikingjelly_node_map",
]

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
    if adapter.frame_pooling.stride > 1:
        host.insert(0, f"frame pooling (mean of every {adapter.frame_pooling.stride} upstream "
                       "frames: one graph step per pooled frame)")
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


def _shortcut_words(block):
    return " and the shortcut added" if block.shortcut is not None else " (no shortcut)"


def _blocks_graph(adapter, dt):
    """The temporal-shift blocks' graph: ``(graph, chip, layout)``."""
    import nir

    blocks = list(adapter.blocks)
    first = _folded_block(blocks[0])
    channels = first["same"].shape[1]
    n = first["n"]
    width = channels + n + 2
    lagged = len(blocks) == 2
    nodes = {"input": nir.Input(input_type=np.array([width]))}
    edges = []
    last_width = _first_block_nodes(nodes, edges, blocks[0], first, width, lagged, dt)
    last = "block1_lif"
    chip = [f"blocks.0: temporal shift (nir.Delay), Linear {channels}->{last_width} with batch "
            f"norm folded{_shortcut_words(blocks[0])} (nir.Affine, nir.Linear), PLIF (nir.LIF)"]
    if lagged:
        out1 = last_width
        last_width = _second_block_nodes(nodes, edges, blocks[1], out1, width,
                                         channels + n, dt)
        last = "block2_lif"
        chip.append(f"blocks.1: temporal shift (nir.Delay, one-step output lag), Linear "
                    f"{out1}->{last_width} with batch norm folded{_shortcut_words(blocks[1])} "
                    "(nir.Affine, nir.Linear), PLIF (nir.LIF)")
    nodes["output"] = nir.Output(output_type=np.array([last_width]))
    edges.append((last, "output"))
    layout = _blocks_layout(adapter, channels, n, last_width, lagged)
    return nir.NIRGraph(nodes=nodes, edges=edges), chip, layout


def _first_block_nodes(nodes, edges, block, first, width, lagged, dt):
    """Adds the first block's nodes and edges (``block1_*``); returns its output channels.

    The host sends frame t's channels and frame t+1's backward-shifted ones.
    """
    import nir

    channels = first["same"].shape[1]
    n = first["n"]
    start, stop = channels + n, channels + n + 1
    out1 = first["same"].shape[0]
    now = np.zeros((out1, width))
    now[:, :channels] = first["same"]
    now[:, channels:start] = first["backward"][:, n : 2 * n]
    past = np.zeros((out1, width))
    past[:, :channels] = first["forward"]
    if lagged:  # silence block 1 on the step after the last frame
        bound = np.abs(past).sum(axis=1).max() + np.abs(first["bias"]).max()
        now[:, stop] = -2.0 * (bound + abs(float(block.neurons.v_threshold)) + 1.0)
    nodes["block1_now"] = nir.Affine(weight=_float32(now), bias=_float32(first["bias"]))
    nodes["block1_delay"] = nir.Delay(delay=np.full(width, dt))
    nodes["block1_past"] = nir.Linear(weight=_float32(past))
    nodes["block1_lif"] = _lif(block.neurons, out1, dt)
    edges += [("input", "block1_now"), ("input", "block1_delay"),
              ("block1_delay", "block1_past"), ("block1_now", "block1_lif"),
              ("block1_past", "block1_lif")]
    return out1


def _second_block_nodes(nodes, edges, block, out1, width, start, dt):
    """Adds the second block's nodes and edges (``block2_*``, one step behind the first,
    with the ``start`` pulse); returns its output channels."""
    import nir

    second = _folded_block(block)
    out2 = second["same"].shape[0]
    nodes["block2_next"] = nir.Affine(weight=_float32(second["backward"]),
                                      bias=_float32(second["bias"]))
    nodes["block2_delay1"] = nir.Delay(delay=np.full(out1, dt))
    nodes["block2_now"] = nir.Linear(weight=_float32(second["same"]))
    nodes["block2_delay2"] = nir.Delay(delay=np.full(out1, dt))
    nodes["block2_past"] = nir.Linear(weight=_float32(second["forward"]))
    neurons = block.neurons.node
    q = float(torch.sigmoid(neurons.w.detach().float()))
    bound = np.abs(second["backward"]).sum(axis=1).max() + np.abs(second["bias"]).max()
    threshold = abs(float(neurons.v_threshold))
    pulse = np.zeros((out2, width))
    pulse[:, start] = 2.0 * ((threshold / q if neurons.decay_input else threshold)
                             + bound + 1.0)
    nodes["block2_start"] = nir.Linear(weight=_float32(pulse))
    nodes["block2_lif"] = _lif(block.neurons, out2, dt)
    edges += [("block1_lif", "block2_next"), ("block1_lif", "block2_delay1"),
              ("block2_delay1", "block2_now"), ("block2_delay1", "block2_delay2"),
              ("block2_delay2", "block2_past"), ("input", "block2_start"),
              ("block2_next", "block2_lif"), ("block2_now", "block2_lif"),
              ("block2_past", "block2_lif"), ("block2_start", "block2_lif")]
    return out2


def _blocks_layout(adapter, channels, n, last_width, lagged):
    """The blocks' graph's ``input`` (stream channel groups) and ``output`` for the split."""
    start, stop = channels + n, channels + n + 1
    lag = 1 if lagged else 0
    return {
        "input": {
            "channels": channels + n + 2,
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
                   "what": f"the spikes of blocks.{len(adapter.blocks) - 1}; "
                           f"step s holds frame s - {lag}"},
    }


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
