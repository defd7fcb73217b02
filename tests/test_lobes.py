"""Each PTS-SNN lobe does what its equation says, and honours padding."""

import pytest
import torch

from speechbrain_ptssnn.lobes import (
    PLIF,
    HomeostaticBiasGenerator,
    MaskedBatchNorm,
    SoftSaturation,
    SpikingClassifier,
    SpikingSparseLinearAttention,
    SpikingTemporalShiftBlock,
    TemporalShift,
    lengths_to_mask,
)


def test_shift_moves_exactly_the_intended_channels_one_frame():
    batch, time, channels = 2, 6, 16
    x = torch.randn(batch, time, channels)
    lengths = torch.tensor([1.0, 4 / 6])
    y = TemporalShift(fraction=0.25)(x, lengths)
    n = 4
    for b, valid in enumerate([6, 4]):
        # channels [0, n): frame t receives frame t-1, zero at the first frame
        assert torch.equal(y[b, 0, :n], torch.zeros(n))
        assert torch.equal(y[b, 1:valid, :n], x[b, : valid - 1, :n])
        # channels [n, 2n): frame t receives frame t+1, zero at the last real frame
        assert torch.equal(y[b, : valid - 1, n : 2 * n], x[b, 1:valid, n : 2 * n])
        assert torch.equal(y[b, valid - 1, n : 2 * n], torch.zeros(n))
        # the rest stay put
        assert torch.equal(y[b, :valid, 2 * n :], x[b, :valid, 2 * n :])
        # padded frames are zero
        assert torch.equal(y[b, valid:], torch.zeros(time - valid, channels))


def test_shift_ignores_what_lies_in_the_padding():
    x = torch.randn(1, 5, 8)
    lengths = torch.tensor([0.6])
    noisy = x.clone()
    noisy[:, 3:] = 1000.0
    shift = TemporalShift(fraction=0.25)
    assert torch.equal(shift(x, lengths), shift(noisy, lengths))


def test_shift_rejects_fractions_above_one_half():
    with pytest.raises(ValueError, match="0.5"):
        TemporalShift(fraction=0.6)


def test_soft_saturation_is_tanh_of_scaled_layer_norm():
    saturate = SoftSaturation(input_size=6, xi=0.1)
    x = torch.randn(2, 3, 6) * 50
    expected = torch.tanh(0.1 * torch.nn.functional.layer_norm(x, (6,)))
    assert torch.allclose(saturate(x), expected, atol=1e-6)


def test_channel_norm_removes_each_channels_offset_and_scale_before_the_layer_norm():
    torch.manual_seed(0)
    x = torch.randn(4, 10, 6)
    lengths = torch.tensor([1.0, 0.7, 0.5, 1.0])
    offset, scale = torch.randn(6) * 20, torch.rand(6) * 50 + 0.5   # outlying channels
    plain, normed = SoftSaturation(6), SoftSaturation(6, channel_norm=True)
    assert not torch.allclose(plain(x * scale + offset, lengths), plain(x, lengths), atol=1e-3)
    # training: batch statistics of the valid frames, so the garbage in the padding is ignored
    padded = (x * scale + offset).clone()
    padded[1, 7:] = 1e4
    assert torch.allclose(normed(padded, lengths), normed(x, lengths), atol=1e-4)
    normed.eval()  # inference: the running estimates, a fixed per-channel affine map
    one = normed(x[:1], None)
    assert torch.allclose(normed(x, lengths)[:1], one, atol=1e-6)


def test_masked_batch_norm_statistics_ignore_padding():
    norm = MaskedBatchNorm(3)
    x = torch.randn(2, 5, 3)
    mask = lengths_to_mask(torch.tensor([1.0, 0.4]), 5)
    valid = torch.cat([x[0], x[1, :2]])
    y = norm(x, mask)
    expected = (valid - valid.mean(0)) / torch.sqrt(valid.var(0, unbiased=False) + 1e-5)
    assert torch.allclose(torch.cat([y[0], y[1, :2]]), expected, atol=1e-5)
    assert torch.equal(y[1, 2:], torch.zeros(3, 3))
    assert torch.allclose(norm.running_mean, 0.1 * valid.mean(0), atol=1e-6)


def test_plif_matches_the_leaky_integrate_and_fire_equations():
    plif = PLIF(init_tau=2.0, v_threshold=1.0)
    current = torch.tensor([[[0.8], [0.8], [0.8], [2.5], [0.0]]])
    v, expected = 0.0, []
    for x in current[0, :, 0].tolist():
        h = v + (x - v) / 2.0  # tau = 2, decay_input, v_reset = 0
        spike = float(h >= 1.0)
        expected.append(spike)
        v = h * (1 - spike)
    assert plif(current)[0, :, 0].tolist() == expected
    assert expected == [0.0, 0.0, 0.0, 1.0, 0.0]


def test_plif_state_does_not_leak_between_calls():
    plif = PLIF()
    first = plif(torch.full((2, 3, 4), 0.9))
    assert plif(torch.full((5, 3, 4), 0.9)).shape == (5, 3, 4)
    assert torch.equal(plif(torch.full((2, 3, 4), 0.9)), first)


def test_block_outputs_binary_spikes_and_its_statistics_ignore_padding():
    torch.manual_seed(0)
    block = SpikingTemporalShiftBlock(12, 6)
    x = torch.randn(3, 7, 12) * 3
    lengths = torch.tensor([1.0, 5 / 7, 3 / 7])
    spikes = block(x, lengths)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert spikes.sum() > 0
    padded = x.clone()
    padded[1, 5:] = 100.0
    padded[2, 3:] = -100.0
    assert torch.equal(block(padded, lengths), spikes)


def naive_attention(attention, x):
    """Eq. 7-9 for one unpadded utterance, computed query-key first."""
    if attention.prompts is not None:
        x = torch.cat([attention.prompts, x])
    spikes = attention.neurons(x.unsqueeze(0))[0]
    q = spikes @ attention.query.weight.T
    k = spikes @ attention.key.weight.T
    v = spikes @ attention.value.weight.T
    k_hat = torch.stack([k[:, j] / k[:, j].norm().clamp(min=1e-6) for j in range(k.shape[1])], 1)
    scores = q @ k_hat.T  # [n, n]: the quadratic form
    y = scores @ v
    return y[attention.num_prompts :], y[: attention.num_prompts]


@pytest.mark.parametrize("num_prompts", [0, 3])
def test_linear_attention_equals_a_naive_reference(num_prompts):
    torch.manual_seed(1)
    attention = SpikingSparseLinearAttention(dim=8, num_prompts=num_prompts)
    x = (torch.rand(3, 9, 8) < 0.4).float()
    lengths = torch.tensor([1.0, 6 / 9, 2 / 9])
    frames, prompts = attention(x, lengths)
    assert frames.abs().sum() > 0
    for b, valid in enumerate([9, 6, 2]):
        ref_frames, ref_prompts = naive_attention(attention, x[b, :valid])
        assert torch.allclose(frames[b, :valid], ref_frames, atol=1e-5)
        assert torch.equal(frames[b, valid:], torch.zeros(9 - valid, 8))
        if num_prompts:
            assert torch.allclose(prompts[b], ref_prompts, atol=1e-5)
    assert (prompts is None) == (num_prompts == 0)


def test_scaled_attention_divides_frames_and_prompts_by_root_dim():
    torch.manual_seed(4)
    plain = SpikingSparseLinearAttention(dim=16, num_prompts=2)
    scaled = SpikingSparseLinearAttention(dim=16, num_prompts=2, scaled=True)
    scaled.load_state_dict(plain.state_dict())
    x, lengths = (torch.rand(2, 7, 16) < 0.4).float(), torch.tensor([1.0, 4 / 7])
    for out_plain, out_scaled in zip(plain(x, lengths), scaled(x, lengths)):
        assert out_plain.abs().sum() > 0
        assert torch.allclose(out_scaled, out_plain / 4, atol=1e-6)


def test_attention_neurons_pass_spikes_from_rest_and_binarise_prompts():
    without_prompts = SpikingSparseLinearAttention(dim=4, num_prompts=0)
    x = (torch.rand(1, 5, 4) < 0.5).float()
    assert torch.equal(without_prompts.neurons(x), x)
    with_prompts = SpikingSparseLinearAttention(dim=4, num_prompts=2)
    spikes = with_prompts.neurons(torch.cat([with_prompts.prompts.unsqueeze(0) * 3, x], 1))
    assert set(spikes.unique().tolist()) == {0.0, 1.0}


def test_bias_generator_is_exactly_zero_at_initialisation_and_bounded_after():
    generator = HomeostaticBiasGenerator(dim=16, hidden_size=4, kappa=0.5)
    summary = torch.randn(5, 16) * 10
    assert torch.equal(generator(summary), torch.zeros(5, 16))
    torch.nn.init.normal_(generator.output.weight, std=100.0)
    bias = generator(summary)
    assert bias.abs().max() <= 0.5 and bias.abs().max() > 0.1


def test_classifier_outputs_are_the_firing_rates_over_valid_frames():
    torch.manual_seed(2)
    classifier = SpikingClassifier(input_size=6, n_classes=3, break_ties=False)
    x = torch.randn(2, 8, 6) * 4
    lengths = torch.tensor([1.0, 0.5])
    rates = classifier(x, lengths)
    spikes = classifier.neurons(classifier.linear(x))
    assert torch.allclose(rates[0], spikes[0].mean(0))
    assert torch.allclose(rates[1], spikes[1, :4].mean(0))
    assert ((rates >= 0) & (rates <= 1)).all()
    assert 0 < rates.sum()


def test_learned_output_scale_changes_probabilities_not_decisions():
    torch.manual_seed(3)
    plain = SpikingClassifier(6, 3, break_ties=False)
    scaled = SpikingClassifier(6, 3, learn_output_scale=True, output_scale_init=10.0,
                               break_ties=False)
    scaled.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(4, 8, 6) * 4
    rates, logits = plain(x), scaled(x)
    assert torch.allclose(logits, rates * 10.0, atol=1e-5)
    assert torch.equal(rates.argmax(-1), logits.argmax(-1))
    assert scaled.log_scale.requires_grad


@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("surrogate_name", ["Sigmoid", "ATan"])
def test_fused_plif_equals_spikingjelly_in_spikes_and_gradients(decay_input, surrogate_name):
    from spikingjelly.activation_based import surrogate

    torch.manual_seed(5)
    kwargs = dict(surrogate=getattr(surrogate, surrogate_name), decay_input=decay_input)
    reference = PLIF(backend="spikingjelly", **kwargs)
    fused = PLIF(backend="fused", **kwargs)
    fused.load_state_dict(reference.state_dict())
    current = torch.randn(3, 40, 6) * 1.5
    upstream_gradient = torch.randn(3, 40, 6)
    results = []
    for layer in (reference, fused):
        x = current.clone().requires_grad_()
        spikes = layer(x, lengths_to_mask(torch.tensor([1.0, 0.5, 0.25]), 40))
        (spikes * upstream_gradient).sum().backward()
        results.append((spikes.detach(), x.grad, layer.node.w.grad))
    (s1, gx1, gw1), (s2, gx2, gw2) = results
    assert s1.sum() > 0 and torch.equal(s1, s2)
    assert torch.allclose(gx1, gx2, atol=1e-5) and gx1.abs().sum() > 0
    assert torch.allclose(gw1, gw2, rtol=1e-4)


def test_plif_backend_choice_is_checked():
    with pytest.raises(ValueError, match="unknown PLIF backend"):
        PLIF(backend="cuda")
    from spikingjelly.activation_based import surrogate

    fused = PLIF(backend="fused", surrogate=surrogate.PiecewiseQuadratic)
    with pytest.raises(ValueError, match="sigmoid or arctan surrogate"):
        fused(torch.ones(1, 2, 2))
    automatic = PLIF(surrogate=surrogate.PiecewiseQuadratic)
    assert automatic(torch.full((1, 2, 2), 3.0)).sum() == 4


def test_tie_break_keeps_every_rate_decision_and_decides_silent_utterances():
    torch.manual_seed(6)
    rates_only = SpikingClassifier(5, 4, break_ties=False)
    tie_broken = SpikingClassifier(5, 4)
    tie_broken.load_state_dict(rates_only.state_dict())
    x = torch.randn(64, 9, 5) * 2
    lengths = torch.randint(1, 10, (64,)) / 9
    rates, logits = rates_only(x, lengths), tie_broken(x, lengths)
    top = rates.max(dim=1, keepdim=True).values
    unique_winner = (rates == top).sum(dim=1) == 1
    assert unique_winner.any() and (~unique_winner).any()
    assert torch.equal(rates.argmax(1)[unique_winner], logits.argmax(1)[unique_winner])
    assert ((logits - rates).abs() < 1 / (2 * torch.round(lengths * 9).unsqueeze(1))).all()
    silent = torch.zeros(1, 9, 5)
    currents = tie_broken.linear(silent).mean(dim=1)
    assert tie_broken(silent).argmax() == currents.argmax()


@pytest.mark.parametrize("decay_input", [True, False])
def test_fused_plif_equals_spikingjelly_on_binary_input_at_the_threshold(decay_input):
    """Spike trains land exactly on the threshold: float32 rounding must match."""
    torch.manual_seed(7)
    mismatches = 0
    for tau in (1.3, 1.7, 2.0, 2.9, 4.4):
        reference = PLIF(init_tau=tau, decay_input=decay_input, backend="spikingjelly")
        fused = PLIF(init_tau=tau, decay_input=decay_input, backend="fused")
        x = (torch.rand(4, 300, 64) < 0.3).float()
        x[:, :5] = torch.randn(4, 5, 64) * 2  # real-valued "prompts" first
        mismatches += int((reference(x) != fused(x)).sum())
    assert mismatches == 0


def test_membrane_readout_is_the_mean_potential_of_leaky_integrators():
    from speechbrain_ptssnn.lobes.classifier import SpikingClassifier

    classifier = SpikingClassifier(5, 3, readout="membrane", membrane_init_tau=3.0)
    x, lengths = torch.randn(2, 7, 5), torch.tensor([1.0, 4 / 7])
    logits = classifier(x, lengths)
    current, q = classifier.linear(x), 1 / 3.0
    for b, frames in enumerate([7, 4]):
        v, total = torch.zeros(3), torch.zeros(3)
        for t in range(frames):
            v = v + (current[b, t] - v) * q
            total += v
        assert torch.allclose(total / frames, logits[b], atol=1e-5)
    padded = x.clone()
    padded[1, 4:] = 1e3
    assert torch.allclose(classifier(padded, lengths), logits)


def test_spike_encoder_and_spiking_qkv_emit_binary_spikes_and_honour_padding():
    from speechbrain_ptssnn.lobes.spike_encoder import SpikeEncoder

    encoder = SpikeEncoder(6)
    spikes = encoder(torch.randn(2, 9, 6) * 3, torch.tensor([1.0, 5 / 9]))
    assert spikes.shape == (2, 9, 12) and set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert spikes[1, 5:].sum() == 0
    attention = SpikingSparseLinearAttention(dim=12, num_prompts=2, spiking_qkv=True)
    frames, prompts = attention(spikes, torch.tensor([1.0, 5 / 9]))
    assert frames.shape == (2, 9, 12) and prompts.shape == (2, 2, 12)
    assert frames[1, 5:].abs().sum() == 0


def test_a_block_without_projection_shortcut_keeps_the_identity_where_widths_match():
    narrowing = SpikingTemporalShiftBlock(16, 8, projection_shortcut=False)
    assert narrowing.shortcut is None
    assert sum(p.numel() for p in narrowing.parameters()) == 16 * 8 + 2 * 8 + 1
    same = SpikingTemporalShiftBlock(8, 8, projection_shortcut=False)
    assert isinstance(same.shortcut, torch.nn.Identity)
    spikes = narrowing(torch.randn(2, 5, 16), torch.tensor([1.0, 0.6]))
    assert spikes[1, 3:].sum() == 0


def test_narrow_keys_match_a_naive_attention():
    torch.manual_seed(0)
    attention = SpikingSparseLinearAttention(dim=8, num_prompts=2, key_dim=3).eval()
    x = (torch.rand(1, 6, 8) > 0.5).float()
    frames, prompts = attention(x)
    spikes = attention.neurons(torch.cat([attention.prompts.unsqueeze(0), x], dim=1))
    q, k, v = attention.query(spikes), attention.key(spikes), attention.value(spikes)
    assert q.shape[-1] == k.shape[-1] == 3 and v.shape[-1] == 8
    k = k / k.norm(dim=1, keepdim=True).clamp(min=1e-6)
    expected = q[0] @ (k[0].T @ v[0])
    assert torch.allclose(torch.cat([prompts, frames], dim=1)[0], expected, atol=1e-5)
