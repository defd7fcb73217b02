"""The hybrid focal + label-smoothing loss (paper Eq. 14-18)."""

import torch


class HybridFocalLabelSmoothingLoss(torch.nn.Module):
    """``lambda1 * focal + lambda2 * label-smoothed cross-entropy``.

    With :math:`p = \\mathrm{softmax}(z)` and :math:`p_t` the probability of
    the true class,

    .. math::
        \\mathcal{L}_{focal} = -\\alpha (1 - p_t)^{\\gamma} \\log p_t \\qquad (14, 15)

        \\mathcal{L}_{LS} = -(1 - \\epsilon) \\log p_t
            - \\frac{\\epsilon}{C} \\sum_{c=1}^{C} \\log p_c \\qquad (16, 17)

        \\mathcal{L} = \\lambda_1 \\mathcal{L}_{focal} + \\lambda_2 \\mathcal{L}_{LS} \\qquad (18)

    each averaged over the batch. ``alpha`` is one scalar for every class.
    With ``lambda1=0``, ``lambda2=1`` and ``epsilon=0`` this is plain
    cross-entropy.

    Arguments
    ---------
    alpha : float
        Focal weight.
    gamma : float
        Focal focusing exponent.
    epsilon : float
        Label-smoothing mass spread uniformly over the classes.
    lambda1 : float
        Weight of the focal term.
    lambda2 : float
        Weight of the label-smoothing term.

    Example
    -------
    >>> loss = HybridFocalLabelSmoothingLoss()
    >>> logits = torch.tensor([[2.0, 0.0, 0.0, 0.0]])
    >>> round(loss(logits, torch.tensor([[0]])).item(), 4)
    0.1648
    """

    def __init__(self, alpha=0.8, gamma=2.5, epsilon=0.12, lambda1=0.7, lambda2=0.3):
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma
        self.epsilon = epsilon
        self.lambda1 = lambda1
        self.lambda2 = lambda2

    def forward(self, logits, targets):
        """Computes the loss.

        Arguments
        ---------
        logits : torch.Tensor
            ``[batch, classes]``.
        targets : torch.Tensor
            Integer class indices ``[batch]`` or ``[batch, 1]`` (SpeechBrain's
            label shape).

        Returns
        -------
        torch.Tensor
            The scalar loss.
        """
        if logits.dim() != 2:
            raise ValueError(f"logits must be [batch, classes], got shape {list(logits.shape)}")
        targets = targets.reshape(-1).long()
        if targets.shape[0] != logits.shape[0]:
            raise ValueError(
                f"got {targets.shape[0]} targets for a batch of {logits.shape[0]} logits"
            )
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        log_p_true = log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)
        focal = -self.alpha * (1.0 - log_p_true.exp()) ** self.gamma * log_p_true
        smoothed = -(1.0 - self.epsilon) * log_p_true - self.epsilon * log_probs.mean(dim=-1)
        return self.lambda1 * focal.mean() + self.lambda2 * smoothed.mean()

    def extra_repr(self):
        return (
            f"alpha={self.alpha}, gamma={self.gamma}, epsilon={self.epsilon}, "
            f"lambda1={self.lambda1}, lambda2={self.lambda2}"
        )


def distillation_loss(student_logits, teacher_logits, temperature=2.0):
    """Knowledge distillation: ``T² · KL(softmax(teacher / T) ‖ softmax(student / T))``.

    The soft targets of a teacher trained on the same training part (Hinton
    et al., 2015), averaged over the batch; ``T²`` keeps the gradient's scale
    independent of the temperature.

    Arguments
    ---------
    student_logits, teacher_logits : torch.Tensor
        ``[batch, classes]``; the teacher's carry no gradient.
    temperature : float
        Softening temperature ``T``.

    Returns
    -------
    torch.Tensor
        The scalar loss.

    Example
    -------
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> abs(distillation_loss(logits, logits).item()) < 1e-6
    True
    >>> round(distillation_loss(torch.zeros(1, 3), logits).item(), 4)
    0.7706
    """
    teacher = torch.softmax(teacher_logits.detach() / temperature, dim=-1)
    student = torch.log_softmax(student_logits / temperature, dim=-1)
    kl = torch.nn.functional.kl_div(student, teacher, reduction="batchmean")
    return temperature**2 * kl
