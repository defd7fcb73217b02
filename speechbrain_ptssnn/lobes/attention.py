"""Spiking sparse linear attention with learnable prompts (paper Eq. 7-9)."""

import torch

from speechbrain_ptssnn.lobes.masking import lengths_to_mask
from speechbrain_ptssnn.lobes.neurons import PLIF
from speechbrain_ptssnn.lobes.normalization import MaskedBatchNorm


class SpikingSparseLinearAttention(torch.nn.Module):
    """Prompt-tuned linear attention over spikes, linear in sequence length.

    ``L_p`` learnable prompts ``P`` are put in front of the sequence (Eq. 7),
    a PLIF layer binarises the whole (Eq. 8) and bias-free projections give
    queries, keys and values; the output is computed context-first (Eq. 9):

    .. math::
        S = \\mathrm{PLIF}([P; X]), \\quad Q, K, V = S W_Q, S W_K, S W_V,
        \\quad Y = Q \\,\\big(\\hat{K}^\\top V\\big),

    where :math:`\\hat{K}` is ``K`` with each column (channel) scaled to unit
    L2 norm over the valid positions of its utterance. ``K^T V`` is a
    ``[D, D]`` matrix, so time and memory grow linearly with the number of
    frames. Padded frames produce no spikes and the projections have no bias,
    so they contribute nothing to ``K^T V`` or to the column norms.

    The frames arrive as spikes and the prompts as real values: the PLIF
    layer adds its input undecayed (``decay_input=False``), so an input spike
    reaches the threshold from a resting membrane (with the default decaying
    input a binary spike train could never fire), while the prompts are
    integrated and binarised; the membrane state the prompts leave behind
    carries into the frames.

    With ``scaled=True`` (a deviation from the paper) ``Y`` is multiplied by
    :math:`1/\\sqrt{D}`, the usual attention temperature: ``Y`` sums ``D``
    products, and unscaled it can outweigh the binary spikes it is added to.

    With ``key_dim`` smaller than ``dim`` (a deviation) queries and keys have
    ``key_dim`` channels and values ``dim``: ``\\hat{K}^\\top V`` is
    ``[key_dim, D]``, so both products cost ``n · key_dim · D`` instead of
    ``n · D²``.

    With ``spiking_qkv=True`` (a deviation, as in spike-driven transformers)
    queries, keys and values are spikes themselves,
    :math:`Q = \\mathrm{PLIF}(\\mathrm{BN}(S W_Q))` and likewise ``K``, ``V``:
    ``K^T V`` then counts coincident spikes and ``Q (\\hat{K}^T V)`` adds
    rows of the context, so Eq. 9 needs accumulates only (the column scaling
    of ``K`` is ``D`` multiplies per context row).

    Arguments
    ---------
    dim : int
        Channels ``D`` (of the frames, the prompts, the values and the output).
    num_prompts : int
        Learnable prompts ``L_p`` (0 for the "without prompts" ablation).
    scaled : bool
        Multiply the output by ``1 / sqrt(key_dim)``.
    key_dim : int, optional
        Channels of queries and keys (``dim`` if None).
    spiking_qkv : bool
        Binarise queries, keys and values through batch norm and PLIF.
    neuron : callable
        Builds the attention's neurons (:class:`PLIF` by default), called with
        ``decay_input=False`` for the layer that binarises prompts and frames;
        :class:`~speechbrain_ptssnn.lobes.neurons.ReLUNeuron` for the ANN twin.

    Example
    -------
    >>> attention = SpikingSparseLinearAttention(dim=8, num_prompts=2)
    >>> frames, prompts = attention(torch.randn(3, 10, 8), torch.tensor([1.0, 0.5, 0.3]))
    >>> frames.shape, prompts.shape, frames[1, 5:].abs().sum().item()
    (torch.Size([3, 10, 8]), torch.Size([3, 2, 8]), 0.0)
    """

    def __init__(
        self,
        dim,
        num_prompts=5,
        neuron=PLIF,
        eps=1e-6,
        scaled=False,
        spiking_qkv=False,
        key_dim=None,
    ):
        super().__init__()
        self.dim = dim
        self.key_dim = key_dim or dim
        self.num_prompts = num_prompts
        self.eps = eps
        self.scale = self.key_dim**-0.5 if scaled else 1.0
        if num_prompts > 0:
            self.prompts = torch.nn.Parameter(torch.randn(num_prompts, dim))
        else:
            self.register_parameter("prompts", None)
        self.neurons = neuron(decay_input=False)
        self.query = torch.nn.Linear(dim, self.key_dim, bias=False)
        self.key = torch.nn.Linear(dim, self.key_dim, bias=False)
        self.value = torch.nn.Linear(dim, dim, bias=False)
        self.spiking_qkv = spiking_qkv
        if spiking_qkv:
            self.qkv_norms = torch.nn.ModuleList(
                MaskedBatchNorm(size) for size in (self.key_dim, self.key_dim, dim)
            )
            self.qkv_neurons = torch.nn.ModuleList(neuron() for _ in range(3))

    def forward(self, x, lengths=None):
        """Attends over ``x`` ``[batch, time, dim]``.

        Returns
        -------
        frames : torch.Tensor
            ``[batch, time, dim]``, zero on padded frames.
        prompts : torch.Tensor or None
            The prompts' outputs ``[batch, L_p, dim]`` (``None`` without prompts).
        """
        batch, time, _ = x.shape
        mask = lengths_to_mask(lengths, time, device=x.device).expand(batch, -1)
        if self.prompts is not None:
            prompts = self.prompts.to(x.dtype).unsqueeze(0).expand(batch, -1, -1)
            x = torch.cat([prompts, x], dim=1)
            prompt_mask = mask.new_ones(batch, self.num_prompts)
            mask = torch.cat([prompt_mask, mask], dim=1)
        spikes = self.neurons(x, mask)
        query, key, value = self.query(spikes), self.key(spikes), self.value(spikes)
        if self.spiking_qkv:
            query, key, value = (
                neurons(norm(projected, mask), mask)
                for projected, norm, neurons in zip(
                    (query, key, value), self.qkv_norms, self.qkv_neurons
                )
            )
        key = key / key.norm(dim=1, keepdim=True).clamp(min=self.eps)
        context = torch.einsum("bnd,bne->bde", key, value)
        y = torch.einsum("bnd,bde->bne", query, context)
        y = y * (self.scale * mask.unsqueeze(-1).to(y.dtype))
        if self.prompts is None:
            return y, None
        return y[:, self.num_prompts :], y[:, : self.num_prompts]

    def extra_repr(self):
        return (
            f"dim={self.dim}, key_dim={self.key_dim}, num_prompts={self.num_prompts}, "
            f"scale={self.scale:g}, "
            f"spiking_qkv={self.spiking_qkv}"
        )
