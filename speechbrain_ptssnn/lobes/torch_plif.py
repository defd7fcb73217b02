"""The PLIF recurrence in plain PyTorch: no SpikingJelly, no Numba, exportable to ONNX.

:class:`~speechbrain_ptssnn.lobes.neurons.PLIF` with ``backend="torch"`` runs
its time loop here. Without gradients the loop is a TorchScript function, so
``torch.onnx.export(..., dynamo=False)`` turns it into one ONNX ``Loop`` over a
dynamic number of frames; with gradients it is a Python loop through autograd,
the Heaviside step differentiated by the node's surrogate.

The arithmetic is that of SpikingJelly's ``ParametricLIFNode`` and of the fused
kernels (:mod:`speechbrain_ptssnn.lobes.fused_plif`), operation for operation in
float32, so the spikes are identical (tested):

.. math::
    H_t = V_{t-1} + (X_t - V_{t-1})\\, q \\ \\text{(or } V_{t-1} - V_{t-1} q + X_t\\text{)}, \\quad
    S_t = \\Theta(H_t - V_{th}), \\quad V_t = H_t (1 - S_t),

with :math:`q = \\mathrm{sigmoid}(w)` computed once per call in float32 and passed
as a number (an ONNX constant, not a ``Sigmoid`` that onnxruntime would evaluate
with its own rounding).

:class:`TorchPLIFNode` holds the neurons' parameter ``w`` under the names
SpikingJelly's node uses (``node.w`` in a state dict), so a PLIF layer built with
``backend="torch"`` loads the checkpoints of any other backend without
importing SpikingJelly.
"""

import math
import warnings
from typing import List

import torch

with warnings.catch_warnings():  # torch.jit.script is deprecated, not yet replaced for ONNX loops
    warnings.simplefilter("ignore", FutureWarning)
    warnings.simplefilter("ignore", DeprecationWarning)

    @torch.jit.script
    def plif_scan(current: torch.Tensor, q: float, threshold: float,
                  decay_input: bool) -> torch.Tensor:
        """Spikes of PLIF neurons over ``current`` ``[time, ...]``, from a resting membrane."""
        v = torch.zeros_like(current[0])
        spikes: List[torch.Tensor] = []  # a list, not writes into one tensor: cheaper in ONNX
        for t in range(current.shape[0]):
            if decay_input:
                h = v + (current[t] - v) * q
            else:
                h = v - v * q + current[t]
            s = (h - threshold >= 0.0).to(current.dtype)
            spikes.append(s)
            v = h * (1.0 - s)
        return torch.stack(spikes)


class _SigmoidHeaviside(torch.autograd.Function):
    """Heaviside forward, derivative of ``sigmoid(alpha x)`` backward (SpikingJelly's Sigmoid)."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        sg = torch.sigmoid(ctx.alpha * x)
        return grad * ctx.alpha * sg * (1.0 - sg), None


class SigmoidSurrogate(torch.nn.Module):
    """The Heaviside step with SpikingJelly's sigmoid surrogate gradient, in plain PyTorch.

    Example
    -------
    >>> SigmoidSurrogate(alpha=5.0)(torch.tensor([-0.5, 0.0, 0.5])).tolist()
    [0.0, 1.0, 1.0]
    """

    def __init__(self, alpha=4.0):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        return _SigmoidHeaviside.apply(x, self.alpha)


class TorchPLIFNode(torch.nn.Module):
    """The state-free stand-in of SpikingJelly's ``ParametricLIFNode``: ``w`` and the settings.

    Arguments
    ---------
    init_tau : float
        Initial time constant: ``w = -log(init_tau - 1)``, as SpikingJelly sets it.
    v_threshold : float
        Firing threshold.
    surrogate : callable or None
        Builds the surrogate from ``alpha=steepness`` (a SpikingJelly surrogate
        class, say); None: :class:`SigmoidSurrogate`.
    steepness : float
        The surrogate's ``alpha``.
    detach_reset : bool
        Whether the reset is left out of the backward graph.
    decay_input : bool
        Whether the input decays with the membrane.

    Example
    -------
    >>> node = TorchPLIFNode(init_tau=2.0)
    >>> float(torch.sigmoid(node.w.detach())), list(node.state_dict())
    (0.5, ['w'])
    """

    v_reset = 0.0

    def __init__(self, init_tau=2.0, v_threshold=1.0, surrogate=None, steepness=4.0,
                 detach_reset=False, decay_input=True):
        super().__init__()
        self.w = torch.nn.Parameter(torch.as_tensor(-math.log(float(init_tau) - 1.0)))
        self.v_threshold = float(v_threshold)
        self.decay_input = bool(decay_input)
        self.detach_reset = bool(detach_reset)
        build = surrogate if surrogate is not None else SigmoidSurrogate
        self.surrogate_function = build(alpha=float(steepness))

    def extra_repr(self):
        return (f"v_threshold={self.v_threshold}, decay_input={self.decay_input}, "
                f"tau={1.0 / float(torch.sigmoid(self.w.detach())):.4g}")


def torch_plif(node, current):
    """Runs PLIF neurons over ``current`` ``[time, ...]`` in plain PyTorch.

    Arguments
    ---------
    node : TorchPLIFNode or spikingjelly.activation_based.neuron.ParametricLIFNode
        The neurons (``w``, ``v_threshold``, ``decay_input``, ``detach_reset``,
        ``surrogate_function``; hard reset to 0); their state is not used.
    current : torch.Tensor
        Input current ``[time, ...]``.

    Returns
    -------
    torch.Tensor
        Spikes, the shape of ``current``.

    Example
    -------
    >>> node = TorchPLIFNode(init_tau=2.0)
    >>> torch_plif(node, torch.tensor([[1.0], [1.0], [3.0]]))[:, 0].tolist()
    [0.0, 0.0, 1.0]
    """
    if float(getattr(node, "v_reset", 0.0) or 0.0) != 0.0:
        raise ValueError("the torch PLIF backend implements a hard reset to 0 only")
    threshold = float(node.v_threshold)
    decay_input = bool(node.decay_input)
    w = node.w.to(current.dtype)
    if torch.is_grad_enabled() and (current.requires_grad or w.requires_grad):
        return _autograd_loop(node, current, torch.sigmoid(w), threshold, decay_input)
    q = float(torch.sigmoid(w.detach()))  # a float32 value, exact as a Python float
    return plif_scan(current, q, threshold, decay_input)


def _autograd_loop(node, current, q, threshold, decay_input):
    """The same recurrence step by step through autograd (training)."""
    v = torch.zeros_like(current[0])
    spikes = []
    for x in current:
        h = v + (x - v) * q if decay_input else v - v * q + x
        s = node.surrogate_function(h - threshold)
        spikes.append(s)
        v = h * (1.0 - (s.detach() if node.detach_reset else s))
    return torch.stack(spikes)
