"""The adapter's operations per layer: ACs, MACs and the ANN twin's MACs (paper Eq. 19-21).

The counts are turned into energy by :mod:`~speechbrain_ptssnn.report.energy_model`
(``E = 4.6 pJ x MACs + 0.9 pJ x ACs``), which also states what is counted in words
(:data:`COUNTED`, :data:`NOT_COUNTED`); its names are re-exported here.

What is counted, layer by layer (:class:`OperationCounter`):

* a linear layer whose input is spikes costs accumulates: ``N_AC = (number of
  non-zero inputs) × fan-out``, an input holding an integer count ``k`` counting
  ``k`` times (``N_AC = sum(input) × out_features``);
* a linear layer with a real-valued input costs ``rows × in × out`` MACs: the
  first projection of the continuous features (the first temporal-shift
  block's linear and shortcut, the vanilla SNN's projection), the classifier
  on the real-valued calibrated frames, the homeostatic bias generator's MLP,
  both layers of the linear baseline;
* the attention's two products of real tensors, ``K̂ᵀV`` and ``Q·(K̂ᵀV)``,
  ``2 · n · d_k · D`` MACs over its ``n`` positions (``L_p`` prompts + frames;
  ``d_k = D`` unless the keys are narrower),
  always (dense, whatever the values); its Q, K and V projections read
  spikes and are linear layers (ACs). With spiking queries, keys and values
  (``spiking_qkv``) the products need no multiplication: ``KᵀV`` counts
  coincident spikes, ``Σ_n |K_n|·|V_n|`` ACs (``|K_n|`` the keys' spikes at
  position ``n``), then each of the ``d_k · D`` context entries is scaled once by
  ``1/‖K_d‖`` (and ``1/√d_k`` when scaled), ``d_k · D`` MACs per utterance; ``Q·C``
  adds a context row per query spike, ``Σ_n |Q_n| · D`` ACs;
* the spike encoder's per-channel affine map (its batch norm, on real-valued
  features with no linear layer to fold into): one MAC per encoded channel
  and valid frame.

Which case applies is decided from the data, per call: an input whose
elements are all non-negative integers is a spike (count) input.

Not counted: normalisations (the soft saturation's LayerNorm, its ``tanh``,
the key column norms of Eq. 9), batch norm (folded into the preceding
linear layer at inference: ``BN(Wx) = W'x + b'``, zero cost), bias additions
(they initialise the accumulator), the neurons' membrane updates, the
temporal shift (memory moves), residual additions, masking, the pooling of
rates into logits, softmax, and the upstream encoder (reported separately,
:func:`~speechbrain_ptssnn.report.upstream_energy.emotion2vec_macs`).

The ANN twin has the same layers with ReLU instead of PLIF: every linear layer
and product costs ``rows × in × out`` MACs whatever its input.

The counting uses SpikingJelly's module-level counting machinery
(``op_counter.ModuleCounter`` and ``ModuleCounterMode``) with the rules above.
SpikingJelly's stock ``SynOpCounter`` and ``MACCounter`` (aten-level) are not
the primary count, for three reasons: they decide "spike or not" for *both*
operands of a product, so an operand that happens to be binary (the bias
generator's zero-initialised output layer, the all-zero keys of a silent
attention) is taken for a spike train; an integer count ``k > 1`` is taken for
a real value (MACs instead of ``k`` ACs); and on a padded batch they count the
padded rows of every dense product. :func:`stock_counter_check` runs them on a
few utterances for comparison. Operations are counted one utterance at a time
(no padding at all), so padded frames never enter a count.
"""

import functools

import torch
from spikingjelly.activation_based.op_counter import (
    DispatchCounterMode,
    MACCounter,
    ModuleCounter,
    ModuleCounterMode,
    SynOpCounter,
)

from speechbrain_ptssnn.lobes.attention import SpikingSparseLinearAttention
from speechbrain_ptssnn.lobes.masking import lengths_to_mask
from speechbrain_ptssnn.lobes.spike_encoder import SpikeEncoder
from speechbrain_ptssnn.report.energy_model import (
    COUNTED,
    E_AC_PJ,
    E_MAC_PJ,
    NOT_COUNTED,
    energy_mj,
    energy_summary,
)

__all__ = [
    "COUNTED", "E_AC_PJ", "E_MAC_PJ", "NOT_COUNTED", "AccumulateCounter",
    "DenseMultiplyAccumulateCounter", "LinearCallMemo", "MultiplyAccumulateCounter",
    "OperationCounter", "attention_product_macs", "attention_product_operations", "encoder_macs",
    "energy_mj", "energy_summary", "is_spike_count", "linear_operations", "stock_counter_check",
]


def is_spike_count(x):
    """Whether every element of ``x`` is a non-negative integer (spikes or spike counts).

    Arguments
    ---------
    x : torch.Tensor
        A layer's input.

    Returns
    -------
    bool

    Example
    -------
    >>> is_spike_count(torch.tensor([0.0, 1.0, 2.0])), is_spike_count(torch.tensor([0.0, 0.5]))
    (True, False)
    """
    if x.dtype == torch.bool:
        return True
    if x.numel() == 0:
        return True
    if bool(x.min() < 0):
        return False
    if not x.is_floating_point():
        return True
    return torch.equal(x, torch.round(x))


def linear_operations(module, x):
    """Operations of one call of a linear layer, as run and in the ANN twin.

    Arguments
    ---------
    module : torch.nn.Linear
        The layer.
    x : torch.Tensor
        Its input ``[..., in_features]`` (no padding).

    Returns
    -------
    dict
        ``acs`` and ``macs`` of the layer as run (ACs when ``x`` holds spike
        counts, MACs otherwise) and ``ann_macs`` (always dense).

    Example
    -------
    >>> layer = torch.nn.Linear(4, 3)
    >>> linear_operations(layer, torch.tensor([[1.0, 0.0, 2.0, 0.0]]))
    {'acs': 9, 'macs': 0, 'ann_macs': 12}
    >>> linear_operations(layer, torch.tensor([[0.5, 0.0, 2.0, 0.0]]))
    {'acs': 0, 'macs': 12, 'ann_macs': 12}
    """
    rows = x.numel() // module.in_features
    dense = rows * module.in_features * module.out_features
    if is_spike_count(x):
        acs = int(round(float(x.double().sum()))) * module.out_features
        return {"acs": acs, "macs": 0, "ann_macs": dense}
    return {"acs": 0, "macs": dense, "ann_macs": dense}


class LinearCallMemo:
    """The last linear call's operations, computed once for the counters of one count.

    The counters of a ``ModuleCounterMode`` see each call in a row: the first
    computes :func:`linear_operations`, the others reuse it. Each count (an
    :class:`OperationCounter`, or a lone counter) owns its memo.

    Example
    -------
    >>> memo, layer = LinearCallMemo(), torch.nn.Linear(2, 1)
    >>> memo.operations(layer, torch.ones(1, 2))
    {'acs': 2, 'macs': 0, 'ann_macs': 2}
    """

    def __init__(self):
        self._last = None

    def operations(self, module, x):
        """:func:`linear_operations` of ``module`` on ``x`` (a copy), computed once per call."""
        last = self._last
        if last is None or last[0] is not module or last[1] is not x or last[2] != x._version:
            last = self._last = (module, x, x._version, linear_operations(module, x))
        return dict(last[3])

    def clear(self):
        """Forgets the last call (and lets its input go)."""
        self._last = None


def attention_product_operations(module, x, lengths=None, qkv=None):
    """Operations of the attention's two products, as run and in the ANN twin.

    Arguments
    ---------
    module : SpikingSparseLinearAttention
        The attention.
    x : torch.Tensor
        Its input frames ``[batch, time, dim]``.
    lengths : torch.Tensor, optional
        Relative lengths; padded frames are not positions.
    qkv : tuple of torch.Tensor, optional
        The queries', keys' and values' spikes ``[batch, positions, dim]``
        of this call (with ``spiking_qkv``; padded positions zero).

    Returns
    -------
    dict
        ``acs``, ``macs`` and ``ann_macs`` (see the module's description).

    Example
    -------
    >>> attention = SpikingSparseLinearAttention(dim=2, num_prompts=0, spiking_qkv=True)
    >>> q = k = v = torch.tensor([[[1.0, 1.0], [0.0, 1.0]]])
    >>> attention_product_operations(attention, torch.zeros(1, 2, 2), qkv=(q, k, v))
    {'acs': 11, 'macs': 4, 'ann_macs': 16}
    """
    dense = attention_product_macs(module, x, lengths)
    if qkv is None:
        return {"acs": 0, "macs": dense, "ann_macs": dense}
    query, key, value = (t.detach().double() for t in qkv)
    coincidences = (key.sum(dim=-1) * value.sum(dim=-1)).sum()
    acs = int(round(float(coincidences + query.sum() * module.dim)))
    return {"acs": acs, "macs": x.shape[0] * module.key_dim * module.dim, "ann_macs": dense}


def encoder_macs(module, x, lengths=None):
    """MACs of a spike encoder's per-channel affine map: encoded channels × valid frames.

    Example
    -------
    >>> from speechbrain_ptssnn.lobes import SpikeEncoder
    >>> encoder_macs(SpikeEncoder(3), torch.zeros(1, 10, 3), torch.tensor([0.5]))
    30
    """
    frames = int(lengths_to_mask(lengths, x.shape[1]).expand(x.shape[0], -1).sum())
    return frames * module.output_size


def attention_product_macs(module, x, lengths=None):
    """MACs of the attention's real products ``K̂ᵀV`` and ``Q·(K̂ᵀV)``.

    Arguments
    ---------
    module : SpikingSparseLinearAttention
        The attention (its ``dim`` and ``num_prompts``).
    x : torch.Tensor
        Its input frames ``[batch, time, dim]``.
    lengths : torch.Tensor, optional
        Relative lengths; padded frames are not positions.

    Returns
    -------
    int
        ``2 · n · d_k · D`` with ``n`` the valid positions (prompts included)
        and ``d_k`` the keys' channels (``D`` unless ``key_dim`` is set).

    Example
    -------
    >>> attention = SpikingSparseLinearAttention(dim=4, num_prompts=2)
    >>> attention_product_macs(attention, torch.zeros(1, 10, 4))
    384
    >>> attention_product_macs(attention, torch.zeros(1, 10, 4), torch.tensor([0.5]))
    224
    """
    batch, time = x.shape[0], x.shape[1]
    frames = int(lengths_to_mask(lengths, time).expand(batch, -1).sum())
    positions = frames + batch * module.num_prompts
    return 2 * positions * module.key_dim * module.dim


class _RuleCounter(ModuleCounter):
    """A SpikingJelly module counter with one rule per module type."""

    #: which entry of :func:`linear_operations` this counter records
    field = None

    def __init__(self, extra_rules=None, memo=None, captured=None):
        super().__init__()
        self.memo = LinearCallMemo() if memo is None else memo
        self.captured = {} if captured is None else captured
        self.rules = {
            ("forward", torch.nn.Linear): self._linear,
            ("forward", SpikingSparseLinearAttention): self._attention,
            ("forward", SpikeEncoder): self._encoder,
        }
        self.rules.update(extra_rules or {})

    def _linear(self, module, args, kwargs, out):
        return self.memo.operations(module, args[0])[self.field]

    def _attention(self, module, args, kwargs, out):
        lengths = args[1] if len(args) > 1 else kwargs.get("lengths")
        qkv = self.captured.get(id(module)) if module.spiking_qkv else None
        return attention_product_operations(module, args[0], lengths, qkv)[self.field]

    def _encoder(self, module, args, kwargs, out):
        if self.field == "acs":
            return 0
        lengths = args[1] if len(args) > 1 else kwargs.get("lengths")
        return encoder_macs(module, args[0], lengths)


class AccumulateCounter(_RuleCounter):
    """ACs of the model as run: linear layers fed with spikes (Eq. 21).

    A ``spikingjelly.activation_based.op_counter.ModuleCounter``: use it in a
    ``ModuleCounterMode``.

    Arguments
    ---------
    extra_rules : dict, optional
        More rules ``{("forward", ModuleType): fn(module, args, kwargs, out)}``.
    memo : LinearCallMemo, optional
        Shared with the other counters of the same count (a new one if None).

    Example
    -------
    >>> layer = torch.nn.Linear(3, 2, bias=False)
    >>> counter = AccumulateCounter()
    >>> with ModuleCounterMode([counter], model=layer):
    ...     _ = layer(torch.tensor([[1.0, 0.0, 1.0]]))
    >>> counter.get_total()
    4
    """

    field = "acs"


class MultiplyAccumulateCounter(_RuleCounter):
    """MACs of the model as run: real-valued inputs and products (Eq. 20).

    Arguments
    ---------
    extra_rules : dict, optional
        More rules ``{("forward", ModuleType): fn(module, args, kwargs, out)}``.
    memo : LinearCallMemo, optional
        Shared with the other counters of the same count (a new one if None).

    Example
    -------
    >>> layer = torch.nn.Linear(3, 2, bias=False)
    >>> counter = MultiplyAccumulateCounter()
    >>> with ModuleCounterMode([counter], model=layer):
    ...     _ = layer(torch.tensor([[0.3, 0.0, 1.0]]))
    >>> counter.get_total()
    6
    """

    field = "macs"


class DenseMultiplyAccumulateCounter(_RuleCounter):
    """MACs of the ANN twin (ReLU instead of PLIF): every layer dense.

    Arguments
    ---------
    extra_rules : dict, optional
        More rules ``{("forward", ModuleType): fn(module, args, kwargs, out)}``.
    memo : LinearCallMemo, optional
        Shared with the other counters of the same count (a new one if None).

    Example
    -------
    >>> layer = torch.nn.Linear(3, 2, bias=False)
    >>> counter = DenseMultiplyAccumulateCounter()
    >>> with ModuleCounterMode([counter], model=layer):
    ...     _ = layer(torch.tensor([[1.0, 0.0, 1.0]]))
    >>> counter.get_total()
    6
    """

    field = "ann_macs"


class OperationCounter:
    """Counts a model's operations over calls, per layer (a context manager).

    Wraps SpikingJelly's ``ModuleCounterMode`` with an
    :class:`AccumulateCounter`, a :class:`MultiplyAccumulateCounter` and a
    :class:`DenseMultiplyAccumulateCounter`. Feed it one utterance per call
    (no padding): a dense count of a padded batch would include padded rows.

    Arguments
    ---------
    model : torch.nn.Module
        The model whose ``Linear`` layers and attention are counted.

    Example
    -------
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    >>> with OperationCounter(model) as counter:
    ...     _ = model(torch.tensor([[0.5, -1.0]]))
    >>> counter.layers()["0"], counter.totals()
    ({'acs': 0, 'macs': 6, 'ann_macs': 6}, {'acs': 0, 'macs': 9, 'ann_macs': 9})
    """

    FIELDS = ("acs", "macs", "ann_macs")

    def __init__(self, model):
        self.model = model
        self._memo = LinearCallMemo()
        self._captured = {}
        shared = dict(memo=self._memo, captured=self._captured)
        self.counters = {
            "acs": AccumulateCounter(**shared),
            "macs": MultiplyAccumulateCounter(**shared),
            "ann_macs": DenseMultiplyAccumulateCounter(**shared),
        }
        self._mode = None
        self._hooks = []

    def __enter__(self):
        for module in self.model.modules():
            if isinstance(module, SpikingSparseLinearAttention) and module.spiking_qkv:
                for index, neurons in enumerate(module.qkv_neurons):
                    hook = functools.partial(self._capture_qkv, id(module), index)
                    self._hooks.append(neurons.register_forward_hook(hook))
        self._mode = ModuleCounterMode(list(self.counters.values()), model=self.model)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)
        self._mode = None
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        self._memo.clear()
        self._captured.clear()

    def _capture_qkv(self, attention, index, module, args, spikes):
        """Keeps an attention call's query, key or value spikes (``index`` 0, 1, 2)
        for its count."""
        captured = self._captured.setdefault(attention, [None, None, None])
        captured[index] = spikes

    def _scope(self, name):
        root = type(self.model).__name__
        return f"{root}.{name}" if name else root

    def layers(self):
        """Counts per counted site so far.

        Returns
        -------
        dict
            ``name → {"acs", "macs", "ann_macs"}``; a linear layer is named by
            its module path, the attention's products ``<path>.products``.
        """
        result = {}
        for name, module in self.model.named_modules():
            sites = ((torch.nn.Linear, ""), (SpikingSparseLinearAttention, ".products"),
                     (SpikeEncoder, ".affine"))
            for module_type, suffix in sites:
                if not isinstance(module, module_type):
                    continue
                key = ("forward", module_type)
                site = (name or type(module).__name__) + suffix
                counts = {
                    field: int(counter.records.get(self._scope(name), {}).get(key, 0))
                    for field, counter in self.counters.items()
                }
                result[site] = counts
        return result

    def totals(self):
        """Sums over every counted site.

        Returns
        -------
        dict
            ``{"acs", "macs", "ann_macs"}``.
        """
        totals = dict.fromkeys(self.FIELDS, 0)
        for counts in self.layers().values():
            for field in self.FIELDS:
                totals[field] += counts[field]
        return totals


def stock_counter_check(model, inputs):
    """SpikingJelly's stock ``SynOpCounter`` and ``MACCounter`` on some calls.

    Arguments
    ---------
    model : torch.nn.Module
        The model (in eval mode).
    inputs : list of tuple
        Positional arguments of each call, e.g. ``[(feats, lengths), ...]``.

    Returns
    -------
    dict
        ``synops`` and ``macs`` summed over the calls.

    Example
    -------
    >>> layer = torch.nn.Linear(3, 2, bias=False)
    >>> stock_counter_check(layer, [(torch.tensor([[1.0, 0.0, 1.0]]),)])
    {'synops': 4, 'macs': 0}
    """
    synops, macs = SynOpCounter(), MACCounter()
    with torch.no_grad(), DispatchCounterMode([synops, macs]):
        for args in inputs:
            model(*args)
    return {"synops": int(synops.get_total()), "macs": int(macs.get_total())}
