"""The energy model: energy of operation counts, per sample and per second, model and ANN twin.

The energy model is the usual one for spiking networks (45 nm CMOS, 32-bit
floats, Horowitz 2014; paper Eq. 19-21):

.. math::
    E = E_{MAC} \\cdot N_{MAC} + E_{AC} \\cdot N_{AC}, \\qquad
    E_{MAC} = 4.6\\ \\mathrm{pJ}, \\quad E_{AC} = 0.9\\ \\mathrm{pJ}.

The counts (``acs``, ``macs`` and the ANN twin's ``ann_macs``) come from
:class:`~speechbrain_ptssnn.report.energy.OperationCounter`; the ANN twin (ReLU
instead of PLIF) runs every layer dense, so its energy is MACs only.
:data:`COUNTED` and :data:`NOT_COUNTED` state the count's scope in words (copied
into every report).
"""

#: Energy of a 32-bit multiply-accumulate, picojoules (Eq. 20).
E_MAC_PJ = 4.6
#: Energy of a 32-bit accumulate, picojoules (Eq. 21).
E_AC_PJ = 0.9


def energy_mj(macs, acs=0, e_mac_pj=E_MAC_PJ, e_ac_pj=E_AC_PJ):
    """Energy of ``macs`` MACs and ``acs`` ACs, in millijoules (Eq. 19).

    Arguments
    ---------
    macs, acs : float
        Operation counts.
    e_mac_pj, e_ac_pj : float
        Energy per operation, picojoules.

    Returns
    -------
    float

    Example
    -------
    >>> round(energy_mj(macs=1_000_000, acs=2_000_000), 6)
    0.0064
    """
    return (macs * e_mac_pj + acs * e_ac_pj) * 1e-9


def energy_summary(totals, utterances, seconds, e_mac_pj=E_MAC_PJ, e_ac_pj=E_AC_PJ):
    """Operations and energy per sample and per second, model and ANN twin.

    Arguments
    ---------
    totals : dict
        ``acs``, ``macs``, ``ann_macs`` summed over a test set.
    utterances : int
        Utterances in that set.
    seconds : float
        Their total duration.
    e_mac_pj, e_ac_pj : float
        Energy per operation, picojoules.

    Returns
    -------
    dict
        ``model`` and ``ann_twin``, each with ``per_sample`` and ``per_second``
        (``macs``, ``acs``, ``energy_mj``), and ``ann_over_model`` (the
        energy ratio).

    Example
    -------
    >>> s = energy_summary({"acs": 2_000_000, "macs": 1_000_000, "ann_macs": 3_000_000}, 2, 4.0)
    >>> s["model"]["per_sample"]["energy_mj"], round(s["ann_twin"]["per_second"]["energy_mj"], 6)
    (0.0032, 0.00345)
    """
    def per(divisor, macs, acs):
        return {
            "macs": macs / divisor,
            "acs": acs / divisor,
            "energy_mj": energy_mj(macs, acs, e_mac_pj, e_ac_pj) / divisor,
        }

    model = {
        "per_sample": per(utterances, totals["macs"], totals["acs"]),
        "per_second": per(seconds, totals["macs"], totals["acs"]),
    }
    twin = {
        "per_sample": per(utterances, totals["ann_macs"], 0),
        "per_second": per(seconds, totals["ann_macs"], 0),
    }
    model_energy = model["per_sample"]["energy_mj"]
    return {
        "e_mac_pj": e_mac_pj,
        "e_ac_pj": e_ac_pj,
        "model": model,
        "ann_twin": twin,
        "ann_over_model": twin["per_sample"]["energy_mj"] / model_energy if model_energy else None,
    }


#: What :class:`~speechbrain_ptssnn.report.energy.OperationCounter` counts, in words (copied
#: into every report).
COUNTED = (
    "Linear layers fed with spikes: ACs = sum of the input (non-zero spikes; a count k counts "
    "k times) x out_features.",
    "Linear layers fed with real values: rows x in x out MACs (the first projection of the "
    "continuous features, the classifier on the real-valued calibrated frames, the homeostatic "
    "bias generator's MLP, the vanilla SNN's projection, both layers of the linear baseline).",
    "The attention's products of real tensors K^T V and Q (K^T V): 2 n d_k D MACs over its n "
    "positions (L_p prompts + frames; d_k = D unless the queries and keys are narrower); its "
    "Q, K, V projections read spikes (ACs).",
    "The ANN twin (same layers, ReLU instead of PLIF): every linear layer and product as dense "
    "MACs.",
    "Energy = 4.6 pJ x MACs + 0.9 pJ x ACs (Eq. 19-21); one utterance at a time, so padding "
    "never counts.",
)

#: What it leaves out, in words.
NOT_COUNTED = (
    "Normalisations: the soft saturation's LayerNorm and tanh, the key column norms of the "
    "attention (Eq. 9).",
    "Batch norm: folded into the preceding linear layer at inference (BN(Wx) = W'x + b'), so "
    "free.",
    "Bias additions (they initialise the accumulator), residual additions, the temporal shift "
    "(memory moves), masking; with frame_stride > 1 the frame pooling's additions (stride - 1 "
    "per channel and pooled frame; its 1/n scale is absorbed by the LayerNorm that follows).",
    "The PLIF neurons' membrane updates (charge, fire, reset), the pooling of output spikes "
    "into rates, the classifier's tie-break term (its mean input current), softmax.",
    "Memory accesses and data movement.",
    "The upstream encoder: reported separately (an architecture-based estimate of emotion2vec "
    "base).",
)
