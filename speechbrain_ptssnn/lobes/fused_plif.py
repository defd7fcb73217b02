"""A fused PLIF recurrence for the CPU: one compiled loop per direction.

SpikingJelly's multi-step PLIF runs its time loop step by step through
PyTorch, and its backward through one autograd node per step; on the CPU the
per-step overhead, not the arithmetic, dominates. Here the whole forward
recurrence and the whole backward-through-time are each one Numba-compiled
loop over ``[time, neurons]``, wrapped in one ``torch.autograd.Function``.
It computes exactly the neuron of :class:`speechbrain_ptssnn.lobes.neurons.PLIF`
(decaying or undecayed input, hard reset to 0, reset kept in the graph) with
the sigmoid or arctan surrogate; anything else falls back to SpikingJelly.

Forward, with :math:`q = \\mathrm{sigmoid}(w) = 1/\\tau`:

.. math::
    H_t = (1 - q) V_{t-1} + q X_t \\ \\text{(or } + X_t\\text{)}, \\quad
    S_t = \\Theta(H_t - V_{th}), \\quad V_t = H_t (1 - S_t).

Backward, with :math:`\\sigma'_t` the surrogate derivative at
:math:`H_t - V_{th}` and :math:`g^V_t` the gradient reaching :math:`V_t`:

.. math::
    g^H_t = g^S_t \\sigma'_t + g^V_t (1 - S_t - H_t \\sigma'_t), \\quad
    g^X_t = q\\, g^H_t \\ (\\text{or } g^H_t), \\quad
    g^V_{t-1} = (1 - q)\\, g^H_t,

    \\frac{\\partial L}{\\partial q} = \\sum_t g^H_t (X_t - V_{t-1})
    \\ (\\text{or } -\\sum_t g^H_t V_{t-1}), \\quad
    \\frac{\\partial L}{\\partial w} = q (1 - q) \\frac{\\partial L}{\\partial q}.
"""

import math

import numba
import numpy
import torch
from spikingjelly.activation_based import surrogate

from speechbrain_ptssnn.lobes.torch_plif import SigmoidSurrogate

#: surrogate class → code used by the kernels
SURROGATES = {surrogate.Sigmoid: 0, surrogate.ATan: 1, SigmoidSurrogate: 0}


@numba.njit(cache=True)
def _forward(x, q, threshold, decay_input):
    steps, neurons = x.shape
    spikes = numpy.empty_like(x)
    membrane = numpy.empty_like(x)
    v = numpy.zeros(neurons, dtype=x.dtype)
    for t in range(steps):
        for n in range(neurons):
            if decay_input:
                h = v[n] + (x[t, n] - v[n]) * q
            else:
                h = v[n] - v[n] * q + x[t, n]
            s = 1.0 if h - threshold >= 0.0 else 0.0
            spikes[t, n] = s
            membrane[t, n] = h
            v[n] = h * (1.0 - s)
    return spikes, membrane


@numba.njit(cache=True)
def _backward(grad_spikes, x, membrane, spikes, q, threshold, decay_input, kind, alpha):
    steps, neurons = x.shape
    grad_x = numpy.empty_like(x)
    grad_v = numpy.zeros(neurons, dtype=numpy.float64)
    grad_q = 0.0
    for t in range(steps - 1, -1, -1):
        for n in range(neurons):
            h = membrane[t, n]
            s = spikes[t, n]
            u = h - threshold
            if kind == 0:
                sg = 1.0 / (1.0 + math.exp(-alpha * u))
                slope = alpha * sg * (1.0 - sg)
            else:
                z = 0.5 * math.pi * alpha * u
                slope = 0.5 * alpha / (1.0 + z * z)
            grad_h = grad_spikes[t, n] * slope + grad_v[n] * (1.0 - s - h * slope)
            v_prev = membrane[t - 1, n] * (1.0 - spikes[t - 1, n]) if t > 0 else 0.0
            if decay_input:
                grad_x[t, n] = grad_h * q
                grad_q += grad_h * (x[t, n] - v_prev)
            else:
                grad_x[t, n] = grad_h
                grad_q -= grad_h * v_prev
            grad_v[n] = grad_h * (1.0 - q)
    return grad_x, grad_q


class FusedPLIFFunction(torch.autograd.Function):
    """Spikes of a PLIF layer over ``[time, neurons]`` float32 CPU input."""

    @staticmethod
    def forward(ctx, x, w, threshold, decay_input, kind, alpha):
        # the membrane is computed in float32 with the float32 q, as SpikingJelly
        # does: binary inputs land exactly on the threshold, so rounding matters
        q = torch.sigmoid(w.detach().float()).numpy()[()]
        spikes, membrane = _forward(x.detach().numpy(), q, threshold, decay_input)
        spikes, membrane = torch.from_numpy(spikes), torch.from_numpy(membrane)
        ctx.save_for_backward(x, membrane, spikes)
        ctx.settings = (float(q), threshold, decay_input, kind, alpha)
        return spikes

    @staticmethod
    def backward(ctx, grad_spikes):
        x, membrane, spikes = ctx.saved_tensors
        q, threshold, decay_input, kind, alpha = ctx.settings
        grad_x, grad_q = _backward(
            grad_spikes.contiguous().numpy(), x.detach().numpy(), membrane.numpy(),
            spikes.numpy(), q, threshold, decay_input, kind, alpha,
        )
        grad_w = torch.tensor(grad_q * q * (1.0 - q), dtype=torch.float32)
        return torch.from_numpy(grad_x), grad_w, None, None, None, None


def fusable(node, current):
    """Whether :func:`fused_plif` computes this node on this input.

    Arguments
    ---------
    node : spikingjelly.activation_based.neuron.ParametricLIFNode
        The neurons.
    current : torch.Tensor
        Their input.

    Returns
    -------
    bool
        True for float32 CPU input, a hard reset to 0 kept in the graph and a
        sigmoid or arctan surrogate.
    """
    return (
        current.device.type == "cpu"
        and current.dtype == torch.float32
        and type(node.surrogate_function) in SURROGATES
        and node.v_reset == 0.0
        and not node.detach_reset
    )


def fused_plif(node, current):
    """Runs a ``ParametricLIFNode`` over ``[time, ...]`` with the fused kernels.

    Arguments
    ---------
    node : spikingjelly.activation_based.neuron.ParametricLIFNode
        The neurons (their ``w``, threshold, surrogate and ``decay_input``
        are used; their state is not: the membrane starts at 0).
    current : torch.Tensor
        Input current ``[time, ...]``, float32 on the CPU.

    Returns
    -------
    torch.Tensor
        Spikes, the shape of ``current``.

    Example
    -------
    >>> from spikingjelly.activation_based import neuron
    >>> node = neuron.ParametricLIFNode(init_tau=2.0, step_mode="m")
    >>> current = torch.randn(50, 3, 4) * 2
    >>> bool(torch.equal(fused_plif(node, current), node(current)))
    True
    """
    shape = current.shape
    flat = current.reshape(shape[0], -1).contiguous()
    spikes = FusedPLIFFunction.apply(
        flat,
        node.w,
        float(node.v_threshold),
        bool(node.decay_input),
        SURROGATES[type(node.surrogate_function)],
        float(node.surrogate_function.alpha),
    )
    return spikes.reshape(shape)
