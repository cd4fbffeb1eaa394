"""`kd evaluate` end to end: its BLEU equals sacrebleu's own command line on the same files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from s2s.corpus import read_tsv


def _kd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kd", *args], capture_output=True, text=True, timeout=300)


def test_bleu_equals_sacrebleu_cli(reference_teacher_dir: Path, bible_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    run = _kd("evaluate", "--model", str(reference_teacher_dir), "--data", str(bible_dir / "test.tsv"),
              "--limit", "40", "--beams", "1,2", "--out", str(out))
    assert run.returncode == 0, run.stderr
    results = json.loads((out / "results.json").read_text())
    refs = tmp_path / "refs.txt"
    refs.write_text("\n".join(read_tsv(bible_dir / "test.tsv").targets()[:40]) + "\n", encoding="utf-8")
    for result in results["results"]:
        cli = subprocess.run([sys.executable, "-m", "sacrebleu", str(refs), "-i",
                              str(out / f"hyp.{result['decoding']}.txt"), "-m", "bleu", "chrf", "-b", "-w", "4"],
                             capture_output=True, text=True, check=True)
        bleu, chrf = (float(x) for x in json.loads(cli.stdout))
        assert abs(result["scores"]["bleu"] - bleu) < 0.01 and abs(result["scores"]["chrf"] - chrf) < 0.01
        assert result["scores"]["bleu"] > 15, "the reference teacher translates the Bible well"
        assert result["sentences"] == 40 and result["sentences_per_s"] > 0
    assert "| greedy |" in run.stdout and "| beam2 |" in run.stdout


def test_bad_model_folder_is_a_clear_error(tmp_path: Path, bible_dir: Path) -> None:
    run = _kd("evaluate", "--model", str(tmp_path), "--data", str(bible_dir / "test.tsv"))
    assert run.returncode == 2
    assert "is not a model folder (no config.json)" in run.stderr and "Traceback" not in run.stderr


def test_ctranslate2_engine_float32_gives_pytorchs_greedy_translations(reference_teacher_dir: Path,
                                                                         bible_dir: Path, tmp_path: Path) -> None:
    common = ["evaluate", "--model", str(reference_teacher_dir), "--data", str(bible_dir / "test.tsv"),
              "--limit", "30", "--beams", "1"]
    torch_run = _kd(*common, "--out", str(tmp_path / "torch"))
    ct2_run = _kd(*common, "--engine", "ctranslate2", "--out", str(tmp_path / "ct2"))
    assert torch_run.returncode == 0 and ct2_run.returncode == 0, ct2_run.stderr
    assert (tmp_path / "ct2" / "hyp.greedy.txt").read_text() == (tmp_path / "torch" / "hyp.greedy.txt").read_text()
    results = json.loads((tmp_path / "ct2" / "results.json").read_text())
    assert results["engine"] == "ctranslate2" and results["quantization"] == "float32"


def test_a_mask_predict_student_evaluates_at_several_iteration_counts_and_translates(
        tokenizer: object, bible_dir: Path, tmp_path: Path) -> None:
    from s2s.checkpoint import Manifest, save_checkpoint
    from s2s.cmlm import build_cmlm
    from s2s.presets import count_parameters

    model = build_cmlm("test-micro", tokenizer, seed=2)
    folder = save_checkpoint(model, tokenizer, tmp_path / "cmlm", Manifest(  # type: ignore[arg-type]
        model_id="cmlm-micro", vocab_fingerprint=tokenizer.fingerprint, parameters=count_parameters(model)))  # type: ignore[attr-defined]
    run = _kd("evaluate", "--model", str(folder), "--data", str(bible_dir / "test.tsv"), "--limit", "6",
              "--iterations", "1,4", "--length-beam", "2", "--out", str(tmp_path / "eval"))
    assert run.returncode == 0, run.stderr
    decodings = [r["decoding"] for r in json.loads((tmp_path / "eval" / "results.json").read_text())["results"]]
    assert decodings == ["mask-predict T=1 l=2", "mask-predict T=4 l=2"]
    translated = _kd("translate", "--model", str(folder), "--iterations", "3", "Y dijo Dios: Sea la luz.")
    assert translated.returncode == 0 and len(translated.stdout.splitlines()) == 1
    refused = _kd("evaluate", "--model", str(folder), "--data", str(bible_dir / "test.tsv"), "--engine", "ctranslate2")
    assert refused.returncode == 2 and "Mask-Predict student" in refused.stderr
