"""Parametric leaky integrate-and-fire neurons over batch-first sequences.

Every spiking layer of PTS-SNN is a layer of PLIF neurons (Fang et al., 2021):
SpikingJelly's ``ParametricLIFNode`` in multi-step mode. Its charge, fire and
reset equations (paper Eq. 1-3, with ``decay_input=True`` and a hard reset to
0) are

.. math::
    H[t] = V[t-1] + \\frac{1}{\\tau} (X[t] - V[t-1]), \\quad
    S[t] = \\Theta(H[t] - V_{th}), \\quad
    V[t] = H[t] (1 - S[t]),

with :math:`1/\\tau = \\mathrm{sigmoid}(w)` and ``w`` learned (one per layer).
The Heaviside step :math:`\\Theta` is differentiated through a surrogate
(a sigmoid of steepness 5 by default, as the paper).

SpikingJelly and Numba are imported when a layer first needs them, so a layer
built with ``backend="torch"`` (:mod:`speechbrain_ptssnn.lobes.torch_plif`)
runs, and exports to ONNX, with neither installed.
"""

import torch

from speechbrain_ptssnn.lobes.torch_plif import TorchPLIFNode, torch_plif

BACKENDS = ("auto", "spikingjelly", "fused", "torch")


class PLIF(torch.nn.Module):
    """A layer of PLIF neurons for ``[batch, time, channels]`` inputs.

    The membrane state is reset at the start of every call, so no utterance
    (and no batch) leaks into the next. Time runs along dimension 1; since
    padding follows the real frames, padded frames never influence real ones,
    and their spikes are zeroed when a ``mask`` is given.

    Arguments
    ---------
    init_tau : float
        Initial membrane time constant (> 1).
    v_threshold : float
        Firing threshold.
    surrogate : type, optional
        A SpikingJelly surrogate-gradient class (``surrogate.Sigmoid``,
        ``surrogate.ATan``, ...), instantiated with ``alpha=steepness``;
        None: SpikingJelly's ``Sigmoid`` (with ``backend="torch"``, the same
        sigmoid surrogate in plain PyTorch).
    steepness : float
        The surrogate's steepness ``alpha``.
    detach_reset : bool
        Whether the reset is excluded from the backward graph.
    decay_input : bool
        Whether the input decays with the membrane (Eq. 1 as written); with
        ``False`` the input is added undecayed, ``H[t] = V[t-1] (1 - 1/tau) + X[t]``,
        so a binary input spike alone reaches a threshold of 1.
    backend : str
        ``"spikingjelly"``: SpikingJelly's multi-step node; ``"fused"``: the
        same neuron through one compiled loop per direction on the CPU
        (:mod:`speechbrain_ptssnn.lobes.fused_plif`; identical spikes and
        gradients, several times faster); ``"auto"``: fused where it applies
        (float32 CPU input, sigmoid or arctan surrogate), SpikingJelly elsewhere;
        ``"torch"``: the same recurrence in plain PyTorch (a TorchScript loop
        without gradients, exportable to ONNX with a dynamic number of frames;
        identical spikes), with no SpikingJelly or Numba import. A built layer
        of any backend can be switched to it (``layer.backend = "torch"``, as
        the ONNX export does): every backend reads the same parameter ``node.w``.

    Example
    -------
    >>> plif = PLIF()
    >>> current = torch.full((1, 4, 2), 3.0)
    >>> plif(current)[0, :, 0].tolist()
    [1.0, 1.0, 1.0, 1.0]
    >>> plif(current, mask=torch.tensor([[True, True, False, False]]))[0, :, 0].tolist()
    [1.0, 1.0, 0.0, 0.0]
    """

    def __init__(
        self,
        init_tau=2.0,
        v_threshold=1.0,
        surrogate=None,
        steepness=5.0,
        detach_reset=False,
        decay_input=True,
        backend="auto",
    ):
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"unknown PLIF backend {backend!r}; expected one of {BACKENDS}")
        self.backend = backend
        if backend == "torch":
            self.node = TorchPLIFNode(init_tau, v_threshold, surrogate, steepness,
                                      detach_reset, decay_input)
            return
        from spikingjelly.activation_based import neuron
        from spikingjelly.activation_based import surrogate as surrogates

        surrogate = surrogate if surrogate is not None else surrogates.Sigmoid
        self.node = neuron.ParametricLIFNode(
            init_tau=float(init_tau),
            v_threshold=float(v_threshold),
            surrogate_function=surrogate(alpha=float(steepness)),
            detach_reset=detach_reset,
            decay_input=decay_input,
            step_mode="m",
        )

    def forward(self, current, mask=None):
        """Integrates the input current and emits spikes.

        Arguments
        ---------
        current : torch.Tensor
            Input current ``[batch, time, channels]``.
        mask : torch.Tensor, optional
            Boolean valid-frame mask ``[batch, time]``; spikes on padded
            frames are zeroed.

        Returns
        -------
        torch.Tensor
            Binary spikes, same shape and dtype as ``current``.
        """
        time_first = current.transpose(0, 1)
        if self.backend != "torch" and self._fused(time_first):
            from speechbrain_ptssnn.lobes.fused_plif import fused_plif

            spikes = fused_plif(self.node, time_first).transpose(0, 1)
        elif self.backend == "torch" or isinstance(self.node, TorchPLIFNode):
            spikes = torch_plif(self.node, time_first).transpose(0, 1)
        else:
            self.node.reset()
            spikes = self.node(time_first).transpose(0, 1)
        if mask is not None:
            spikes = spikes * mask.unsqueeze(-1).to(spikes.dtype)
        return spikes

    def _fused(self, current):
        if self.backend == "spikingjelly":
            return False
        from speechbrain_ptssnn.lobes.fused_plif import fusable

        if fusable(self.node, current):
            return True
        if self.backend == "fused":
            raise ValueError(
                "the fused PLIF backend needs float32 CPU input and a sigmoid or "
                f"arctan surrogate; got {current.dtype} on {current.device} with "
                f"{type(self.node.surrogate_function).__name__}"
            )
        return False

    @property
    def v_threshold(self):
        """The firing threshold."""
        return self.node.v_threshold


class ReLUNeuron(torch.nn.Module):
    """The ANN twin's stand-in for a layer of neurons: ``ReLU(current)``.

    Every lobe takes its neurons as an argument (``neuron=PLIF`` by default, a
    class or ``functools.partial`` called once per layer, with keyword
    settings such as ``decay_input`` where a layer needs them); passing this
    class instead builds the ANN twin, the same layers with ReLU activations
    and no state or parameter (for speed and energy comparisons). Keyword
    settings meant for PLIF are accepted and ignored.

    Example
    -------
    >>> relu = ReLUNeuron(decay_input=False)
    >>> relu(torch.tensor([[[-1.0], [2.0]]]), mask=torch.tensor([[True, False]])).tolist()
    [[[0.0], [0.0]]]
    """

    def __init__(self, **settings):
        super().__init__()

    def forward(self, current, mask=None):
        """``ReLU(current)``, zero on padded frames when a ``mask`` is given."""
        activations = torch.relu(current)
        if mask is not None:
            activations = activations * mask.unsqueeze(-1).to(activations.dtype)
        return activations
