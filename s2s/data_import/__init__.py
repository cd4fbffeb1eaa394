"""Bring your own corpus: import a TSV, two plain files, JSON Lines or Parquet into the project's corpus layout.

    from s2s.data_import import ImportSpec, import_corpus
    report = import_corpus(ImportSpec(data=Path("pairs.jsonl"), src="en", tgt="es", out=Path("data/en-es")))
    print(report.table())

The result is a folder with `train.tsv valid.tsv test.tsv` (header `ref<TAB>{src}<TAB>{tgt}`) and
`import.json`, which the trainer, `kd evaluate` and `kd distill-data` read as they read the Bible corpus.
Modules: `formats` (the format registry and readers), `columns` (which columns hold the texts), `cleaning`
(normalisation and the drop reasons), `splitting` (held-out sets by seeded source hash), `output` (atomic
writing), `report` (the summary and `import.json`), `importer` (the passes).
"""

from s2s.data_import.cleaning import CleaningSettings
from s2s.data_import.formats import FORMATS, FormatSettings, JsonlSettings, ParquetSettings, TsvSettings
from s2s.data_import.importer import PROGRESS_EVERY, Progress, import_corpus, import_is_current
from s2s.data_import.records import Reason
from s2s.data_import.report import ImportReport, read_import_json
from s2s.data_import.spec import ImportSpec
from s2s.data_import.splitting import SplitSettings

__all__ = ["FORMATS", "PROGRESS_EVERY", "CleaningSettings", "FormatSettings", "ImportReport", "ImportSpec",
           "JsonlSettings", "ParquetSettings", "Progress", "Reason", "SplitSettings", "TsvSettings",
           "import_corpus", "import_is_current", "read_import_json"]
