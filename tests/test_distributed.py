"""The adapter trains inside a SpeechBrain Brain under torchrun (gloo, CPU)."""

import math
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("ddp_train_step.py")


def test_torchrun_two_processes_run_a_training_step(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        "--master_port=29531", str(SCRIPT), str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for rank in (0, 1):
        loss, changed, wrapper = (tmp_path / f"rank{rank}.txt").read_text().split()
        assert math.isfinite(float(loss))
        assert changed == "True"
        assert wrapper == "DistributedDataParallel"
