"""The efficiency report as markdown (``fold_<k>/efficiency.md``).

:func:`efficiency_markdown` writes a report of
:func:`~speechbrain_ptssnn.report.efficiency.fold_efficiency` (or
:func:`~speechbrain_ptssnn.report.efficiency.measure_model`) as tables, one
section builder per part: the model and test set, the trainable parameters,
spiking health, the classifier's calibration, operations and energy, and the
upstream with what is and is not counted.
"""


def _si(value):
    """``1.23 M``-style numbers.

    Example
    -------
    >>> _si(12), _si(1234567), _si(0.5)
    ('12', '1.235 M', '0.5')
    """
    if value == int(value) and abs(value) < 1e3:
        return str(int(value))
    for factor, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= factor:
            return f"{value / factor:.3f}{suffix}"
    return f"{value:.1f}"


def efficiency_markdown(report):
    """The report as markdown tables.

    Arguments
    ---------
    report : dict
        A report of :func:`~speechbrain_ptssnn.report.efficiency.fold_efficiency`.

    Returns
    -------
    str

    Example
    -------
    >>> import torch
    >>> from speechbrain_ptssnn.lobes import PTSSNN
    >>> from speechbrain_ptssnn.report.efficiency import measure_model
    >>> model = PTSSNN(input_size=8, n_classes=2, hidden_sizes=(8, 4), bias_hidden_size=2)
    >>> report = measure_model(model, [("a", torch.randn(12, 8), 0.24)], check_utterances=0)
    >>> text = efficiency_markdown(report)
    >>> text.splitlines()[0], "| **total** |" in text, "## Spiking health" in text
    ('# Efficiency report: PTSSNN', True, True)
    """
    lines = []
    for section in (_model_lines, _parameter_lines, _spiking_lines, _calibration_lines,
                    _energy_lines, _upstream_lines, _counted_lines):
        lines += section(report)
    return "\n".join(lines) + "\n"


def _model_lines(report):
    """The title, the model, its checkpoint and hparams, the test set."""
    model, test = report["model"], report["test_set"]
    name = model.get("experiment_name") or model["class"]
    title = f"# Efficiency report: {name}" + (
        f", fold {report['fold']}" if "fold" in report else ""
    )
    details = f"- Model: `{model['class']}`" + (
        f" (variant `{model['variant']}`)" if model.get("variant") else ""
    )
    if model.get("input_size"):
        details += f", input {model['input_size']}, {model['n_classes']} classes"
    lines = [title, "", details]
    if "checkpoint" in report:
        checkpoint = report["checkpoint"]
        lines.append(f"- Checkpoint: `{checkpoint['path']}` ({checkpoint['chosen_by']})")
    if "hparams_source" in report:
        lines.append(f"- Hparams: `{report['hparams_source']}`")
    lines.append(
        f"- Test set: {test['utterances']} utterances, {test['seconds']:.1f} s of audio "
        f"(mean {test['mean_seconds']:.2f} s, {test['mean_frames']:.1f} frames)"
    )
    if report.get("prediction_agreement") is not None:
        lines.append(
            f"- Rebuilt model's predictions agree with `predictions.csv` on "
            f"{100 * report['prediction_agreement']:.1f} % of the test set"
        )
    return lines


def _parameter_lines(report):
    """Trainable parameters per component and per module."""
    params = report["parameters"]
    lines = ["", "## Trainable parameters", "", "| component | parameters |", "|---|---:|"]
    lines += [f"| {name} | {count:,} |" for name, count in params["components"].items()]
    lines += [f"| **total** | **{params['total']:,}** |", ""]
    lines += ["| module | type | parameters |", "|---|---|---:|"]
    lines += [
        f"| {row['module']} | {row['type']} | {row['parameters']:,} |"
        for row in params["modules"]
    ]
    return lines


def _spiking_lines(report):
    """Firing rates, silent and saturated neurons of every PLIF layer."""
    spiking = report["spiking"]
    lines = ["", "## Spiking health", ""]
    if not spiking["layers"]:
        return lines + ["This model has no spiking layer."]
    lines += [
        f"Over the valid frames of the test set (padding excluded; the attention layer's positions "
        f"include its prompts). Silent: never fires on the test set. Saturated: fires on "
        f"≥ {100 * spiking['saturated_at']:.0f} % of its valid frames.",
        "",
        "| PLIF layer | neurons | positions | mean rate | silent | saturated |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, stats in spiking["layers"].items():
        lines.append(
            f"| {name} | {stats['neurons']} | {stats['positions']:,} | {stats['mean_rate']:.4f} | "
            f"{100 * stats['silent_fraction']:.1f} % | {100 * stats['saturated_fraction']:.1f} % |"
        )
    plots = report.get("plots") or {}
    if "firing_rates" in plots:
        lines += ["", f"![firing rates]({plots['firing_rates']})"]
    return lines


def _calibration_lines(report):
    """The classifier's input current against its threshold, with and without the bias."""
    calibration = report["calibration"]
    if calibration is None:
        return []
    saturated_at = report["spiking"]["saturated_at"]
    lines = [
        "", "## Calibration: the classifier's input current", "",
        f"Membrane input current of the classifier's PLIF neurons on every valid frame, against "
        f"the threshold V_th = {calibration['threshold']:g}"
        + ("" if calibration["has_bias"] else " (this model has no homeostatic bias)")
        + ". Silent / saturated: utterance × class-neuron pairs with rate 0 / "
        f"≥ {100 * saturated_at:.0f} %.",
        "",
        "| current | mean | p5 | median | p95 | ≥ V_th | silent | saturated |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in (("with_bias", "as run (with bias)"), ("without_bias", "bias removed")):
        if key == "without_bias" and not calibration["has_bias"]:
            continue
        c = calibration[key]
        lines.append(
            f"| {label} | {c['mean']:.3f} | {c['p5']:.3f} | {c['p50']:.3f} | {c['p95']:.3f} | "
            f"{100 * c['above_threshold']:.1f} % | {100 * c['silent_neurons']:.1f} % | "
            f"{100 * c['saturated_neurons']:.1f} % |"
        )
    plots = report.get("plots") or {}
    if "classifier_current" in plots:
        lines += ["", f"![classifier input current]({plots['classifier_current']})"]
    return lines


def _energy_lines(report):
    """Operations per site, and the model's energy against its ANN twin's (Eq. 19-21)."""
    energy, test = report["energy"], report["test_set"]
    lines = [
        "", "## Operations and energy (Eq. 19-21)", "",
        f"E_MAC = {energy['e_mac_pj']} pJ, E_AC = {energy['e_ac_pj']} pJ. "
        f"Per sample: mean over the {test['utterances']} test utterances "
        f"(mean duration {test['mean_seconds']:.2f} s).",
        "",
        "| site | ACs / sample | MACs / sample | ANN twin MACs / sample |",
        "|---|---:|---:|---:|",
    ]
    for name, counts in report["operations"]["layers"].items():
        lines.append(
            f"| {name} | {_si(counts['acs'])} | {_si(counts['macs'])} "
            f"| {_si(counts['ann_macs'])} |"
        )
    m, t = energy["model"], energy["ann_twin"]
    lines += [
        "",
        "| | model as run | ANN twin (ReLU) |",
        "|---|---:|---:|",
        f"| ACs per sample | {_si(m['per_sample']['acs'])} | 0 |",
        f"| MACs per sample | {_si(m['per_sample']['macs'])} | {_si(t['per_sample']['macs'])} |",
        f"| **energy per sample** | **{1000 * m['per_sample']['energy_mj']:.2f} µJ** | "
        f"**{1000 * t['per_sample']['energy_mj']:.2f} µJ** |",
        f"| energy per second of audio | {1000 * m['per_second']['energy_mj']:.2f} µJ | "
        f"{1000 * t['per_second']['energy_mj']:.2f} µJ |",
    ]
    if energy["ann_over_model"]:
        lines += ["", f"The ANN twin needs {energy['ann_over_model']:.2f}× the model's energy."]
    return lines


def _upstream_lines(report):
    """The upstream encoder's estimate, apart from the model's."""
    upstream = report["upstream"]
    used = upstream.get("used_by_this_run")
    per_sample, per_second = upstream["per_sample"], upstream["per_second"]
    return [
        "", "### Upstream encoder (separately)", "",
        (f"This run's features: {used}. " if used else "")
        + f"Estimate for {upstream['model']}: "
        f"{_si(per_sample['macs'])}MACs = {per_sample['energy_mj']:.2f} mJ per sample, "
        f"{_si(per_second['macs'])}MACs = {per_second['energy_mj']:.2f} mJ per second of audio.",
        "",
        upstream["method"],
    ]


def _counted_lines(report):
    """What is counted and what is not; the cross-check with SpikingJelly's counters."""
    lines = ["", "### Counted", ""]
    lines += [f"- {item}" for item in report["counted"]]
    lines += ["", "### Not counted", ""]
    lines += [f"- {item}" for item in report["not_counted"]]
    check = report["op_counter_check"]
    if check:
        verdict = "agree" if check["agrees"] else "differ"
        lines += [
            "", "### Cross-check with SpikingJelly's stock counters", "",
            f"On the first {check['utterances']} test utterances: "
            f"SynOpCounter {check['spikingjelly_synops']:,} vs our ACs {check['ours_acs']:,}; "
            f"MACCounter {check['spikingjelly_macs']:,} vs our MACs "
            f"{check['ours_macs']:,} ({verdict}). {check['note']}",
        ]
    return lines
