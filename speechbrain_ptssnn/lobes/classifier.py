"""The spiking classifier: firing rates as logits (paper Eq. 4)."""

import math

import torch
from spikingjelly.activation_based import surrogate

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

    Arguments
    ---------
    input_size : int
        Channels of the calibrated frames.
    n_classes : int
        Emotions (output neurons).
    learn_output_scale : bool
        Whether to learn a scale on the rates.
    output_scale_init : float
        Initial scale when learned.
    init_tau, v_threshold, surrogate, steepness, spiking :
        The PLIF neurons' settings (see :class:`PLIF`); ``spiking=False``
        gives the ANN twin's ReLU.

    Example
    -------
    >>> classifier = SpikingClassifier(input_size=8, n_classes=4)
    >>> rates = classifier(torch.randn(2, 6, 8) * 5, torch.tensor([1.0, 0.5]))
    >>> rates.shape, bool(((rates >= 0) & (rates <= 1)).all())
    (torch.Size([2, 4]), True)
    """

    def __init__(
        self,
        input_size,
        n_classes,
        learn_output_scale=False,
        output_scale_init=10.0,
        init_tau=2.0,
        v_threshold=1.0,
        surrogate=surrogate.Sigmoid,
        steepness=5.0,
        spiking=True,
    ):
        super().__init__()
        self.linear = torch.nn.Linear(input_size, n_classes)
        self.neurons = PLIF(init_tau, v_threshold, surrogate, steepness, spiking=spiking)
        if learn_output_scale:
            self.log_scale = torch.nn.Parameter(torch.tensor(math.log(output_scale_init)))
        else:
            self.register_parameter("log_scale", None)

    def forward(self, x, lengths=None):
        """Maps frames ``[batch, time, input_size]`` to logits ``[batch, n_classes]``."""
        mask = lengths_to_mask(lengths, x.shape[1], device=x.device)
        spikes = self.neurons(self.linear(x), mask)
        rates = masked_mean(spikes, mask.expand(x.shape[0], -1))
        if self.log_scale is not None:
            return rates * self.log_scale.exp()
        return rates
