"""Frame-rate reduction before the adapter: masked averages of consecutive frames."""

import torch

from speechbrain_ptssnn.lobes.masking import check_lengths, lengths_to_mask


class FramePooling(torch.nn.Module):
    """Averages every ``stride`` consecutive frames (a deviation from the paper).

    The upstream's 50 Hz frames become ``50 / stride`` Hz before the soft
    saturation, so every later layer runs on ``1 / stride`` of the frames:
    its operations, and with them the energy of Eq. 19-21, shrink by that
    factor. Each window averages its *valid* frames only, and the relative
    lengths are recomputed so that the window holding an utterance's last
    frames stays valid: an utterance gives the same pooled frames alone and
    padded in a batch.

    The average's ``1 / n`` scale needs no multiplication where a LayerNorm
    follows (it is scale-invariant); its ``stride - 1`` additions per channel
    and pooled frame are, like residual additions, not counted by the
    efficiency report (its ``NOT_COUNTED`` says so).

    Arguments
    ---------
    stride : int
        Frames per window (1: the layer passes frames and lengths through).

    Example
    -------
    >>> pooling = FramePooling(stride=2)
    >>> x = torch.tensor([[[1.0], [3.0], [5.0], [0.0]], [[2.0], [4.0], [6.0], [8.0]]])
    >>> pooled, lengths = pooling(x, torch.tensor([0.75, 1.0]))
    >>> pooled.squeeze(-1), lengths
    (tensor([[2., 5.],
            [3., 7.]]), tensor([1., 1.]))
    """

    def __init__(self, stride=1):
        super().__init__()
        if int(stride) != stride or stride < 1:
            raise ValueError(f"frame stride must be a positive integer, got {stride!r}")
        self.stride = int(stride)

    def output_lengths(self, lengths, time):
        """Relative lengths of the pooled frames of ``time`` input frames.

        An utterance of ``n`` valid frames (``round(length * time)``, as
        :func:`lengths_to_mask` counts them) keeps ``ceil(n / stride)`` of
        ``ceil(time / stride)`` pooled frames; ``None`` stays ``None``.
        """
        if lengths is None or self.stride == 1:
            return lengths
        return self._pooled_lengths(lengths_to_mask(lengths, time).sum(dim=1), time)

    def _pooled_lengths(self, valid, time):
        """``ceil(valid / stride) / ceil(time / stride)`` for ``valid`` frames of each utterance."""
        pooled_time = (time + self.stride - 1) // self.stride  # traced sizes stay symbolic
        return torch.ceil(valid.float() / self.stride) / pooled_time

    def forward(self, x, lengths=None):
        """Pools ``x`` ``[batch, time, channels]``.

        Returns
        -------
        pooled : torch.Tensor
            ``[batch, ceil(time / stride), channels]``, zero on padded windows.
        lengths : torch.Tensor or None
            The pooled frames' relative lengths.
        """
        if self.stride == 1:
            return x, lengths
        lengths = check_lengths(lengths, x.shape[0])
        time = x.shape[1]
        weights = lengths_to_mask(lengths, time, device=x.device).expand(x.shape[0], -1)
        weights = weights.to(x.dtype).unsqueeze(1)  # [batch, 1, time]
        # windows hanging over the end (ceil_mode) have the same divisor for
        # both averages, so their ratio is the mean of the valid frames
        sums = self._average(x.transpose(1, 2) * weights)
        counts = self._average(weights).clamp(min=1e-6)
        return (sums / counts).transpose(1, 2), self._pooled_lengths(weights.sum(dim=(1, 2)), time)

    def _average(self, x):
        return torch.nn.functional.avg_pool1d(x, self.stride, self.stride, ceil_mode=True)

    def extra_repr(self):
        return f"stride={self.stride}"
