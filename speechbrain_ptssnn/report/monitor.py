"""Spiking health: firing rates of every PLIF layer, and the classifier's input current.

Both monitors are context managers that attach forward hooks and remove them
on exit; the model runs unchanged. Padded frames are excluded using the mask
each :class:`~speechbrain_ptssnn.lobes.PLIF` layer receives (its second
argument): a position counts only where the mask is true. The attention's
PLIF layer also processes its ``L_p`` prompts, which are valid positions
(they spike and cost accumulates like frames).
"""

import numpy as np
import torch

from speechbrain_ptssnn.lobes.neurons import PLIF

#: A neuron firing on at least this fraction of its valid frames is saturated.
SATURATION_RATE = 0.95


def _valid_mask(mask, spikes):
    """The boolean ``[batch, time]`` mask of valid positions for ``spikes``."""
    batch, time = spikes.shape[0], spikes.shape[1]
    if mask is None:
        return torch.ones(batch, time, dtype=torch.bool, device=spikes.device)
    return mask.to(torch.bool).expand(batch, time)


def _mask_argument(args, kwargs):
    if len(args) > 1:
        return args[1]
    return kwargs.get("mask")


def rate_statistics(spike_counts, positions, saturation=SATURATION_RATE, bins=20):
    """Per-neuron rates, and the silent and saturated fractions of a layer.

    Arguments
    ---------
    spike_counts : torch.Tensor
        Spikes of each neuron summed over the valid positions ``[neurons]``.
    positions : int
        Valid positions each neuron saw.
    saturation : float
        A neuron firing on at least this fraction of positions is saturated.
    bins : int
        Bins of the rate histogram over [0, 1].

    Returns
    -------
    dict
        ``neurons``, ``positions``, ``spikes``, ``mean_rate``,
        ``silent_fraction`` (never fired), ``saturated_fraction``,
        ``histogram`` (``bins`` counts over [0, 1]) and ``rates`` (a list).

    Example
    -------
    >>> stats = rate_statistics(torch.tensor([0.0, 2.0, 10.0, 10.0]), positions=10)
    >>> stats["mean_rate"], stats["silent_fraction"], stats["saturated_fraction"]
    (0.55, 0.25, 0.5)
    """
    counts = spike_counts.double().cpu()
    rates = counts / max(int(positions), 1)
    histogram, _ = np.histogram(rates.numpy(), bins=bins, range=(0.0, 1.0))
    neurons = int(counts.numel())
    return {
        "neurons": neurons,
        "positions": int(positions),
        "spikes": int(counts.sum()),
        "mean_rate": float(rates.mean()) if neurons else 0.0,
        "silent_fraction": float((counts == 0).double().mean()) if neurons else 0.0,
        "saturated_fraction": float((rates >= saturation).double().mean()) if neurons else 0.0,
        "histogram": histogram.tolist(),
        "rates": rates.tolist(),
    }


class SpikeMonitor:
    """Counts every neuron's spikes over valid frames, per spiking layer.

    Attaches a forward hook to each module of ``layer_types`` (every
    :class:`~speechbrain_ptssnn.lobes.PLIF` by default); each hook adds the
    spikes of the valid positions (mask true) to its layer's per-neuron
    counts and the number of valid positions to its total.

    Arguments
    ---------
    model : torch.nn.Module
        The model to watch.
    layer_types : tuple of type
        Modules whose output ``[batch, time, neurons]`` is spikes and whose
        second argument (or ``mask=``) is the valid-frame mask.

    Example
    -------
    >>> plif = PLIF()
    >>> current = torch.tensor([[[3.0, 0.0], [3.0, 0.0], [3.0, 0.0]]])
    >>> with SpikeMonitor(torch.nn.ModuleDict({"layer": plif})) as monitor:
    ...     _ = plif(current, torch.tensor([[True, True, False]]))
    >>> monitor.counts["layer"].tolist(), monitor.positions["layer"]
    ([2.0, 0.0], 2)
    """

    def __init__(self, model, layer_types=(PLIF,)):
        self.model = model
        self.layer_types = tuple(layer_types)
        self.modules = {
            name: module
            for name, module in model.named_modules()
            if isinstance(module, self.layer_types)
        }
        self.counts = {name: None for name in self.modules}
        self.positions = dict.fromkeys(self.modules, 0)
        self._handles = []

    def _hook(self, name):
        def hook(module, args, kwargs, output):
            spikes = output.detach()
            valid = _valid_mask(_mask_argument(args, kwargs), spikes)
            counts = (spikes.double() * valid.unsqueeze(-1)).sum(dim=(0, 1)).cpu()
            previous = self.counts[name]
            self.counts[name] = counts if previous is None else previous + counts
            self.positions[name] += int(valid.sum())

        return hook

    def __enter__(self):
        for name, module in self.modules.items():
            self._handles.append(module.register_forward_hook(self._hook(name), with_kwargs=True))
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def summary(self, saturation=SATURATION_RATE, bins=20):
        """:func:`rate_statistics` of every layer that ran.

        Arguments
        ---------
        saturation : float
            The saturation rate.
        bins : int
            Histogram bins.

        Returns
        -------
        dict
            Layer name → statistics.
        """
        return {
            name: rate_statistics(counts, self.positions[name], saturation, bins)
            for name, counts in self.counts.items()
            if counts is not None
        }


class ClassifierCurrentProbe:
    """The classifier neurons' input current, with and without the homeostatic bias.

    For models with a ``classifier`` (a
    :class:`~speechbrain_ptssnn.lobes.SpikingClassifier`: ``linear`` then
    ``neurons``) and optionally a ``bias_generator``: records, on every valid
    frame, the current ``I = W (h + b) + c`` the classifier's PLIF neurons
    receive and the current they would receive without the bias,
    ``I - W b`` (exact: the classifier is linear). It also runs the neurons
    on the bias-free current (through ``forward``, so no hook sees it) to
    count, per utterance and class neuron, how often a neuron is silent (no
    spike) or saturated (rate ≥ 0.95) with and without the bias.

    Arguments
    ---------
    model : torch.nn.Module
        A PTS-SNN adapter (or any model with the same attribute names).

    Example
    -------
    >>> from speechbrain_ptssnn.lobes import PTSSNN
    >>> model = PTSSNN(input_size=8, n_classes=2, hidden_sizes=(8, 4), bias_hidden_size=2).eval()
    >>> with ClassifierCurrentProbe(model) as probe:
    ...     _ = model(torch.randn(1, 6, 8))
    >>> probe.available, len(probe.currents_with), probe.threshold
    (True, 12, 1.0)
    """

    def __init__(self, model):
        classifier = getattr(model, "classifier", None)
        neurons = getattr(classifier, "neurons", None)
        self.available = isinstance(neurons, PLIF)
        self.bias_generator = getattr(model, "bias_generator", None)
        self.has_bias = self.bias_generator is not None
        self.classifier = classifier
        self.threshold = float(classifier.neurons.v_threshold) if self.available else None
        self.currents_with = []
        self.currents_without = []
        self.utterance_rates_with = []
        self.utterance_rates_without = []
        self._bias = None
        self._handles = []

    def _bias_hook(self, module, args, output):
        self._bias = output.detach()

    def _neuron_hook(self, module, args, kwargs, spikes):
        current = args[0].detach()
        valid = _valid_mask(_mask_argument(args, kwargs), current)
        if self._bias is not None:
            shift = self._bias @ self.classifier.linear.weight.detach().t()
            without = current - shift.unsqueeze(1)
            # forward(), not __call__: no hook sees this second run
            spikes_without = module.forward(without, valid)
        else:
            without, spikes_without = current, spikes.detach()
        self._bias = None
        weights = valid.unsqueeze(-1).to(current.dtype)
        frames = valid.sum(dim=1, keepdim=True).clamp(min=1).to(current.dtype)
        self.utterance_rates_with.append(((spikes.detach() * weights).sum(1) / frames).cpu())
        self.utterance_rates_without.append(((spikes_without * weights).sum(1) / frames).cpu())
        self.currents_with.extend(current[valid].flatten().cpu().tolist())
        self.currents_without.extend(without[valid].flatten().cpu().tolist())

    def __enter__(self):
        if self.available:
            if self.has_bias:
                self._handles.append(self.bias_generator.register_forward_hook(self._bias_hook))
            self._handles.append(
                self.classifier.neurons.register_forward_hook(self._neuron_hook, with_kwargs=True)
            )
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def summary(self, saturation=SATURATION_RATE):
        """Statistics of the recorded currents and per-utterance rates.

        Arguments
        ---------
        saturation : float
            The saturation rate.

        Returns
        -------
        dict or None
            ``None`` without a spiking classifier; else ``threshold``,
            ``has_bias``, ``frames`` and, for ``with_bias`` and
            ``without_bias``: ``mean``, ``std``, percentiles ``p5``/``p50``/``p95``
            of the current, ``above_threshold`` (fraction of valid frame ×
            neuron currents ≥ threshold), and ``silent_neurons`` /
            ``saturated_neurons`` (fractions of utterance × class-neuron
            pairs whose rate is 0 / ≥ ``saturation``).
        """
        if not self.available or not self.currents_with:
            return None

        def describe(currents, rates):
            values = np.asarray(currents, dtype=np.float64)
            rates = torch.cat(rates)
            return {
                "mean": float(values.mean()),
                "std": float(values.std()),
                "p5": float(np.percentile(values, 5)),
                "p50": float(np.percentile(values, 50)),
                "p95": float(np.percentile(values, 95)),
                "above_threshold": float((values >= self.threshold).mean()),
                "silent_neurons": float((rates == 0).double().mean()),
                "saturated_neurons": float((rates >= saturation).double().mean()),
            }

        return {
            "threshold": self.threshold,
            "has_bias": self.has_bias,
            "values": len(self.currents_with),
            "with_bias": describe(self.currents_with, self.utterance_rates_with),
            "without_bias": describe(self.currents_without, self.utterance_rates_without),
        }
