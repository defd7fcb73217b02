"""One SpeechBrain training step of the PTS-SNN adapter under ``torchrun``.

Run by ``tests/test_distributed.py`` as
``torchrun --nproc_per_node=2 tests/ddp_train_step.py OUTPUT_DIR``; each rank
writes ``OUTPUT_DIR/rank<k>.txt`` holding the loss, whether the adapter's
weights changed and the class that wraps it.
"""

import os
import sys

import speechbrain as sb
import torch
from speechbrain.dataio.dataset import DynamicItemDataset

from speechbrain_ptssnn.lobes import PTSSNN
from speechbrain_ptssnn.losses import HybridFocalLabelSmoothingLoss


class StepBrain(sb.Brain):
    def compute_forward(self, batch, stage):
        feats, lengths = batch.feats
        return self.modules.adapter(feats.to(self.device), lengths.to(self.device))

    def compute_objectives(self, predictions, batch, stage):
        return self.hparams.compute_cost(predictions, batch.label.to(self.device))

    def on_stage_end(self, stage, stage_loss, epoch=None):
        self.last_loss = stage_loss


def main(output_dir):
    sb.utils.distributed.ddp_init_group({"distributed_backend": "gloo"})
    torch.manual_seed(0)
    data = {
        f"utt{i}": {"feats": torch.randn(10 + i, 24), "label": i % 3} for i in range(8)
    }
    dataset = DynamicItemDataset(data, output_keys=["id", "feats", "label"])
    adapter = PTSSNN(input_size=24, n_classes=3, hidden_sizes=(16, 8), bias_hidden_size=4)
    before = [p.detach().clone() for p in adapter.parameters()]
    brain = StepBrain(
        modules={"adapter": adapter},
        opt_class=lambda params: torch.optim.AdamW(params, lr=1e-2),
        hparams={"compute_cost": HybridFocalLabelSmoothingLoss()},
        run_opts={"device": "cpu", "distributed_backend": "gloo"},
    )
    brain.fit(range(1), dataset, train_loader_kwargs={"batch_size": 4})
    changed = any(not torch.equal(a, b) for a, b in zip(before, adapter.parameters()))
    wrapper = type(brain.modules.adapter).__name__
    rank = int(os.environ["RANK"])
    with open(os.path.join(output_dir, f"rank{rank}.txt"), "w") as out:
        out.write(f"{brain.last_loss} {changed} {wrapper}\n")


if __name__ == "__main__":
    main(sys.argv[1])
