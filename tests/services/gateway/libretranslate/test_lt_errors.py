"""Bad input on the LibreTranslate routes: LibreTranslate's error shape (`{"error": "..."}`) with its status
code and a message that says what to send, and the gateway keeps serving."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from s2s.languages import Languages

GOOD = {"q": "Jesús lloró.", "source": "es", "target": "en"}


def _error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str), body
    for word in words:
        assert word in body["error"], (word, body["error"])
    return str(body["error"])


@pytest.mark.parametrize(("body", "status", "words"), [
    ({**GOOD, "source": "xx"}, 400, ("xx is not supported", "es->en", "/languages")),
    ({**GOOD, "target": "de"}, 400, ("de is not supported",)),
    ({**GOOD, "source": "en", "target": "es"}, 400, ("Spanish (es) is not available as a target language from "
                                                      "English (en)",)),
    ({**GOOD, "q": ""}, 400, ("missing q parameter",)),
    ({**GOOD, "q": []}, 400, ("missing q parameter",)),
    ({"source": "es", "target": "en"}, 400, ("missing q parameter",)),
    ({**GOOD, "q": 7}, 400, ("q must be a string or a list of strings",)),
    ({**GOOD, "q": ["Hola", None]}, 400, ("q must be a string or a list of strings",)),
    ({**GOOD, "q": ["Hola"] * 5}, 400, ("request (5) exceeds text limit (4)",)),
    ({**GOOD, "q": "a" * 81}, 400, ("q has 81 characters", "limit of 80")),
    ({**GOOD, "q": ["Hola", "a" * 81]}, 400, ("q[1] has 81 characters",)),
    ({"q": "Hola", "target": "en"}, 400, ("missing source parameter",)),
    ({"q": "Hola", "source": "es"}, 400, ("missing target parameter",)),
    ({**GOOD, "source": 3}, 400, ("source must be a language code",)),
    ({**GOOD, "format": "markdown"}, 400, ("markdown format is not supported",)),
    ({**GOOD, "alternatives": 3}, 400, ("alternatives must be a whole number from 0 to 2",)),
    ({**GOOD, "alternatives": "many"}, 400, ("alternatives must be",)),
    ({**GOOD, "alternatives": True}, 400, ("alternatives must be",)),
    ({**GOOD, "q": "Hola \ud800"}, 400, ("lone surrogate",)),
])
def test_bad_fields_are_400s_in_libretranslates_shape(serve: Any, models_dir: Callable[..., Path],
                                                      lt_exports: dict[str, Path], body: dict[str, Any], status: int,
                                                      words: tuple[str, ...]) -> None:
    limits = {"max_texts": 4, "max_chars": 80, "max_beam": 3, "default_max_length": 8}
    with serve(models_dir(micro=lt_exports["es-en"]), **limits) as gw, gw.client() as client:
        bad = client.post("/translate", content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        good = client.post("/translate", json=GOOD)
    _error(bad, status, *words)
    assert good.status_code == 200, "the gateway keeps serving"


def test_bad_bodies_are_refused_in_libretranslates_shape(serve: Any, models_dir: Callable[..., Path],
                                                         lt_exports: dict[str, Path]) -> None:
    with serve(models_dir(micro=lt_exports["es-en"]), max_body_bytes=2000, default_max_length=8) as gw, \
            gw.client() as client:
        not_json = client.post("/translate", content=b'{"q": "Hola",', headers={"Content-Type": "application/json"})
        array = client.post("/translate", json=["Hola"])
        latin1 = client.post("/translate", content='{"q": "Jesús"}'.encode("latin-1"),
                             headers={"Content-Type": "application/json"})
        plain = client.post("/translate", content=b"Hola", headers={"Content-Type": "text/plain"})
        huge = client.post("/translate", json={**GOOD, "q": "a" * 3000})
        good = client.post("/translate", json=GOOD)
    _error(not_json, 400, "not valid JSON")
    _error(array, 400, "JSON object")
    _error(latin1, 400, "not valid UTF-8")
    _error(plain, 415, "text/plain", "application/x-www-form-urlencoded")
    _error(huge, 413, "more than the limit")
    assert good.status_code == 200


def test_a_missing_or_wrong_key_is_a_403(serve: Any, models_dir: Callable[..., Path],
                                         lt_exports: dict[str, Path]) -> None:
    with serve(models_dir(micro=lt_exports["es-en"]), api_keys=("k1",), default_max_length=8) as gw, \
            gw.client() as client:
        missing = client.post("/translate", json=GOOD)
        wrong = client.post("/translate", json={**GOOD, "api_key": "nope"})
        wrong_form = client.post("/translate", data={**GOOD, "api_key": "nope"})
        detect = client.post("/detect", json={"q": "Hola"})
        good = client.post("/translate", json={**GOOD, "api_key": "k1"})
    for response in (missing, wrong, wrong_form, detect):
        _error(response, 403, "API key")
    assert good.status_code == 200


def test_overload_is_a_429_with_retry_after(serve: Any, models_dir: Callable[..., Path],
                                            lt_exports: dict[str, Path]) -> None:
    body = {**GOOD, "q": ["En el principio creó Dios los cielos y la tierra."] * 8}

    async def burst(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            return await asyncio.gather(*(client.post("/translate", json=body) for _ in range(30)))

    with serve(models_dir(micro=lt_exports["es-en"]), queue_size=1, max_batch=8, max_wait_ms=0,
               default_max_length=128) as gw:
        responses = asyncio.run(burst(gw.url))
        with gw.client() as client:
            after = client.post("/translate", json=GOOD)
    limited = [r for r in responses if r.status_code == 429]
    assert limited and {r.status_code for r in responses} == {200, 429}
    assert all(r.headers["retry-after"] == "1" for r in limited)
    _error(limited[0], 429, "Slowdown", "overloaded")
    assert after.status_code == 200


def test_auto_and_detect_need_one_source_language(serve: Any, models_dir: Callable[..., Path],
                                                   lt_exports: dict[str, Path], make_checkpoint: Any,
                                                   tmp_path: Path) -> None:
    from s2s.export import export_checkpoint

    en_es = tmp_path / "en-es"
    export_checkpoint(make_checkpoint(tmp_path / "ckpt", seed=3), en_es, "float32", languages=Languages("en", "es"))
    with serve(models_dir(micro=lt_exports["es-en"], back=en_es), default_max_length=8) as gw, \
            gw.client() as client:
        auto = client.post("/translate", json={**GOOD, "source": "auto"})
        detect = client.post("/detect", json={"q": "Hola"})
        named = client.post("/translate", json=GOOD)
        back = client.post("/translate", json={"q": "God is love.", "source": "en", "target": "es"})
    _error(auto, 400, "source auto", "en, es", "name the source language")
    _error(detect, 400, "en, es")
    assert named.status_code == 200 and back.status_code == 200


def test_a_gateway_without_known_languages_says_how_to_declare_them(
        serve: Any, models_dir: Callable[..., Path], exports: dict[str, Path]) -> None:
    with serve(models_dir(micro=exports["f32"]), default_max_length=8) as gw, gw.client() as client:
        languages = client.get("/languages")
        refused = client.post("/translate", json=GOOD)
        v1 = client.post("/v1/translate", json={"text": "Hola", "max_length": 4})
    assert languages.status_code == 200 and languages.json() == []
    _error(refused, 400, "--src-lang", "/v1/translate")
    assert v1.status_code == 200


def test_a_sentence_longer_than_the_model_reads_is_refused_and_a_long_line_is_split(
        serve: Any, models_dir: Callable[..., Path], lt_exports: dict[str, Path]) -> None:
    long_sentence = " ".join(["y fue la luz"] * 60) + "."
    verse = "Y dijo Dios: Sea la luz; y fue la luz. "
    with serve(models_dir(micro=lt_exports["es-en"]), default_max_length=8, max_chars=5000) as gw, \
            gw.client() as client:
        refused = client.post("/translate", json={**GOOD, "q": ["Hola", long_sentence]})
        split = client.post("/translate", json={**GOOD, "q": verse * 20})
    _error(refused, 400, "q[1]", "longer than the model reads (128 tokens)")
    assert split.status_code == 200 and isinstance(split.json()["translatedText"], str)
