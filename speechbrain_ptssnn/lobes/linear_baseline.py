"""The linear baseline: emotion2vec's own downstream head."""

import torch

from speechbrain_ptssnn.lobes.masking import check_lengths, lengths_to_mask, masked_mean


class LinearBaseline(torch.nn.Module):
    """``Linear → ReLU → mean over valid frames → Linear``, a non-spiking head.

    The downstream model emotion2vec is evaluated with (its
    ``iemocap_downstream`` recipe): a frame-wise projection to
    ``hidden_size`` channels with a ReLU, an average over each utterance's
    valid frames, and a linear classifier. It takes the same
    ``(features, lengths)`` as :class:`~speechbrain_ptssnn.lobes.PTSSNN` and
    returns unnormalised logits, so it trains through the same Brain, hparams
    keys and recipes (``hparams/baselines/linear.yaml``).

    Arguments
    ---------
    input_size : int
        Channels of the upstream features (768 for emotion2vec base).
    n_classes : int
        Number of emotions.
    hidden_size : int
        Width of the frame-wise projection (256 in emotion2vec's recipe).

    Example
    -------
    >>> head = LinearBaseline(input_size=8, n_classes=3, hidden_size=4)
    >>> x = torch.randn(2, 5, 8)
    >>> logits = head(x, torch.tensor([1.0, 0.6]))
    >>> logits.shape
    torch.Size([2, 3])
    >>> x[1, 3:] = 1000.0  # padding does not change the output
    >>> torch.allclose(head(x, torch.tensor([1.0, 0.6])), logits)
    True
    >>> sum(p.numel() for p in LinearBaseline(768, 4).parameters())
    197892
    """

    def __init__(self, input_size=768, n_classes=4, hidden_size=256):
        super().__init__()
        self.input_size = input_size
        self.pre_net = torch.nn.Linear(input_size, hidden_size)
        self.post_net = torch.nn.Linear(hidden_size, n_classes)

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
            Logits ``[batch, n_classes]``.
        """
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"LinearBaseline expects features [batch, time, {self.input_size}], "
                f"got shape {list(x.shape)}"
            )
        lengths = check_lengths(lengths, x.shape[0])
        mask = lengths_to_mask(lengths, x.shape[1], device=x.device)
        hidden = torch.relu(self.pre_net(x))
        pooled = masked_mean(hidden, mask.expand(x.shape[0], -1))
        return self.post_net(pooled)
