"""Efficiency, parameters and spiking health of trained runs; comparison tables.

From the command line::

    python -m speechbrain_ptssnn.report RUN [--fold K]       # fold_<k>/efficiency.{json,md} + PNGs
    python -m speechbrain_ptssnn.report compare RUN [RUN ...] [--output FILE] [--paired]

From Python (e.g. at the end of a recipe)::

    from speechbrain_ptssnn.report import efficiency_report
    efficiency_report(output_folder, fold=1)

Modules: :mod:`~speechbrain_ptssnn.report.parameters` (trainable parameters),
:mod:`~speechbrain_ptssnn.report.monitor` (firing rates and the classifier's
input current, through forward hooks), :mod:`~speechbrain_ptssnn.report.energy`
(operations and energy, Eq. 19-21), :mod:`~speechbrain_ptssnn.report.upstream_energy`
(the upstream's estimate),
:mod:`~speechbrain_ptssnn.report.plots`, :mod:`~speechbrain_ptssnn.report.loading`
(rebuilding a trained fold), :mod:`~speechbrain_ptssnn.report.efficiency`
(the report), :mod:`~speechbrain_ptssnn.report.markdown` (the report as
markdown) and :mod:`~speechbrain_ptssnn.report.compare` (the table).
"""

from speechbrain_ptssnn.report.compare import (
    comparison_table,
    paired_comparison,
    paired_table,
    run_summary,
)
from speechbrain_ptssnn.report.efficiency import efficiency_report, fold_efficiency
from speechbrain_ptssnn.report.energy import (
    E_AC_PJ,
    E_MAC_PJ,
    OperationCounter,
    energy_mj,
    energy_summary,
)
from speechbrain_ptssnn.report.markdown import efficiency_markdown
from speechbrain_ptssnn.report.monitor import ClassifierCurrentProbe, SpikeMonitor
from speechbrain_ptssnn.report.parameters import parameter_table
from speechbrain_ptssnn.report.upstream_energy import emotion2vec_macs

__all__ = [
    "efficiency_report",
    "fold_efficiency",
    "efficiency_markdown",
    "comparison_table",
    "paired_comparison",
    "paired_table",
    "run_summary",
    "OperationCounter",
    "SpikeMonitor",
    "ClassifierCurrentProbe",
    "parameter_table",
    "emotion2vec_macs",
    "energy_mj",
    "energy_summary",
    "E_MAC_PJ",
    "E_AC_PJ",
]
