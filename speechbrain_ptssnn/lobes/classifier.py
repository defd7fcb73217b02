"""The spiking classifier: firing rates as logits (paper Eq. 4)."""

import math

import torch

from speechbrain_ptssnn.lobes.masking import lengths_to_mask, masked_mean
from speechbrain_ptssnn.lobes.neurons import PLIF


class SpikingClassifier(torch.nn.Module):
    """One PLIF neuron per class; the logit is its mean firing rate.

    .. math::
        z_c = \\frac{1}{T_{valid}} \\sum_{t \\le T_{valid}} S_{t,c}, \\qquad
        \\hat{y} = \\arg\\max_c z_c \\qquad (4)

    Rates lie in [0, 1], so a softmax over them is nearly uniform and says
    little about confidence. With ``learn_output_scale=True`` the rates are
    multiplied by a learned positive scale (a documented deviation from the
    paper): the decision (the arg max) is unchanged, the probabilities become
    informative. Off by default.

    Eq. 4 leaves ties undecided, and they are common: an utterance for which
    no output neuron fires has all rates 0. With ``break_ties=True`` (the
    default; a documented addition) each logit gets a term smaller than half
    the rate resolution of its utterance,

    .. math::
        z_c = r_c + \frac{\tanh(\bar{I}_c)}{2 T_{valid} + 1},

    with :math:`\bar{I}_c` the neuron's mean input current over the valid
    frames. Rates differ by at least :math:`1/T_{valid}`, so every decision
    Eq. 4 makes is kept; ties go to the neuron closest to firing.

    With ``readout="membrane"`` (a deviation from Eq. 4, the usual read-out
    of SNN classifiers) the output neurons never fire: each is a leaky
    integrator of its input current, :math:`V_t = V_{t-1} + (I_t - V_{t-1})/\\tau`
    from :math:`V_0 = 0` with a learned :math:`\\tau`, and the logit is its mean
    membrane potential over the valid frames,

    .. math::
        z_c = \\frac{1}{T_{valid}} \\sum_{t \\le T_{valid}} V_{t,c}
            = \\frac{1}{T_{valid}} \\sum_{s \\le T_{valid}}
              \\big(1 - (1 - 1/\\tau)^{T_{valid} - s + 1}\\big) I_{s,c},

    computed in this closed form. The logits are real-valued, so the loss
    sees graded evidence instead of rates quantised to :math:`1/T_{valid}`,
    and no tie-break is needed.

    Arguments
    ---------
    input_size : int
        Channels of the calibrated frames.
    n_classes : int
        Emotions (output neurons).
    readout : str
        ``"rate"`` (Eq. 4: mean firing rate) or ``"membrane"`` (mean membrane
        potential of non-firing integrators).
    learn_output_scale : bool
        Whether to learn a scale on the rates.
    output_scale_init : float
        Initial scale when learned.
    break_ties : bool
        Whether tied rates are decided by the mean input current.
    neuron : callable
        Builds the output neurons of the rate read-out (:class:`PLIF` by
        default; :class:`~speechbrain_ptssnn.lobes.neurons.ReLUNeuron` for the
        ANN twin).
    membrane_init_tau : float
        Initial time constant of the membrane read-out's integrators.

    Example
    -------
    >>> classifier = SpikingClassifier(input_size=8, n_classes=4, break_ties=False)
    >>> rates = classifier(torch.randn(2, 6, 8) * 5, torch.tensor([1.0, 0.5]))
    >>> rates.shape, bool(((rates >= 0) & (rates <= 1)).all())
    (torch.Size([2, 4]), True)
    >>> classifier.break_ties = True
    >>> silent = torch.zeros(1, 6, 8)
    >>> classifier(silent).argmax().item() == classifier.linear.bias.argmax().item()
    True
    >>> integrator = SpikingClassifier(input_size=8, n_classes=4, readout="membrane")
    >>> integrator(torch.randn(2, 6, 8), torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 4])
    """

    READOUTS = ("rate", "membrane")

    def __init__(
        self,
        input_size,
        n_classes,
        readout="rate",
        learn_output_scale=False,
        output_scale_init=10.0,
        break_ties=True,
        neuron=PLIF,
        membrane_init_tau=2.0,
    ):
        super().__init__()
        if readout not in self.READOUTS:
            raise ValueError(f"unknown readout {readout!r}; expected one of {self.READOUTS}")
        self.readout = readout
        self.linear = torch.nn.Linear(input_size, n_classes)
        if readout == "rate":
            self.neurons = neuron()
        else:  # 1/tau = sigmoid(w), as the PLIF neurons
            self.w = torch.nn.Parameter(torch.tensor(-math.log(membrane_init_tau - 1.0)))
        self.break_ties = break_ties
        if learn_output_scale:
            self.log_scale = torch.nn.Parameter(torch.tensor(math.log(output_scale_init)))
        else:
            self.register_parameter("log_scale", None)

    def forward(self, x, lengths=None):
        """Maps frames ``[batch, time, input_size]`` to logits ``[batch, n_classes]``."""
        mask = lengths_to_mask(lengths, x.shape[1], device=x.device).expand(x.shape[0], -1)
        current = self.linear(x)
        if self.readout == "membrane":
            logits = self._mean_membrane(current, mask)
        else:
            logits = masked_mean(self.neurons(current, mask), mask)
        if self.break_ties and self.readout == "rate":
            n_frames = mask.sum(dim=1, keepdim=True).to(logits.dtype)
            logits = logits + torch.tanh(masked_mean(current, mask)) / (2 * n_frames + 1)
        if self.log_scale is not None:
            return logits * self.log_scale.exp()
        return logits

    def _mean_membrane(self, current, mask):
        """Mean potential of leaky integrators over the valid frames (closed form)."""
        n_frames = mask.sum(dim=1, keepdim=True)
        steps = torch.arange(current.shape[1], device=current.device)
        remaining = (n_frames - steps).clamp(min=0).to(current.dtype)
        weights = 1.0 - (1.0 - torch.sigmoid(self.w)) ** remaining
        weighted = (weights.unsqueeze(-1) * current).sum(dim=1)
        return weighted / n_frames.clamp(min=1).to(current.dtype)

    def extra_repr(self):
        return f"readout={self.readout}"
