"""The efficiency report: operation counts, firing rates, health, the CLI and the comparison."""

import functools
import json
import re
import shutil

import pytest
import torch
from test_configs import train_configs

from speechbrain_ptssnn.lobes import PLIF, PTSSNN, SpikingSparseLinearAttention
from speechbrain_ptssnn.lobes.masking import lengths_to_mask
from speechbrain_ptssnn.report import (
    OperationCounter,
    SpikeMonitor,
    comparison_table,
    efficiency_report,
    emotion2vec_macs,
    energy_mj,
    energy_summary,
)
from speechbrain_ptssnn.report.__main__ import main
from speechbrain_ptssnn.report.compare import pareto_points, run_summary
from speechbrain_ptssnn.report.energy import stock_counter_check
from speechbrain_ptssnn.report.upstream_energy import mac_architecture

# --------------------------------------------------------------------------
# Operations and energy
# --------------------------------------------------------------------------

#: 5 frames x 4 channels of known spikes: 7 of them
SPIKES = torch.tensor([[
    [1.0, 0.0, 0.0, 1.0],
    [0.0, 0.0, 0.0, 0.0],
    [1.0, 1.0, 1.0, 1.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.0],
]])


class KnownSpikes(torch.nn.Module):
    """Stands for a spiking layer whose output is known."""

    def forward(self, current):
        return SPIKES.expand(current.shape[0], -1, -1)


class Tiny(torch.nn.Module):
    """Real input → spikes → prompted attention; spike counts and real frames read out."""

    def __init__(self):
        super().__init__()
        self.projection = torch.nn.Linear(3, 4)          # real input: MACs
        self.neurons = KnownSpikes()
        self.attention = SpikingSparseLinearAttention(dim=4, num_prompts=1)
        with torch.no_grad():                             # one prompt spike, on channel 0
            self.attention.prompts.copy_(torch.tensor([[2.0, 0.0, 0.0, 0.0]]))
        self.counts_readout = torch.nn.Linear(4, 2)      # spike counts 0/2: ACs, twice each
        self.frames_readout = torch.nn.Linear(4, 2)      # real attention frames: MACs

    def forward(self, x, lengths=None):
        spikes = self.neurons(self.projection(x))
        frames, _ = self.attention(spikes, lengths)
        return self.counts_readout(spikes + spikes) + self.frames_readout(frames)


def test_energy_arithmetic_equals_a_hand_count_on_known_spikes():
    torch.manual_seed(0)
    model = Tiny().eval()
    x = torch.randn(1, 5, 3)
    with torch.no_grad(), OperationCounter(model) as counter:
        model(x, torch.ones(1))
    # The attention's PLIF adds undecayed input: a binary input spike fires from
    # rest, so its output is the prompt spike (channel 0) followed by SPIKES.
    spikes_into_qkv = 1 + 7
    by_hand = {
        "projection": {"acs": 0, "macs": 5 * 3 * 4, "ann_macs": 5 * 3 * 4},
        "attention.query": {"acs": spikes_into_qkv * 4, "macs": 0, "ann_macs": 6 * 4 * 4},
        "attention.key": {"acs": spikes_into_qkv * 4, "macs": 0, "ann_macs": 6 * 4 * 4},
        "attention.value": {"acs": spikes_into_qkv * 4, "macs": 0, "ann_macs": 6 * 4 * 4},
        "attention.products": {"acs": 0, "macs": 2 * 6 * 4 * 4, "ann_macs": 2 * 6 * 4 * 4},
        "counts_readout": {"acs": (2 * 7) * 2, "macs": 0, "ann_macs": 5 * 4 * 2},
        "frames_readout": {"acs": 0, "macs": 5 * 4 * 2, "ann_macs": 5 * 4 * 2},
    }
    assert counter.layers() == by_hand
    totals = counter.totals()
    assert totals == {"acs": 96 + 28, "macs": 60 + 192 + 40, "ann_macs": 60 + 288 + 192 + 80}
    summary = energy_summary(totals, utterances=1, seconds=0.1)
    per_sample_mj = (292 * 4.6 + 124 * 0.9) * 1e-9
    assert summary["model"]["per_sample"]["energy_mj"] == pytest.approx(per_sample_mj)
    assert summary["ann_twin"]["per_sample"]["energy_mj"] == pytest.approx(620 * 4.6e-9)
    assert summary["model"]["per_second"]["energy_mj"] == pytest.approx(10 * per_sample_mj)
    assert energy_mj(macs=292, acs=124) == pytest.approx(1454.8e-9)
    # SpikingJelly's stock counters see the counts 0/2 as real values (MACs),
    # the difference the report documents.
    stock = stock_counter_check(model, [(x, torch.ones(1))])
    assert stock == {"synops": 96, "macs": 60 + 192 + 40 + 40}


def test_dense_counts_exclude_padded_attention_positions():
    attention = SpikingSparseLinearAttention(dim=4, num_prompts=2).eval()
    with torch.no_grad(), OperationCounter(attention) as counter:
        attention(torch.zeros(2, 10, 4), torch.tensor([1.0, 0.3]))
    products = counter.layers()["SpikingSparseLinearAttention.products"]
    assert products["macs"] == 2 * (10 + 3 + 2 * 2) * 16


def test_each_linear_call_is_measured_once_and_not_kept_after_the_count(monkeypatch):
    import weakref

    from speechbrain_ptssnn.report import energy

    calls = []
    measure = energy.linear_operations
    monkeypatch.setattr(energy, "linear_operations", lambda m, x: calls.append(m) or measure(m, x))
    layer = torch.nn.Linear(4, 3)
    x = torch.tensor([[1.0, 0.0, 2.0, 0.0]])
    with torch.no_grad(), OperationCounter(layer) as counter:
        layer(x)
    # three counters, one measurement; the count keeps no reference to the input
    assert len(calls) == 1 and counter.totals() == {"acs": 9, "macs": 0, "ann_macs": 12}
    seen = weakref.ref(x)
    del x
    assert seen() is None
    with torch.no_grad(), OperationCounter(layer) as second:  # a new count starts afresh
        layer(torch.tensor([[0.5, 0.0, 2.0, 0.0]]))
    assert second.totals() == {"acs": 0, "macs": 12, "ann_macs": 12} and len(calls) == 2


def test_emotion2vec_estimate_reads_the_architecture_from_the_upstreams():
    from speechbrain_ptssnn.upstreams import emotion2vec_model_conf

    base = emotion2vec_macs(16000)
    assert (base["frames"], base["total"]) == (49, 7_716_299_776)
    assert emotion2vec_macs(16000, **mac_architecture(emotion2vec_model_conf())) == base
    deeper = emotion2vec_macs(16000, **mac_architecture(emotion2vec_model_conf(depth=9)))
    assert deeper["transformer_linear"] == base["transformer_linear"] * 13 // 12


def test_emotion2vec_estimate_equals_spikingjelly_on_the_real_architecture(tmp_path):
    pytest.importorskip("funasr")
    from emotion2vec_fixtures import TINY_CONF, make_model_dir
    from spikingjelly.activation_based.op_counter import DispatchCounterMode, MACCounter

    from speechbrain_ptssnn.upstreams import Emotion2vec

    upstream = Emotion2vec(make_model_dir(tmp_path / "e2v"))
    architecture = mac_architecture(TINY_CONF)
    for samples in (16000, 7000):
        counter = MACCounter()
        with torch.no_grad(), DispatchCounterMode([counter]):
            upstream(torch.randn(1, samples) * 0.1, torch.ones(1))
        assert counter.get_total() == emotion2vec_macs(samples, **architecture)["total"]


# --------------------------------------------------------------------------
# Firing rates and spiking health
# --------------------------------------------------------------------------


def small_adapter(**kwargs):
    return PTSSNN(input_size=12, n_classes=3, hidden_sizes=(16, 8), bias_hidden_size=4, **kwargs)


def test_monitored_rates_equal_hand_counts_from_the_spike_tensors():
    torch.manual_seed(3)
    model = small_adapter().eval()
    x = torch.randn(3, 9, 12) * 3
    lengths = torch.tensor([1.0, 5 / 9, 2 / 9])
    x[1, 5:] = 50.0  # loud garbage in the padding
    x[2, 2:] = -50.0
    recorded = {}

    def keep(name):
        def hook(module, args, output):
            recorded[name] = (output.clone(), args[1])
        return hook

    plifs = {n: m for n, m in model.named_modules() if isinstance(m, PLIF)}
    handles = [m.register_forward_hook(keep(n)) for n, m in plifs.items()]
    with torch.no_grad(), SpikeMonitor(model) as monitor:
        model(x, lengths)
    for handle in handles:
        handle.remove()
    frames = lengths_to_mask(lengths, 9).sum(dim=1).tolist()  # [9, 5, 2]
    assert sorted(monitor.counts) == sorted(plifs) == [
        "attention.neurons", "blocks.0.neurons", "blocks.1.neurons", "classifier.neurons",
    ]
    summary = monitor.summary()
    for name, (spikes, _) in recorded.items():
        prompts = 5 if name == "attention.neurons" else 0
        counts = torch.zeros(spikes.shape[-1], dtype=torch.float64)
        positions = 0
        for b, n in enumerate(frames):
            for t in range(prompts + n):  # valid positions only
                counts += spikes[b, t].double()
                positions += 1
        assert monitor.positions[name] == positions == sum(frames) + 3 * prompts
        assert torch.equal(monitor.counts[name], counts)
        assert summary[name]["rates"] == pytest.approx((counts / positions).tolist())
        assert summary[name]["mean_rate"] == pytest.approx(
            float(counts.sum()) / (positions * len(counts)))
    assert sum(s["spikes"] for s in summary.values()) > 0


def test_very_high_thresholds_are_reported_silent():
    torch.manual_seed(0)
    model = small_adapter(neuron=functools.partial(PLIF, v_threshold=1e6)).eval()
    with torch.no_grad(), SpikeMonitor(model) as monitor:
        model(torch.randn(2, 10, 12) * 5, torch.tensor([1.0, 0.7]))
    summary = monitor.summary()
    assert len(summary) == 4
    for stats in summary.values():
        assert stats["silent_fraction"] == 1.0 and stats["saturated_fraction"] == 0.0
        assert stats["mean_rate"] == 0.0


def test_thresholds_near_zero_are_reported_saturated():
    # the vanilla SNN, driven by a positive current: with a threshold near
    # zero every neuron fires on every valid frame
    model = small_adapter(variant="vanilla",
                          neuron=functools.partial(PLIF, v_threshold=1e-4)).eval()
    with torch.no_grad():
        model.projection.weight.zero_()
        model.projection.bias.fill_(1.0)
        model.classifier.linear.weight.fill_(0.1)
        model.classifier.linear.bias.fill_(0.1)
    with torch.no_grad(), SpikeMonitor(model) as monitor:
        model(torch.randn(2, 10, 12), torch.tensor([1.0, 0.5]))
    summary = monitor.summary()
    assert sorted(summary) == ["classifier.neurons", "neurons"]
    for stats in summary.values():
        assert stats["saturated_fraction"] == 1.0 and stats["silent_fraction"] == 0.0
        assert stats["mean_rate"] == 1.0 and stats["positions"] == 15


# --------------------------------------------------------------------------
# The report and the comparison on trained miniature runs
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    results = train_configs(
        root,
        # the rate read-out of Eq. 4: the classifier's neurons, their rates and current exist
        {"ptssnn.yaml": ["ptssnn.yaml", "--hidden_sizes=[16,8]", "--bias_hidden_size=4",
                         "--readout=rate"],
         "baselines/linear.yaml": ["baselines/linear.yaml"]},
        extra=["--upstream=fbank", "--input_size=20", "--n_folds=2", "--fold=1",
               "--number_of_epochs=1", "--batch_size=4"],
    )
    for config, (returncode, error, output, log) in results.items():
        assert returncode == 0, (error or log)[-4000:]
    return {config: output for config, (_, _, output, _) in results.items()}


def test_report_on_a_trained_run_writes_every_file(runs, capsys):
    run = runs["ptssnn.yaml"]
    assert main([str(run), "--quiet"]) == 0  # every finished fold: fold 1
    printed = capsys.readouterr().out
    assert "fold 1:" in printed and "blocks.0.neurons" in printed
    fold = run / "fold_1"
    for name in ("efficiency.json", "efficiency.md", "firing_rates.png", "classifier_current.png"):
        assert (fold / name).stat().st_size > 0, name
    report = json.loads((fold / "efficiency.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert report["parameters"]["total"] == summary["trainable_parameters"]
    assert report["prediction_agreement"] >= 0.9  # batched (recipe) vs one by one (report)
    assert report["checkpoint"]["path"].endswith("CKPT+averaged")  # the default averages
    assert report["checkpoint"]["chosen_by"].startswith("the weights of epoch 1 ")
    assert report["test_set"]["utterances"] == len(json.loads((fold / "test.json").read_text()))
    assert set(report["spiking"]["layers"]) == {
        "blocks.0.neurons", "blocks.1.neurons", "attention.neurons", "classifier.neurons",
    }
    energy = report["energy"]
    assert energy["model"]["per_sample"]["macs"] > 0
    model_mj = energy["model"]["per_sample"]["energy_mj"]
    assert energy["ann_twin"]["per_sample"]["energy_mj"] > model_mj
    assert report["operations"]["layers"]["blocks.1.linear"]["macs"] == 0  # fed with spikes
    assert report["operations"]["layers"]["classifier.linear"]["acs"] == 0  # real calibrated frames
    check = report["op_counter_check"]
    assert check["spikingjelly_synops"] == check["ours_acs"]
    assert check["spikingjelly_macs"] <= check["ours_macs"]
    calibration = report["calibration"]
    threshold = re.search(r"^v_threshold: (\S+)", (run / "hyperparams.yaml").read_text(), re.M)
    assert calibration["has_bias"] and calibration["threshold"] == float(threshold.group(1))
    assert report["upstream"]["per_second"]["macs"] > 1e9
    markdown = (fold / "efficiency.md").read_text()
    for text in ("## Spiking health", "Not counted", "classifier_current.png", "ANN twin"):
        assert text in markdown


def test_report_of_the_linear_baseline_has_no_spiking_layer(runs):
    reports = efficiency_report(str(runs["baselines/linear.yaml"]), fold=1, progress=False,
                                check_utterances=0)
    report = reports[1]
    assert report["spiking"]["layers"] == {} and report["calibration"] is None
    assert report["energy"]["model"]["per_sample"]["acs"] == 0
    assert report["energy"]["ann_over_model"] == pytest.approx(1.0)
    assert report["parameters"]["total"] == 20 * 256 + 256 + 256 * 7 + 7
    assert report["prediction_agreement"] >= 0.9


def test_compare_makes_one_row_per_run(runs, tmp_path, capsys):
    folders = [str(runs["ptssnn.yaml"]), str(runs["baselines/linear.yaml"])]
    efficiency_report(folders[0], progress=False, check_utterances=0, plots=False)
    output = tmp_path / "table.md"
    assert main(["compare", *folders, "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert printed == output.read_text() == comparison_table(folders)
    rows = [line for line in printed.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| run", "| ptssnn", "| linear"]
    assert " ± " in rows[1] and rows[1].split(" | ")[6] != "–"


def test_compare_draws_the_pareto_picture(runs, tmp_path, capsys):
    folders = [str(runs["ptssnn.yaml"]), str(runs["baselines/linear.yaml"])]
    for folder in folders:
        efficiency_report(folder, progress=False, check_utterances=0, plots=False)
    points = pareto_points([run_summary(folder) for folder in folders])
    assert [(p["name"], p["spiking"]) for p in points] == [("ptssnn", True), ("linear", False)]
    assert all(p["energy_mj"] > 0 for p in points)
    plot = tmp_path / "pareto.png"
    assert main(["compare", *folders, "--plot", str(plot)]) == 0
    assert plot.stat().st_size > 0 and f"wrote {plot}" in capsys.readouterr().out


def test_clear_errors_name_the_folder(runs, tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 1
    assert "nowhere does not exist" in capsys.readouterr().err
    assert main([str(tmp_path)]) == 1
    assert "has no finished fold" in capsys.readouterr().err
    copy = tmp_path / "copy"
    shutil.copytree(runs["ptssnn.yaml"], copy, ignore=shutil.ignore_patterns("cache"))
    assert main([str(copy), "--fold", "2"]) == 1
    assert "fold 2" in capsys.readouterr().err
    shutil.rmtree(copy / "fold_1" / "save")
    assert main([str(copy), "--fold", "1"]) == 1
    assert f"{copy / 'fold_1'} has no checkpoint" in capsys.readouterr().err


def test_spike_input_and_spiking_qkv_are_counted_as_accumulates():
    torch.manual_seed(0)
    model = PTSSNN(input_size=12, n_classes=3, hidden_sizes=(16, 8), bias_hidden_size=4,
                   num_prompts=2, input_encoding="spikes", spiking_qkv=True,
                   neuron=functools.partial(PLIF, v_threshold=0.3)).eval()
    captured = []
    hooks = [n.register_forward_hook(lambda m, a, out: captured.append(out.detach()))
             for n in model.attention.qkv_neurons]
    x = torch.randn(1, 10, 12) * 3
    with torch.no_grad(), OperationCounter(model) as counter:
        model(x)
    for hook in hooks:
        hook.remove()
    layers = counter.layers()
    # every projection reads spikes: no multiply-accumulate left but the small ones
    assert layers["blocks.0.linear"]["macs"] == 0 and layers["blocks.0.shortcut"]["macs"] == 0
    assert layers["encoder.affine"]["macs"] == 10 * 24
    query, key, value = captured
    assert set(torch.cat([query, key, value]).unique().tolist()) <= {0.0, 1.0}
    expected = sum(
        int(key[0, n, d] * value[0, n, e]) for n in range(key.shape[1])
        for d in range(8) for e in range(8)
    ) + int(query.sum()) * 8
    assert layers["attention.products"] == {"acs": expected, "macs": 64,
                                            "ann_macs": 2 * 12 * 64}
