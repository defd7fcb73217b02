"""PTS-SNN: the whole spiking adapter on top of a frozen speech encoder."""

import torch

from speechbrain_ptssnn.lobes.attention import SpikingSparseLinearAttention
from speechbrain_ptssnn.lobes.classifier import SpikingClassifier
from speechbrain_ptssnn.lobes.frame_pooling import FramePooling
from speechbrain_ptssnn.lobes.homeostatic_bias import HomeostaticBiasGenerator
from speechbrain_ptssnn.lobes.masking import check_lengths, lengths_to_mask, masked_mean
from speechbrain_ptssnn.lobes.neurons import PLIF
from speechbrain_ptssnn.lobes.soft_saturation import SoftSaturation
from speechbrain_ptssnn.lobes.spike_encoder import SpikeEncoder
from speechbrain_ptssnn.lobes.spiking_blocks import SpikingTemporalShiftBlock

VARIANTS = ("full", "no_prompt", "no_attention", "only_shift", "vanilla")
INPUT_ENCODINGS = ("current", "spikes", "one_sided_spikes")


class PTSSNN(torch.nn.Module):
    """The Prompt-Tuned Temporal-Shift Spiking adapter.

    ``variant="full"`` (the paper's model)::

        x ─► SoftSaturation (5) ─► TS block 768→512 ─► TS block 512→256 (6)
          ─► [prompts; frames] ─► spiking linear attention (7-9) ─┬─► frames h
                                      mean of output prompts (10) ┴─► bias b (11-13)
          ─► spikes + h + b ─► SpikingClassifier: firing rates = logits (4)

    The attention is residual: its frame outputs are added to the spikes
    that entered it, and the homeostatic bias to every frame. With
    ``attention_gate=True`` (a deviation from the paper) the attention's
    frame outputs are multiplied by a learned scalar initialised to zero
    before they are added, so training starts from the blocks' spikes alone
    and admits as much attention as helps (the prompts still drive the
    bias generator ungated).

    Deviations for energy and accuracy, each off in the paper's form:
    ``input_encoding="spikes"`` puts a :class:`SpikeEncoder` (ON and OFF
    neurons per channel; ``"one_sided_spikes"``: ON only) between the soft
    saturation and the first block, so every projection reads spikes;
    ``spiking_qkv=True`` makes the attention's queries, keys and values
    spikes; ``projection_shortcuts=False`` leaves out the shortcut
    projections where a block changes width; ``readout="membrane"`` reads the
    mean membrane potential of non-firing output integrators instead of firing
    rates (see
    :class:`SpikingClassifier`); ``spike_dropout`` drops spikes between the
    blocks during training; ``frame_stride`` > 1 averages that many
    consecutive upstream frames first (:class:`FramePooling`), so every
    layer runs at a lower frame rate; ``input_projection_rank`` factorises
    the first block's projection of the real-valued features through that
    many channels (:class:`LowRankLinear`), the adapter's largest cost in
    multiply-accumulates; ``input_channel_norm=True`` standardises each
    upstream channel before the soft saturation (see :class:`SoftSaturation`).

    Ablations (the paper's Table V), by ``variant``:

    - ``"no_prompt"``: attention without prompts; the bias generator is driven
      by the mean of the attention's outputs over each utterance's valid frames;
    - ``"no_attention"``: no attention; the bias generator is driven by the
      mean of the second block's spikes over the valid frames;
    - ``"only_shift"``: saturation and the two temporal-shift blocks feed the
      classifier, nothing else;
    - ``"vanilla"``: the vanilla SNN baseline: features linearly projected
      straight into one PLIF layer of ``hidden_sizes[-1]`` neurons, then the
      classifier (no saturation, shift, attention or calibration).

    Arguments
    ---------
    input_size : int
        Channels of the upstream features (768 for emotion2vec base).
    n_classes : int
        Number of emotions.
    hidden_sizes : sequence of int
        Widths of the temporal-shift blocks.
    shift_fraction : float
        Channels shifted in each direction, as a fraction.
    saturation_xi : float
        Slope of the soft saturation.
    num_prompts : int
        Learnable prompts ``L_p``.
    bias_hidden_size : int
        Bottleneck ``D_h`` of the bias generator.
    kappa : float
        Bound of the homeostatic bias.
    learn_output_scale : bool
        Learn a scale on the output firing rates (see :class:`SpikingClassifier`).
    break_ties : bool
        Decide tied rates (silent outputs) by the mean input current (see
        :class:`SpikingClassifier`).
    attention_gate : bool
        Scale the attention's residual by a learned scalar that starts at 0
        (variants with attention only).
    attention_scaled : bool
        Multiply the attention's outputs by ``1 / sqrt(hidden_sizes[-1])``
        (see :class:`SpikingSparseLinearAttention`).
    neuron : callable
        Builds every layer of neurons: :class:`PLIF` (the default), or a
        ``functools.partial`` of it with other settings (``init_tau``,
        ``v_threshold``, ``surrogate``, ``steepness``: the hparams' ``neuron``
        key); :class:`~speechbrain_ptssnn.lobes.neurons.ReLUNeuron` builds the
        ANN twin, the same layers with ReLU in place of every PLIF layer (for
        speed and energy comparisons).
    variant : str
        One of ``"full"``, ``"no_prompt"``, ``"no_attention"``,
        ``"only_shift"``, ``"vanilla"``.
    input_encoding : str
        ``"current"`` (the paper: saturated features drive the first block),
        ``"spikes"`` or ``"one_sided_spikes"`` (through a :class:`SpikeEncoder`).
    spiking_qkv : bool
        Spiking queries, keys and values (see :class:`SpikingSparseLinearAttention`).
    readout : str
        ``"rate"`` (Eq. 4) or ``"membrane"`` (see :class:`SpikingClassifier`).
    spike_dropout : float
        Dropout probability on the spikes leaving each block (training only).
    attention_key_dim : int, optional
        Channels of the attention's queries and keys (``hidden_sizes[-1]`` if
        None; see :class:`SpikingSparseLinearAttention`).
    projection_shortcuts : bool
        Projection shortcuts where a block changes width (see
        :class:`SpikingTemporalShiftBlock`); False leaves them out.
    frame_stride : int
        Upstream frames averaged into one before the soft saturation (1: the
        paper's 50 Hz; see :class:`FramePooling`).
    input_projection_rank : int, optional
        Rank of the first block's projection when it reads the real-valued
        features (``input_encoding="current"``); None: full rank, the paper's.
    input_channel_norm : bool
        Standardise each channel before the soft saturation's layer norm (see
        :class:`SoftSaturation`; variants with the saturation only).

    Example
    -------
    >>> model = PTSSNN(input_size=32, n_classes=4, hidden_sizes=(16, 8), bias_hidden_size=4)
    >>> logits = model(torch.randn(2, 20, 32), torch.tensor([1.0, 0.5]))
    >>> logits.shape, bool(((logits > -0.1) & (logits < 1.1)).all())
    (torch.Size([2, 4]), True)
    """

    def __init__(
        self,
        input_size=768,
        n_classes=4,
        hidden_sizes=(512, 256),
        shift_fraction=0.125,
        saturation_xi=0.1,
        num_prompts=5,
        bias_hidden_size=64,
        kappa=0.5,
        learn_output_scale=False,
        break_ties=True,
        attention_gate=False,
        attention_scaled=False,
        neuron=PLIF,
        variant="full",
        input_encoding="current",
        spiking_qkv=False,
        readout="rate",
        spike_dropout=0.0,
        projection_shortcuts=True,
        attention_key_dim=None,
        frame_stride=1,
        input_projection_rank=None,
        input_channel_norm=False,
    ):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown PTS-SNN variant {variant!r}; expected one of {VARIANTS}")
        if input_encoding not in INPUT_ENCODINGS:
            raise ValueError(
                f"unknown input_encoding {input_encoding!r}; expected one of {INPUT_ENCODINGS}"
            )
        if input_projection_rank is not None and input_encoding != "current":
            raise ValueError(
                f"input_projection_rank factorises the projection of real-valued features, but "
                f"with input_encoding={input_encoding!r} the first block reads spikes"
            )
        self.input_size = input_size
        self.variant = variant
        self.frame_pooling = FramePooling(frame_stride)
        dim = hidden_sizes[-1]
        if variant == "vanilla":
            self.projection = torch.nn.Linear(input_size, dim)
            self.neurons = neuron()
        else:
            self.saturation = SoftSaturation(
                input_size, xi=saturation_xi, channel_norm=input_channel_norm
            )
            first = input_size
            self.encoder = None
            if input_encoding != "current":
                self.encoder = SpikeEncoder(
                    input_size, two_sided=input_encoding == "spikes", neuron=neuron
                )
                first = self.encoder.output_size
            sizes = [first, *hidden_sizes]
            ranks = [input_projection_rank] + [None] * (len(hidden_sizes) - 1)
            self.blocks = torch.nn.ModuleList(
                SpikingTemporalShiftBlock(
                    n_in, n_out, shift_fraction, projection_shortcuts, neuron=neuron, rank=rank
                )
                for n_in, n_out, rank in zip(sizes[:-1], sizes[1:], ranks)
            )
        if variant in ("full", "no_prompt"):
            prompts = num_prompts if variant == "full" else 0
            self.attention = SpikingSparseLinearAttention(
                dim, prompts, scaled=attention_scaled, spiking_qkv=spiking_qkv,
                key_dim=attention_key_dim, neuron=neuron,
            )
        if attention_gate and variant in ("full", "no_prompt"):
            self.attention_gate = torch.nn.Parameter(torch.zeros(()))
        else:
            self.register_parameter("attention_gate", None)
        if variant in ("full", "no_prompt", "no_attention"):
            self.bias_generator = HomeostaticBiasGenerator(dim, bias_hidden_size, kappa)
        self.spike_dropout = torch.nn.Dropout(spike_dropout)
        self.classifier = SpikingClassifier(
            dim,
            n_classes,
            readout=readout,
            learn_output_scale=learn_output_scale,
            break_ties=break_ties,
            neuron=neuron,
        )

    def forward(self, x, lengths=None):
        """Classifies utterances.

        Arguments
        ---------
        x : torch.Tensor
            Upstream features ``[batch, time, input_size]``.
        lengths : torch.Tensor, optional
            SpeechBrain relative lengths ``[batch]`` in (0, 1].

        Returns
        -------
        torch.Tensor
            Logits ``[batch, n_classes]``: output firing rates (with the tie-break
            term, and scaled with ``learn_output_scale``).
        """
        frames = self.calibrated_frames(x, lengths)
        return self.classifier(frames, self.frame_lengths(lengths, x.shape[1]))

    def frame_lengths(self, lengths, time):
        """Relative lengths of :meth:`calibrated_frames` for ``time`` input frames.

        The input's own lengths unless ``frame_stride`` > 1 (see
        :meth:`FramePooling.output_lengths`).
        """
        return self.frame_pooling.output_lengths(lengths, time)

    def calibrated_frames(self, x, lengths=None):
        """The classifier's input: frames after attention and homeostatic bias.

        Takes the same arguments as :meth:`forward`; returns
        ``[batch, ceil(time / frame_stride), hidden_sizes[-1]]``, zero on
        padded frames (their relative lengths: :meth:`frame_lengths`).
        """
        lengths = self._check_input(x, lengths)
        x, lengths = self.frame_pooling(x, lengths)
        mask = lengths_to_mask(lengths, x.shape[1], device=x.device)
        if self.variant == "vanilla":
            return self.neurons(self.projection(x), mask)
        h = self.saturation(x, lengths)
        if self.encoder is not None:
            h = self.encoder(h, lengths)
        for block in self.blocks:
            h = self.spike_dropout(block(h, lengths))
        if self.variant == "only_shift":
            return h
        summary_source = h
        if self.variant in ("full", "no_prompt"):
            attended, prompts = self.attention(h, lengths)
            summary_source = attended
            if self.attention_gate is not None:
                attended = self.attention_gate * attended
            h = h + attended
        if self.variant == "full":
            summary = prompts.mean(dim=1)
        else:
            summary = masked_mean(summary_source, mask.expand(x.shape[0], -1))
        bias = self.bias_generator(summary)
        return (h + bias.unsqueeze(1)) * mask.unsqueeze(-1).to(h.dtype)

    def _check_input(self, x, lengths):
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"PTS-SNN expects features [batch, time, {self.input_size}], "
                f"got shape {list(x.shape)}"
            )
        return check_lengths(lengths, x.shape[0])
