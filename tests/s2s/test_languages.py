"""A model's language pair: declared in the manifest, else the corpus columns of its training recipe."""

from __future__ import annotations

import json

import pytest

from s2s.checkpoint import Manifest, model_languages
from s2s.errors import KDError
from s2s.languages import check_language_code, display_name, is_language_code


def _manifest(**fields: object) -> Manifest:
    return Manifest(model_id="m", vocab_fingerprint="f", parameters=1, **fields)  # type: ignore[arg-type]


def test_the_declared_pair_wins_over_the_recipe() -> None:
    recipe = {"data": {"src_col": "es", "tgt_col": "en"}}
    assert model_languages(_manifest(src_lang="pt", tgt_lang="en", recipe=recipe)) == ("pt", "en")
    assert model_languages(_manifest(recipe=recipe)) == ("es", "en")  # how `kd train` records a student


@pytest.mark.parametrize("recipe", [
    {}, {"shrink": {"teacher": "t"}}, {"data": {"src_col": "src", "tgt_col": "tgt"}},
    {"data": {"src_col": "es", "tgt_col": "es"}}, {"data": {"src_col": "es"}}, {"data": "es-en"},
])
def test_without_a_declared_pair_or_language_columns_the_pair_is_unknown(recipe: dict[str, object]) -> None:
    assert model_languages(_manifest(recipe=recipe)) is None


def test_language_codes_and_names() -> None:
    assert all(is_language_code(c) for c in ("es", "en", "pt-BR", "zh-Hans", "spa_Latn", "ast"))
    assert not any(is_language_code(c) for c in ("", "src", "text", "Spanish", "e", "es en", 3, None))
    assert display_name("es") == "Spanish" and display_name("xyz") == "xyz"
    assert check_language_code("en", "--target-lang") == "en"
    with pytest.raises(KDError, match="--source-lang 'Spanish' is not a language code"):
        check_language_code("Spanish", "--source-lang")


def test_a_manifest_with_a_pair_survives_the_round_trip() -> None:
    manifest = _manifest(src_lang="es", tgt_lang="en")
    assert Manifest.from_dict(json.loads(manifest.to_json()), "m") == manifest
