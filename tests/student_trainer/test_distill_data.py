"""Seq-KD / Seq-Inter data through the real teacher server and Ray tasks, against direct beam search."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sacrebleu

from s2s.checkpoint import load_checkpoint
from s2s.decoding import generate_nbest
from s2s.errors import DataError
from s2s.tokenizer import Tokenizer
from student_trainer.distill_data import DistillSpec, distill_data

BEAM, NBEST, MAX_LEN = 3, 3, 12


@pytest.fixture()
def source_tsv(tiny_data: dict[str, Path], tmp_path: Path) -> Path:
    """Seven verses plus one malformed row (which must be skipped)."""
    lines = tiny_data["valid"].read_text(encoding="utf-8").splitlines()[:8]
    path = tmp_path / "src.tsv"
    path.write_text("\n".join([*lines, "Broken 1:1\tonly two cells"]) + "\n", encoding="utf-8")
    return path


def _expected(micro_checkpoint: Path, tokenizer: Tokenizer, rows: list[list[str]]) -> dict[str, list[str]]:
    """Direct beam search on the same model, and the sentence-BLEU and sentence-chrF choices among its n-best."""
    model = load_checkpoint(micro_checkpoint).model
    src = [tokenizer.encode_source(r[1], model.config.max_position_embeddings) for r in rows]
    nbests = generate_nbest(model, src, tokenizer.pad_id, beam_size=BEAM, nbest=NBEST, max_len=MAX_LEN)
    out: dict[str, list[str]] = {"seq_kd": [], "seq_inter": [], "seq_inter_chrf": []}
    for hyps, row in zip(nbests, rows, strict=True):
        texts = [" ".join(tokenizer.decode(h.ids).split()) for h in hyps]
        bleu = [sacrebleu.sentence_bleu(t, [row[2]]).score for t in texts]
        chrf = [sacrebleu.sentence_chrf(t, [row[2]]).score for t in texts]
        out["seq_kd"].append(texts[0])
        out["seq_inter"].append(texts[bleu.index(max(bleu))])
        out["seq_inter_chrf"].append(texts[chrf.index(max(chrf))])
    return out


def test_distilled_corpora_match_direct_beam_search_and_resume(
        ray_cluster: str, teacher_endpoint: str, micro_checkpoint: Path, tokenizer: Tokenizer,
        source_tsv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "distilled"
    spec = DistillSpec(teacher=teacher_endpoint, data=str(source_tsv), out_dir=str(out), beam=BEAM, nbest=NBEST,
                       max_len=MAX_LEN, chunk_size=3, parallel=2)
    outcome = distill_data(spec)
    assert (outcome.rows, outcome.skipped_rows, outcome.chunks, outcome.chunks_reused) == (7, 1, 3, 0)
    progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[distill-data] chunk")]
    assert len(progress) == 3 and progress[-1].endswith("(3/3)")
    assert outcome.teacher_id == "micro"
    rows = [line.split("\t") for line in source_tsv.read_text(encoding="utf-8").splitlines()[1:8]]
    expected = _expected(micro_checkpoint, tokenizer, rows)
    seq_kd, seq_inter = expected["seq_kd"], expected["seq_inter"]
    assert set(outcome.paths) == set(expected)
    for name, targets in expected.items():
        lines = outcome.paths[name].read_text(encoding="utf-8").splitlines()
        assert lines[0] == "ref\tes\ten"
        written = [line.split("\t") for line in lines[1:]]
        assert [w[:2] for w in written] == [r[:2] for r in rows]  # other columns kept
        assert [w[2] for w in written] == targets
    for kd, inter, row in zip(seq_kd, seq_inter, rows, strict=True):  # Seq-Inter is never further from the ref
        assert sacrebleu.sentence_bleu(inter, [row[2]]).score >= sacrebleu.sentence_bleu(kd, [row[2]]).score

    # Resume: finished chunks are kept; only the missing one is generated again.
    before = {n: p.read_text(encoding="utf-8") for n, p in outcome.paths.items()}
    for path in (out / "chunks").glob("000001.*"):
        path.unlink()
    again = distill_data(spec)
    assert (again.chunks, again.chunks_reused) == (3, 2)
    assert {n: p.read_text(encoding="utf-8") for n, p in again.paths.items()} == before


def test_output_made_with_other_settings_is_refused(ray_cluster: str, teacher_endpoint: str,
                                                    micro_checkpoint: Path, source_tsv: Path,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "distilled"
    spec = DistillSpec(teacher=teacher_endpoint, data=str(source_tsv), out_dir=str(out), beam=2, nbest=1,
                       max_len=4, chunk_size=8)
    distill_data(spec)
    other = DistillSpec(**{**spec.__dict__, "beam": 3})
    with pytest.raises(DataError, match="beam"):
        distill_data(other)


def test_nbest_larger_than_beam_is_refused() -> None:
    from s2s.errors import KDError

    with pytest.raises(KDError, match="--nbest"):
        DistillSpec(teacher="127.0.0.1:1", data="x", out_dir="y", beam=2, nbest=3).check()



def test_a_teacher_of_another_family_distils_by_text(ray_cluster: str, start_teacher: Callable[..., str],
                                                      tiny_teachers: dict[str, Path], source_tsv: Path,
                                                      tmp_path: Path) -> None:
    """A T5 teacher (its own vocabulary, a task prefix) served by a real teacher process: the distilled
    targets are its beam search outputs' texts; no student tokenizer is involved."""
    from s2s.languages import Languages
    from s2s.local_teacher import InProcessTeacher

    endpoint = start_teacher(tiny_teachers["t5"], "--src-lang", "es", "--tgt-lang", "en")
    spec = DistillSpec(teacher=endpoint, data=str(source_tsv), out_dir=str(tmp_path / "t5"), beam=2, nbest=2,
                       max_len=8, chunk_size=4, parallel=2)
    outcome = distill_data(spec)
    rows = [line.split("\t") for line in source_tsv.read_text(encoding="utf-8").splitlines()[1:8]]
    with InProcessTeacher(tiny_teachers["t5"], device="cpu", languages=Languages("es", "en")) as direct:
        expected = [" ".join(h[0].text.split()) for h in direct.generate_text([r[1] for r in rows], 2, 2, 8)]
    written = [line.split("\t")[2] for line in outcome.paths["seq_kd"].read_text(encoding="utf-8").splitlines()[1:]]
    assert written == expected and outcome.rows == 7
