"""The imported corpus folder: readable by the rest of the project, atomic, its report, and streaming memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import s2s.data_import.importer as importer
from s2s.corpus import read_tsv
from s2s.data_import import ImportSpec, Reason, import_corpus, import_is_current, read_import_json
from s2s.errors import DataError

REPO = Path(__file__).resolve().parents[2]


def _corpus(path: Path, n: int) -> Path:
    path.write_text("ref\tes\ten\n" + "".join(f"r{i}\tfrase {i}\tsentence {i}\n" for i in range(n)),
                    encoding="utf-8")
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_output_is_the_project_layout_with_its_report(tmp_path: Path) -> None:
    data = _corpus(tmp_path / "c.tsv", 100)
    out = tmp_path / "corpora" / "es-en"
    report = import_corpus(ImportSpec(data=data, src="es", tgt="en", out=out))
    assert sorted(p.name for p in out.iterdir()) == ["import.json", "test.tsv", "train.tsv", "valid.tsv"]
    for split in ("train", "valid", "test"):
        corpus = read_tsv(out / f"{split}.tsv", src_col="es", tgt_col="en")  # what the trainer reads
        assert len(corpus.pairs) == report.rows(split) and not corpus.problems
    saved = read_import_json(out)
    assert saved is not None
    assert saved["rows"] == {"train": 92, "valid": 3, "test": 5}
    assert saved["columns"]["train"]["src"] == "es" and saved["inputs"][0]["bytes"] == data.stat().st_size
    assert len(saved["inputs"][0]["sha256"]) == 64 and saved["split"] == {"seed": 1, "split_off": ["valid", "test"]}
    assert saved["counts"]["train"]["read"] == 100
    assert _leftovers(out.parent) == []
    table = report.table()
    assert table.splitlines()[0].startswith("| rows") and "| kept " in table and "92" in table


def test_no_usable_rows_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "bad.tsv"
    data.write_text("es\ten\nigual\tigual\n\tvacío\nsolo\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(DataError) as error:
        import_corpus(ImportSpec(data=data, src="es", tgt="en", out=out))
    message = str(error.value)
    assert str(data) in message and "no usable rows" in message
    assert "1 source = target" in message and "1 empty side" in message and "1 malformed row" in message
    assert not out.exists() and _leftovers(tmp_path) == []
    empty = tmp_path / "empty.tsv"
    empty.write_text("es\ten\n", encoding="utf-8")
    with pytest.raises(DataError, match="has no rows"):
        import_corpus(ImportSpec(data=empty, src="es", tgt="en", out=out))
    valid = tmp_path / "v.tsv"
    valid.write_text("es\ten\nx\tx\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"--valid .*v.tsv: no usable rows"):
        import_corpus(ImportSpec(data=_corpus(tmp_path / "c.tsv", 10), src="es", tgt="en", out=out, valid=valid,
                                 test=valid))
    assert not out.exists() and _leftovers(tmp_path) == []


def test_an_interrupted_import_leaves_the_previous_corpus_intact(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    import_corpus(ImportSpec(data=_corpus(tmp_path / "old.tsv", 20), src="es", tgt="en", out=out))
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupt(name: str, rows: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(importer, "PROGRESS_EVERY", 5)
    with pytest.raises(KeyboardInterrupt):
        import_corpus(ImportSpec(data=_corpus(tmp_path / "new.tsv", 50), src="es", tgt="en", out=out), interrupt)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _leftovers(tmp_path) == []


def test_a_new_import_replaces_an_old_one_but_never_a_foreign_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    import_corpus(ImportSpec(data=_corpus(tmp_path / "a.tsv", 20), src="es", tgt="en", out=out))
    report = import_corpus(ImportSpec(data=_corpus(tmp_path / "b.tsv", 40), src="es", tgt="en", out=out))
    assert report.tallies["train"].read == 40 and _leftovers(tmp_path) == []
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="was not made by `kd data import`"):
        import_corpus(ImportSpec(data=tmp_path / "a.tsv", src="es", tgt="en", out=foreign))
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_import_is_current_follows_the_files_and_settings(tmp_path: Path) -> None:
    data = _corpus(tmp_path / "c.tsv", 30)
    spec = ImportSpec(data=data, src="es", tgt="en", out=tmp_path / "out")
    assert not import_is_current(spec)
    import_corpus(spec)
    assert import_is_current(spec)
    assert not import_is_current(ImportSpec(data=data, src="es", tgt="en", out=tmp_path / "out",
                                            split=spec.split.__class__(seed=2)))
    data.write_text(data.read_text().replace("frase 3\t", "frase tres\t"))
    assert not import_is_current(spec)


def test_the_bible_in_the_other_direction(tmp_path: Path, bible_dir: Path) -> None:
    out = tmp_path / "bible-en-es"
    report = import_corpus(ImportSpec(data=bible_dir / "train.tsv", src="en", tgt="es", out=out))
    train = report.tallies["train"]
    assert train.read == 27982 and report.columns["train"].how == "named by the language codes"
    assert train.total_dropped < 0.02 * train.read  # a clean corpus loses little
    assert set(train.dropped) <= {Reason.RATIO, Reason.DUPLICATE, Reason.TOO_LONG, Reason.SAME, Reason.OVERLAP}
    kept = train.read - train.total_dropped
    assert (report.rows("valid"), report.rows("test")) == (min(1000, int(0.03 * kept)), min(2000, int(0.05 * kept)))
    first = (out / "train.tsv").read_text(encoding="utf-8").splitlines()[:2]
    assert first == ["ref\ten\tes", "Genesis 1:1\tIn the beginning God created the heaven and the earth.\t"
                                    "EN el principio crió Dios los cielos y la tierra."]
    train_sources = {p.src for p in read_tsv(out / "train.tsv", src_col="en", tgt_col="es").pairs}
    held_out = {p.src for split in ("valid", "test") for p in read_tsv(out / f"{split}.tsv", "en", "es").pairs}
    assert not train_sources & held_out
    assert "| kept " in report.table()


def test_streaming_keeps_memory_far_below_the_corpus(tmp_path: Path) -> None:
    """200,000 short rows (22 MB, 112 bytes a row): the import holds hashes, not text.

    What grows with the corpus is the set of 64-bit pair hashes (8 bytes a slot, at most 70 % full, doubling:
    about 36 bytes a row at its peak here, 7 MB); holding the text as Python strings would take several times
    the file. Measured as the growth of the peak resident size of a fresh process (not tracemalloc, which slows
    this allocation-heavy loop 5-7 times): it covers everything, C buffers included.
    """
    data = tmp_path / "big.tsv"
    with data.open("w", encoding="utf-8") as f:
        f.write("es\ten\n")
        for start in range(0, 200_000, 10_000):
            f.write("".join(f"la casa {i} es roja y tiene el número {i % 977} en la puerta\tthe house {i} is red "
                            f"and has number {i % 977} on its door\n" for i in range(start, start + 10_000)))
    script = textwrap.dedent("""
        import sys
        from pathlib import Path
        from s2s.data_import import ImportSpec, import_corpus

        def status(field):  # this process's own figures (ru_maxrss would include the parent's, from before exec)
            line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field))
            return int(line.split()[1]) * 1024

        data, tmp = Path(sys.argv[1]), Path(sys.argv[2])
        (tmp / "warm.tsv").write_text("es\\ten\\nuno\\tone\\ndos\\ttwo\\ntres\\tthree\\n")
        import_corpus(ImportSpec(data=tmp / "warm.tsv", src="es", tgt="en", out=tmp / "warm"))
        before = status("VmRSS:")
        report = import_corpus(ImportSpec(data=data, src="es", tgt="en", out=tmp / "out"))
        print(status("VmHWM:") - before, report.rows("train"))
    """)
    run = subprocess.run([sys.executable, "-c", script, str(data), str(tmp_path)], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert run.returncode == 0, run.stderr
    growth, train_rows = (int(x) for x in run.stdout.split())
    size = data.stat().st_size
    print(f"file {size / 1e6:.1f} MB, peak memory growth {growth / 1e6:.1f} MB ({growth / 200_000:.0f} B/row)")
    assert train_rows == 200_000 - 1000 - 2000
    assert growth < size / 2, f"the import grew by {growth:,} bytes for a {size:,}-byte file"
    assert json.loads((tmp_path / "out" / "import.json").read_text())["rows"]["train"] == train_rows
