"""`kd up`'s console progress, read from a trainer log as it grows."""

from __future__ import annotations

from pathlib import Path

from kd.stack.progress import TrainProgress


def test_progress_reports_steps_throughput_and_time_left_as_the_log_grows(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    said: list[str] = []
    now = [100.0]
    progress = TrainProgress(log, 1000, said.append, clock=lambda: now[0])
    assert progress.poll() == []
    log.write_text("(RayTrainWorker pid=1) [trainer] step 50 epoch 0 | loss 3.5000 nll 3.5000 | lr 1e-03 | "
                   "4100 tok/s | teacher wait 0.00s (0%) | cache hit -\n[trainer] step 100 ep")
    first = progress.poll()
    assert [r.step for r in first] == [50] and first[0].seconds_left is None
    now[0] = 160.0
    with log.open("a") as f:
        f.write("och 0 | loss 3.0000 nll 3.0 | lr 1e-03 | 3900 tok/s | teacher wait 0s (0%) | cache hit -\n"
                "[trainer] eval: step=100, valid_nll=2.1, valid_bleu=25.5, valid_chrf=50\n")
    second = progress.poll()
    assert [r.step for r in second] == [100] and second[0].seconds_left == 60 / 50 * 900
    assert said[-2] == "  step 100/1000 (10%) | loss 3.000 | 3,900 tokens/s, about 18 min left"
    assert said[-1] == "  validation at step 100: BLEU 25.5 (400 verses)"
