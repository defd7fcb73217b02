"""A bias-free linear map factorised through a narrow bottleneck."""

import torch


class LowRankLinear(torch.nn.Module):
    """``W x`` with ``W = U V`` of rank ``rank`` (a deviation from the paper's Eq. 6).

    The first temporal-shift block multiplies the real-valued saturated
    features, so its projection is nearly all of the adapter's
    multiply-accumulates (Eq. 19-21). Factorised, it costs
    ``rank · (in_features + out_features)`` MACs per frame instead of
    ``in_features · out_features``: at rank 128, 384→512 costs 114 688
    instead of 196 608. Both factors are plain ``Linear`` layers, so the
    efficiency report counts each of them (the bottleneck is real-valued:
    MACs); :attr:`weight` is their product, the full matrix the exports fold.

    Arguments
    ---------
    in_features : int
        Channels in.
    out_features : int
        Channels out.
    rank : int
        Channels of the bottleneck.

    Example
    -------
    >>> layer = LowRankLinear(6, 4, rank=2)
    >>> x = torch.randn(3, 5, 6)
    >>> layer(x).shape, layer.weight.shape, torch.linalg.matrix_rank(layer.weight).item()
    (torch.Size([3, 5, 4]), torch.Size([4, 6]), 2)
    >>> torch.allclose(layer(x), x @ layer.weight.t(), atol=1e-6)
    True
    """

    def __init__(self, in_features, out_features, rank):
        super().__init__()
        if int(rank) != rank or not 0 < rank < min(in_features, out_features):
            raise ValueError(
                f"the rank of a {in_features}->{out_features} projection must be an integer "
                f"between 1 and {min(in_features, out_features) - 1}, got {rank!r}"
            )
        self.in_features, self.out_features, self.rank = in_features, out_features, int(rank)
        self.down = torch.nn.Linear(in_features, self.rank, bias=False)
        self.up = torch.nn.Linear(self.rank, out_features, bias=False)

    @property
    def weight(self):
        """The full ``[out_features, in_features]`` matrix ``U V``."""
        return self.up.weight @ self.down.weight

    def forward(self, x):
        """Maps ``[..., in_features]`` to ``[..., out_features]``."""
        return self.up(self.down(x))
