"""The assembled adapter: padding, gradients, learning, budget, bad input."""

from pathlib import Path

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_ptssnn.lobes import PTSSNN, VARIANTS, FramePooling, ReLUNeuron, lengths_to_mask
from speechbrain_ptssnn.losses import HybridFocalLabelSmoothingLoss

HPARAMS = Path(__file__).resolve().parents[1] / "hparams" / "ptssnn.yaml"
REQUIRED = {"data_folder": "unused", "corpus": "unused"}


def small_adapter(variant="full", **kwargs):
    return PTSSNN(
        input_size=24, n_classes=3, hidden_sizes=(16, 8), bias_hidden_size=4,
        variant=variant, **kwargs,
    )


def trained_a_little(model, steps=3):
    """Moves every parameter (the bias generator's zero layer too) off its init."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    for _ in range(steps):
        logits = model(torch.randn(6, 10, model.input_size) * 3)
        HybridFocalLabelSmoothingLoss()(logits, torch.arange(6) % 3).backward()
        optimizer.step()
        optimizer.zero_grad()
    return model


@pytest.mark.parametrize(
    "variant, stride, extra",
    [(v, 1, {}) for v in VARIANTS] + [("full", 2, {}), ("full", 3, {}), ("vanilla", 2, {}),
                                      ("full", 2, {"input_projection_rank": 4}),
                                      ("full", 2, {"input_channel_norm": True})],
)
def test_padding_a_batch_changes_no_output(variant, stride, extra):
    torch.manual_seed(0)
    model = trained_a_little(small_adapter(variant, frame_stride=stride, **extra)).eval()
    utterances = [torch.randn(n, 24) * 3 for n in (12, 7, 3)]
    with torch.no_grad():
        alone = torch.cat([model(u.unsqueeze(0)) for u in utterances])
        alone_frames = [model.calibrated_frames(u.unsqueeze(0))[0] for u in utterances]
        for total in (12, 20):
            batch = torch.full((3, total, 24), 55.0)  # loud garbage in the padding
            for b, u in enumerate(utterances):
                batch[b, : len(u)] = u
            lengths = torch.tensor([len(u) / total for u in utterances])
            assert torch.allclose(model(batch, lengths), alone, atol=1e-6)
            frames = model.calibrated_frames(batch, lengths)
            pooled_total = -(-total // stride)
            assert frames.shape[1] == pooled_total
            mask = lengths_to_mask(model.frame_lengths(lengths, total), pooled_total)
            for b, u in enumerate(utterances):
                valid = -(-len(u) // stride)
                assert len(alone_frames[b]) == valid == int(mask[b].sum())
                assert torch.allclose(frames[b, :valid], alone_frames[b], atol=1e-6)
                assert torch.equal(frames[b, valid:], torch.zeros(pooled_total - valid, 8))


def test_frame_pooling_averages_valid_frames_and_keeps_the_last_window():
    pooling = FramePooling(stride=3)
    x = torch.arange(1.0, 8.0).reshape(1, 7, 1).repeat(2, 1, 2)
    x[1, 5:] = 99.0  # padding of the second utterance (5 valid frames)
    pooled, lengths = pooling(x, torch.tensor([1.0, 5 / 7]))
    assert torch.equal(pooled[0, :, 0], torch.tensor([2.0, 5.0, 7.0]))
    assert torch.equal(pooled[1, :, 0], torch.tensor([2.0, 4.5, 0.0]))
    assert torch.equal(lengths_to_mask(lengths, 3), torch.tensor([[1, 1, 1], [1, 1, 0]]).bool())
    assert FramePooling(1)(x, None)[0] is x
    with pytest.raises(ValueError, match="positive integer"):
        FramePooling(0)


def test_frame_stride_divides_the_work_of_every_layer():
    from speechbrain_ptssnn.report.energy import OperationCounter

    torch.manual_seed(0)
    x = torch.randn(1, 40, 24)
    macs = {}
    for stride in (1, 2):
        model = small_adapter(frame_stride=stride).eval()
        with OperationCounter(model) as counter, torch.no_grad():
            model(x)
        macs[stride] = counter.totals()["macs"]
    # everything but the prompts' share of the attention halves
    assert macs[2] < 0.6 * macs[1]


def test_a_low_rank_input_projection_cuts_the_first_blocks_macs_only():
    from speechbrain_ptssnn.report.energy import OperationCounter

    torch.manual_seed(0)
    x = torch.randn(1, 40, 24) * 3
    counts = {}
    for rank in (None, 4):
        model = trained_a_little(small_adapter(input_projection_rank=rank)).eval()
        with OperationCounter(model) as counter, torch.no_grad():
            model(x)
        counts[rank] = counter.layers()
    assert counts[None]["blocks.0.linear"]["macs"] == 40 * 24 * 16
    assert counts[4]["blocks.0.linear.down"]["macs"] == 40 * 24 * 4  # real-valued input
    assert counts[4]["blocks.0.linear.up"]["macs"] == 40 * 4 * 16    # real-valued bottleneck
    for site in ("attention.products", "classifier.linear"):  # the rest is unchanged
        assert counts[4][site]["macs"] == counts[None][site]["macs"] > 0
    with pytest.raises(ValueError, match="reads spikes"):
        small_adapter(input_projection_rank=4, input_encoding="spikes")
    with pytest.raises(ValueError, match="between 1 and 15"):
        small_adapter(input_projection_rank=16)


def test_every_parameter_gets_a_gradient_through_the_surrogate():
    torch.manual_seed(1)
    model = small_adapter()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x, y = torch.randn(8, 15, 24) * 3, torch.arange(8) % 3
    lengths = torch.linspace(0.5, 1.0, 8)
    HybridFocalLabelSmoothingLoss()(model(x, lengths), y).backward()
    # the zero-initialised output layer of the bias generator blocks the
    # gradient to the layer before it, at the very first step only
    blocked = {"bias_generator.hidden.weight", "bias_generator.hidden.bias"}
    for name, parameter in model.named_parameters():
        has_gradient = parameter.grad is not None and parameter.grad.abs().sum() > 0
        assert has_gradient == (name not in blocked), name
    optimizer.step()
    optimizer.zero_grad()
    HybridFocalLabelSmoothingLoss()(model(x, lengths), y).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("variant", ["full", "no_prompt"])
def test_attention_gate_starts_closed_and_opens_with_training(variant):
    torch.manual_seed(3)
    gated = small_adapter(variant, attention_gate=True)
    without_attention = small_adapter("no_attention")
    shared = {k: v for k, v in gated.state_dict().items()
              if not k.startswith(("attention", "bias"))}
    without_attention.load_state_dict(shared, strict=False)
    x, y = torch.randn(8, 15, 24) * 3, torch.arange(8) % 3
    lengths = torch.linspace(0.5, 1.0, 8)
    # closed at initialisation: the blocks' spikes alone reach the classifier
    assert torch.equal(gated(x, lengths), without_attention(x, lengths))
    optimizer = torch.optim.AdamW(gated.parameters(), lr=1e-2)
    for _ in range(2):
        optimizer.zero_grad()
        HybridFocalLabelSmoothingLoss()(gated(x, lengths), y).backward()
        optimizer.step()
    assert gated.attention_gate.item() != 0.0
    assert not torch.equal(gated(x, lengths), without_attention(x, lengths))
    for name in ("attention_gate", "attention.query.weight", "attention.key.weight",
                 "attention.value.weight"):
        assert gated.get_parameter(name).grad.abs().sum() > 0, name


def test_attention_gate_is_absent_where_there_is_no_attention():
    for variant in ("no_attention", "only_shift", "vanilla"):
        assert small_adapter(variant, attention_gate=True).attention_gate is None
    assert small_adapter("full").attention_gate is None


def test_adapter_learns_a_separable_task():
    torch.manual_seed(2)
    n_classes, dim = 4, 48
    prototypes = torch.randn(n_classes, dim)
    labels = torch.arange(64) % n_classes
    x = prototypes[labels].unsqueeze(1) + torch.randn(64, 30, dim)
    lengths = torch.rand(64) * 0.5 + 0.5
    model = PTSSNN(input_size=dim, n_classes=n_classes, hidden_sizes=(48, 24), bias_hidden_size=8)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    loss_fn = HybridFocalLabelSmoothingLoss()
    accuracy = 0.0
    for step in range(300):
        model.train()
        batch = torch.randperm(64)[:32]
        loss = loss_fn(model(x[batch], lengths[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 20 == 19:
            model.eval()
            with torch.no_grad():
                predictions = model(x, lengths).argmax(-1)
            accuracy = (predictions == labels).float().mean().item()
            if accuracy == 1.0:
                break
    assert accuracy == 1.0


def test_the_papers_form_has_its_parameter_budget_and_the_default_is_leaner():
    def trainable(name):
        adapter = load_hyperpyyaml((HPARAMS.parent / name).read_text(), REQUIRED)["adapter"]
        assert adapter.input_size == 768
        return sum(p.numel() for p in adapter.parameters() if p.requires_grad)

    paper = trainable("ptssnn_paper.yaml")
    assert abs(paper - 1.19e6) <= 0.1 * 1.19e6, paper
    # the default: + the attention gate, - the two shortcut projections, queries
    # and keys 256 -> 64 channels
    shortcuts = 768 * 512 + 512 * 256
    assert trainable("ptssnn.yaml") == paper + 1 - shortcuts - 2 * 256 * (256 - 64)


def test_hparams_build_the_adapter_with_command_line_overrides():
    hparams = load_hyperpyyaml(
        HPARAMS.read_text(), {**REQUIRED, "input_size": 384, "n_classes": 7, "variant": "vanilla"}
    )
    adapter = hparams["adapter"]
    assert adapter.input_size == 384 and adapter.variant == "vanilla"
    assert adapter(torch.randn(2, 5, 384)).shape == (2, 7)
    assert adapter.neurons.node.surrogate_function.alpha == 5.0  # the vanilla variant's layer


def test_wrong_feature_dimension_is_a_clear_error():
    with pytest.raises(ValueError,
                       match=r"expects features \[batch, time, 24\], got shape \[2, 5, 30\]"):
        small_adapter()(torch.randn(2, 5, 30))


@pytest.mark.parametrize("lengths", [[0.0, 1.0], [1.0, 1.2], [-0.5, 0.5]])
def test_lengths_outside_the_unit_interval_are_a_clear_error(lengths):
    with pytest.raises(ValueError, match=r"relative lengths must lie in \(0, 1\]"):
        small_adapter()(torch.randn(2, 5, 24), torch.tensor(lengths))


def test_lengths_of_the_wrong_shape_are_a_clear_error():
    with pytest.raises(ValueError, match=r"shape \[2\]"):
        small_adapter()(torch.randn(2, 5, 24), torch.tensor([1.0]))


def test_unknown_variant_is_a_clear_error():
    with pytest.raises(ValueError, match="no_prompt"):
        small_adapter(variant="spiky")


def test_ann_twin_has_the_same_layers_with_relu():
    torch.manual_seed(4)
    spiking, twin = small_adapter(), small_adapter(neuron=ReLUNeuron)
    spiking_names = {n for n, _ in spiking.named_parameters() if not n.endswith("node.w")}
    assert {n for n, _ in twin.named_parameters()} == spiking_names
    twin.load_state_dict(spiking.state_dict(), strict=False)
    x = torch.randn(2, 6, 24)
    block = twin.blocks[0]
    valid = torch.ones(1, 6, dtype=torch.bool)
    expected = torch.relu(block.norm(block.linear(block.shift(x)), valid) + block.shortcut(x))
    assert torch.allclose(block(x), expected, atol=1e-6)
    assert twin(x).shape == (2, 3)
