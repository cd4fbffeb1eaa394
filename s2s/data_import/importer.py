"""`import_corpus`: read any supported corpus, clean it, split it, and write the project's corpus folder.

The passes, all streaming:
1. Each given held-out file (`--valid`, `--test`) is read, cleaned and written; its sources' hashes are kept.
2. `--data` is read and cleaned; a row whose source is in a held-out file is dropped (overlap). If every
   split has a file, the rows go straight to `train.tsv`. Otherwise they go to a temporary file in the build
   folder while a `HeldOutPicker` keeps the smallest seeded source keys.
3. (Only when splitting.) The temporary file is read back and each row routed by its source's key: test,
   valid (one row per source, so sizes are exact) or train.
Memory: a few batches of rows, 64-bit hashes of the kept pairs and held-out sources, and the picker's heap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from s2s.data_import.cleaning import Cleaner, CleanPair
from s2s.data_import.columns import ColumnChoice, choose_columns
from s2s.data_import.formats import Format, InputFile, Table, check_exists, detect_format
from s2s.data_import.hashset import HashSet64, text_hash
from s2s.data_import.output import SPLITS, InputDigest, TsvWriter, building, check_out_dir
from s2s.data_import.records import RawRecord, Reason
from s2s.data_import.report import ImportReport, read_import_json
from s2s.data_import.spec import ImportSpec
from s2s.data_import.splitting import HeldOutPicker, capacity_for, plan_sizes
from s2s.data_import.tally import Tally
from s2s.errors import DataError

Progress = Callable[[str, int], None]
"""Called as `progress(file name, rows read so far)` every `PROGRESS_EVERY` rows of each input."""
PROGRESS_EVERY = 10_000


class _Input:
    """One opened input: its file, format, table and chosen columns."""

    def __init__(self, split: str, file: InputFile, spec: ImportSpec) -> None:
        check_exists(file)
        self.split, self.file = split, file
        self.format: Format[Any] = detect_format(file, spec.format)
        settings = spec.format_settings if spec.format_settings is not None else self.format.settings
        if not isinstance(settings, type(self.format.settings)):
            raise DataError(f"format settings {type(settings).__name__} do not belong to format {self.format.name}")
        self.table: Table = self.format.open(file, settings)
        where = f"{file.flag} {file.path}"
        if self.table.fixed_choice is not None:
            if spec.src_col is not None or spec.tgt_col is not None:
                raise DataError(f"{where}: two plain files have no columns; drop --src-col/--tgt-col")
            self.choice: ColumnChoice = self.table.fixed_choice
        else:
            self.choice = choose_columns(self.table.columns, src_code=spec.src, tgt_code=spec.tgt,
                                         src_col=spec.src_col, tgt_col=spec.tgt_col, where=where)

    def records(self, progress: Progress | None) -> Iterator[RawRecord]:
        records = self.table.records(self.choice)
        if progress is None:
            yield from records
            return
        name = self.file.path.name
        for n, record in enumerate(records, start=1):
            if n % PROGRESS_EVERY == 0:
                progress(name, n)
            yield record


def import_corpus(spec: ImportSpec, progress: Progress | None = None) -> ImportReport:
    """Import `spec.data` (and the held-out files) into the corpus folder `spec.out`; see the module docstring.

    Raises `DataError` (nothing written) for a missing file, an unknown format, columns that cannot be chosen,
    an output folder that is not a corpus, or an input without usable rows.
    """
    inputs = {split: _Input(split, file, spec) for split, file in spec.inputs().items()}
    check_out_dir(spec.out)
    tallies = {split: Tally() for split in SPLITS}
    missing = tuple(s for s in ("valid", "test") if s not in inputs)
    notes: list[str] = []
    with building(spec.out) as build:
        writers = {split: TsvWriter(build / f"{split}.tsv", spec.src, spec.tgt) for split in SPLITS}
        try:
            held = HashSet64()
            for given in (s for s in ("valid", "test") if s in inputs):
                for pair in _cleaned(inputs[given], spec, tallies[given], progress):
                    writers[given].write(pair)
                    held.add(text_hash(pair.src))
                _require_rows(inputs[given], writers[given].rows, tallies[given])
            train = _cleaned(inputs["train"], spec, tallies["train"], progress)
            train = _without_held_out(train, held, tallies["train"])
            if missing:
                notes += _split_off(train, spec, missing, build / ".cleaned.tsv", writers, inputs["train"],
                                    tallies["train"])
            else:
                for pair in train:
                    writers["train"].write(pair)
                _require_rows(inputs["train"], writers["train"].rows, tallies["train"])
        finally:
            for writer in writers.values():
                writer.close()
        for split in SPLITS:
            tallies[split].kept = writers[split].rows
        report = ImportReport(
            out=spec.out, src=spec.src, tgt=spec.tgt, format=inputs["train"].format.name, tallies=tallies,
            columns={split: i.choice for split, i in inputs.items()},
            inputs=[InputDigest.of(split, i.file.flag, path) for split, i in inputs.items() for path in i.file.paths()],
            split_off=missing, seed=spec.split.seed, cleaning=spec.cleaning,
            format_settings=asdict(spec.format_settings or inputs["train"].format.settings), spec=spec.as_json(),
            notes=notes)
        report.write(build)
    return report


def _cleaned(source: _Input, spec: ImportSpec, tally: Tally, progress: Progress | None) -> Iterator[CleanPair]:
    clean = Cleaner(spec.cleaning, tally)
    for record in source.records(progress):
        pair = clean(record)
        if pair is not None:
            yield pair


def _without_held_out(pairs: Iterable[CleanPair], held: HashSet64, tally: Tally) -> Iterator[CleanPair]:
    for pair in pairs:
        if len(held) and text_hash(pair.src) in held:
            tally.drop(Reason.OVERLAP, pair.location, "source in the --valid/--test file")
        else:
            yield pair


def _split_off(pairs: Iterable[CleanPair], spec: ImportSpec, missing: tuple[str, ...], tmp: Path,
               writers: dict[str, TsvWriter], source: _Input, tally: Tally) -> list[str]:
    """Passes 2 and 3 of a split: spool the cleaned rows, pick the held-out sources, route the rows."""
    picker = HeldOutPicker(capacity_for(spec.split, missing), spec.split.seed)
    rows = 0
    with tmp.open("x", encoding="utf-8", newline="\n") as f:
        for pair in pairs:
            key = picker.key(pair.src)
            picker.offer(key)
            f.write(f"{key:x}\t{pair.location}\t{pair.ref}\t{pair.src}\t{pair.tgt}\n")
            rows += 1
    _require_rows(source, rows, tally)
    sizes = plan_sizes(spec.split, missing, rows, picker.distinct, f"{source.file.flag} {source.file.path}")
    routes = picker.assign(sizes)
    placed: set[int] = set()
    train = writers["train"]
    with tmp.open(encoding="utf-8", newline="\n") as f:
        for line in f:
            hex_key, location, ref, src, tgt = line.rstrip("\n").split("\t")
            split = routes.get(int(hex_key, 16)) if routes else None
            if split is None:
                train.write(CleanPair(ref, src, tgt, location))
            elif (key := int(hex_key, 16)) in placed:
                tally.drop(Reason.OVERLAP, location, f"its source already has a row in {split}")
            else:
                placed.add(key)
                writers[split].write(CleanPair(ref, src, tgt, location))
    tmp.unlink()
    notes = []
    if picker.distinct < 3:
        notes.append(f"only {picker.distinct} distinct source sentence(s): no validation or test rows split off")
    return notes


def _require_rows(source: _Input, kept: int, tally: Tally) -> None:
    """A clear error when an input yielded no usable row (the caller's build folder is then removed)."""
    if kept:
        return
    where = f"{source.file.flag} {source.file.path}"
    if tally.read == 0:
        raise DataError(f"{where} has no rows; check that it is the right file")
    raise DataError(
        f"{where}: no usable rows: all {tally.read:,} rows read were dropped: {tally.describe_drops()}. Check the "
        f"format (--format), the columns (--src-col/--tgt-col) and the limits (--max-words, --max-ratio)")


def import_is_current(spec: ImportSpec) -> bool:
    """True if `spec.out` holds an import of the same files (same sizes and SHA-256) with the same settings."""
    previous = read_import_json(spec.out)
    if previous is None or previous.get("spec") != spec.as_json():
        return False
    if not all((spec.out / f"{split}.tsv").is_file() for split in SPLITS):
        return False
    for entry in previous.get("inputs", []):
        path = Path(entry["path"])
        if not path.is_file() or path.stat().st_size != entry["bytes"]:
            return False
        if InputDigest.of(entry["split"], entry["flag"], path).sha256 != entry["sha256"]:
            return False
    return True
