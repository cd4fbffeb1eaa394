"""A student exported with `kd export --format argos` installs in Argos Translate and translates there exactly
as the gateway does with the same export (greedy).

Argos runs in a child process whose home, data, config and cache folders are a throwaway folder, so nothing
touches the machine's Argos install and no network is needed. Argos splits text into sentences before
translating; offline, its spaCy splitter is used (`ARGOS_CHUNK_TYPE=SPACY`) with a blank multilingual spaCy
pipeline put where Argos caches the one it would download, and one-sentence inputs keep the comparison
sentence for sentence. `ARGOS_BEAM_SIZE=1` makes Argos decode greedily.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kd.cli import main
from s2s.export import export_checkpoint
from s2s.languages import Languages

SENTENCES = ["En el principio creó Dios los cielos y la tierra.", "Y dijo Dios: Sea la luz; y fue la luz.",
             "Jesús lloró.", "Porque de tal manera amó Dios al mundo.", "El Señor es mi pastor; nada me faltará."]

ARGOS = r"""
import json, os, sys
from pathlib import Path

import spacy

cache = Path(os.environ["XDG_CACHE_HOME"]) / "argos-translate" / "spacy"
cache.mkdir(parents=True)
spacy.blank("xx").to_disk(cache)  # the sentence splitter Argos would otherwise download
(cache / "senter").mkdir()
(cache / "senter" / "model").touch()

import argostranslate.package
import argostranslate.translate

argostranslate.package.install_from_path(Path(sys.argv[1]))
installed = argostranslate.package.get_installed_packages()
translation = argostranslate.translate.get_translation_from_codes("es", "en")
texts = json.loads(sys.argv[2])
print(json.dumps({
    "packages": [[str(p.package_path), p.from_code, p.to_code, p.package_version] for p in installed],
    "translations": [translation.translate(t) for t in texts],
}))
"""


def _argos(package: Path, texts: list[str], home: Path) -> dict[str, Any]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_CACHE_HOME": str(home / "cache"), "ARGOS_PACKAGES_DIR": str(home / "packages"),
           "ARGOS_CHUNK_TYPE": "SPACY", "ARGOS_BEAM_SIZE": "1", "ARGOS_DEVICE_TYPE": "cpu",
           "ARGOS_INTRA_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", ARGOS, str(package), json.dumps(texts)], capture_output=True,
                         text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
def test_argos_translate_installs_the_package_and_translates_like_the_gateway(
        reference_teacher_dir: Path, serve: Any, models_dir: Callable[..., Path], tmp_path: Path) -> None:
    export = tmp_path / "teacher-int8"
    export_checkpoint(reference_teacher_dir, export, "int8", languages=Languages("es", "en"))
    package = tmp_path / "teacher.argosmodel"
    assert main(["export", "--model", str(export), "--out", str(package), "--format", "argos",
                 "--package-version", "1.1"]) == 0
    with serve(models_dir(teacher=export)) as gw, gw.client() as client:
        gateway = client.post("/v1/translate", json={"texts": SENTENCES, "max_length": 256}).json()["translations"]
        lt = client.post("/translate", json={"q": SENTENCES, "source": "es", "target": "en"}).json()
    argos = _argos(package, SENTENCES, tmp_path / "home")
    installed = tmp_path / "home/packages/translate-es_en-teacher-bible-es-en-small"
    assert argos["packages"] == [[str(installed), "es", "en", "1.1"]]
    assert argos["translations"] == gateway
    assert lt["translatedText"] == gateway  # and the gateway's LibreTranslate API says the same
    assert all(t and t[0].isupper() for t in gateway), gateway  # a real model's real sentences
