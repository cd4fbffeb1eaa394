"""Conformance with LibreTranslate's documented API: fields, both body encodings, lists, HTML, alternatives,
`source: auto`, keys, languages and frontend settings; each answer is the gateway's own translation."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

SHORT = 12  # the default output length of these gateways: random models never stop early
ES = ["Jesús lloró.", "Y dijo Dios: Sea la luz; y fue la luz.", "El Señor es mi pastor."]


def v1(gw: Any, texts: list[str], model: str = "micro", beam_size: int = 1) -> list[str]:
    """The same texts through `/v1/translate` at the length LibreTranslate requests get (the default one)."""
    with gw.client() as client:
        response = client.post("/v1/translate", json={"texts": texts, "model": model, "beam_size": beam_size,
                                                      "max_length": gw.settings.default_length})
    assert response.status_code == 200, response.text
    return list(response.json()["translations"])


def test_a_string_and_a_list_in_json_are_translated_like_v1(lt_gateway: Any) -> None:
    with lt_gateway.client() as client:
        expected = v1(lt_gateway, ES)
        one = client.post("/translate", json={"q": ES[0], "source": "es", "target": "en"})
        many = client.post("/translate", json={"q": ES, "source": "es", "target": "en", "format": "text"})
    assert one.status_code == 200 and one.headers["content-type"].startswith("application/json")
    assert one.json() == {"translatedText": expected[0]}
    assert many.json() == {"translatedText": expected}


def test_form_bodies_and_the_query_string_are_read_like_json(lt_gateway: Any) -> None:
    with lt_gateway.client() as client:
        expected = v1(lt_gateway, [ES[0]])[0]
        urlencoded = client.post("/translate", data={"q": ES[0], "source": "es", "target": "en"})
        multipart = client.post("/translate", files={"q": (None, ES[0]), "source": (None, "es"),
                                                     "target": (None, "en")})
        query = client.post("/translate", params={"source": "es", "target": "en"}, data={"q": ES[0]})
        raw_utf8 = client.post("/translate", content=f"q={ES[0]}&source=es&target=en".encode(),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        repeated = client.post("/translate", data={"q": ES[:2], "source": "es", "target": "en"})
    assert "multipart/form-data" in multipart.request.headers["content-type"]
    for response in (urlencoded, multipart, query, raw_utf8):
        assert response.status_code == 200, response.text
        assert response.json() == {"translatedText": expected}
    assert repeated.json() == {"translatedText": v1(lt_gateway, ES[:2])}


def test_lines_and_blank_texts_keep_their_layout(lt_gateway: Any) -> None:
    text = f"  {ES[0]}\n\n{ES[1]}  \n"
    with lt_gateway.client() as client:
        first, second = v1(lt_gateway, ES[:2])
        answer = client.post("/translate", json={"q": [text, "", "  ", "¡¿…?!"], "source": "es", "target": "en"})
    assert answer.json()["translatedText"] == [f"  {first}\n\n{second}  \n", "", "  ", "¡¿…?!"]


def test_html_keeps_the_markup_and_translates_the_text_nodes(lt_gateway: Any) -> None:
    page = ('<!DOCTYPE html><p class="verse" data-n="1">Jesús lloró.<br/><b>El Señor</b> &amp; '
            '<a href="/x?a=1&amp;b=2" title="no > sí">mi pastor</a></p><!-- Dios -->'
            '<script>var t = "Hola";</script><span translate="no">Juan</span><code>x = y</code>')
    with lt_gateway.client() as client:
        nodes = v1(lt_gateway, ["Jesús lloró.", "El Señor", "mi pastor"])
        answer = client.post("/translate", json={"q": page, "source": "es", "target": "en", "format": "html"})
    assert answer.status_code == 200, answer.text
    out = answer.json()["translatedText"]
    tags = re.compile(r"<[^>]*>|<!--.*?-->")
    assert tags.findall(out) == tags.findall(page), "every tag, comment and attribute is kept as it was"
    assert out.startswith('<!DOCTYPE html><p class="verse" data-n="1">' + html.escape(nodes[0], quote=False))
    assert f"<b>{html.escape(nodes[1], quote=False)}</b> &amp; " in out
    assert f'title="no > sí">{html.escape(nodes[2], quote=False)}</a>' in out
    assert out.endswith('<script>var t = "Hola";</script><span translate="no">Juan</span><code>x = y</code>')


def test_alternatives_are_the_beam_n_best(lt_gateway: Any) -> None:
    with lt_gateway.client() as client:
        beam3 = v1(lt_gateway, ES[:2], beam_size=3)
        one = client.post("/translate", json={"q": ES[0], "source": "es", "target": "en", "alternatives": 2})
        many = client.post("/translate", data={"q": ES[:2], "source": "es", "target": "en", "alternatives": "2"})
        none = client.post("/translate", json={"q": ES[0], "source": "es", "target": "en", "alternatives": 0})
    body = one.json()
    assert body["translatedText"] == beam3[0]
    assert isinstance(body["alternatives"], list) and 1 <= len(body["alternatives"]) <= 2
    assert beam3[0] not in body["alternatives"] and len(set(body["alternatives"])) == len(body["alternatives"])
    assert many.json()["translatedText"] == beam3
    assert len(many.json()["alternatives"]) == 2 and all(isinstance(a, list) for a in many.json()["alternatives"])
    assert many.json()["alternatives"][0] == body["alternatives"]
    assert "alternatives" not in none.json()


def test_source_auto_is_the_one_source_language(lt_gateway: Any) -> None:
    with lt_gateway.client() as client:
        expected = v1(lt_gateway, ES[:2])
        one = client.post("/translate", json={"q": ES[0], "source": "auto", "target": "en"})
        many = client.post("/translate", json={"q": ES[:2], "source": "auto", "target": "en"})
        detect = client.post("/detect", data={"q": ES[0]})
    assert one.json() == {"translatedText": expected[0], "detectedLanguage": {"confidence": 100.0, "language": "es"}}
    assert many.json()["detectedLanguage"] == [{"confidence": 100.0, "language": "es"}] * 2
    assert detect.status_code == 200 and detect.json() == [{"confidence": 100.0, "language": "es"}]


def test_languages_and_routing_follow_the_manifests(serve: Any, models_dir: Callable[..., Path],
                                                    lt_exports: dict[str, Path], exports: dict[str, Path]) -> None:
    folders = {"micro": lt_exports["es-en"], "other": lt_exports["es-fr"], "unknown": exports["f32"],
               "zz-es-en": lt_exports["es-en"]}
    with serve(models_dir(**folders), default_max_length=SHORT, default_model="zz-es-en") as gw, \
            gw.client() as client:
        languages = client.get("/languages").json()
        fr = client.post("/translate", json={"q": ES[0], "source": "es", "target": "fr"})
        en = client.post("/translate", json={"q": ES[0], "source": "es", "target": "en"})
        auto = client.post("/translate", json={"q": ES[0], "source": "auto", "target": "fr"})
        settings = client.get("/frontend/settings").json()
        assert fr.json()["translatedText"] == v1(gw, [ES[0]], model="other")[0]
        assert en.json()["translatedText"] == v1(gw, [ES[0]], model="zz-es-en")[0]  # the default model first
    assert languages == [{"code": "en", "name": "English", "targets": []},
                         {"code": "fr", "name": "French", "targets": []},
                         {"code": "es", "name": "Spanish", "targets": ["en", "fr"]}]
    assert auto.status_code == 200 and auto.json()["detectedLanguage"]["language"] == "es"
    assert settings["language"] == {"source": {"code": "es", "name": "Spanish"},
                                    "target": {"code": "en", "name": "English"}}


def test_frontend_settings_state_the_limits_and_keys(serve: Any, models_dir: Callable[..., Path],
                                                     lt_exports: dict[str, Path]) -> None:
    with serve(models_dir(micro=lt_exports["es-en"]), api_keys=("k1",), max_chars=300) as gw, gw.client() as client:
        settings = client.get("/frontend/settings")
        languages = client.get("/languages")  # open, as in LibreTranslate
    assert settings.status_code == 200 and languages.status_code == 200
    assert settings.json() == {
        "charLimit": 300, "frontendTimeout": 500, "apiKeys": True, "keyRequired": True, "suggestions": False,
        "filesTranslation": False, "supportedFilesFormat": [],
        "language": {"source": {"code": "es", "name": "Spanish"}, "target": {"code": "en", "name": "English"}}}


def test_the_api_key_is_read_from_the_body_or_the_header(serve: Any, models_dir: Callable[..., Path],
                                                        lt_exports: dict[str, Path]) -> None:
    request = {"q": ES[0], "source": "es", "target": "en"}
    with serve(models_dir(micro=lt_exports["es-en"]), api_keys=("k1", "k2"),
               default_max_length=SHORT) as gw, gw.client() as client:
        in_json = client.post("/translate", json={**request, "api_key": "k1"})
        in_form = client.post("/translate", data={**request, "api_key": "k2"})
        in_header = client.post("/translate", json=request, headers={"X-API-Key": "k1"})
        detect = client.post("/detect", json={"q": ES[0], "api_key": "k2"})
    assert [r.status_code for r in (in_json, in_form, in_header, detect)] == [200] * 4
    assert in_json.json() == in_form.json() == in_header.json()


def test_v1_the_page_and_the_published_schema_are_unchanged(lt_gateway: Any) -> None:
    with lt_gateway.client() as client:
        page = client.get("/")
        schema = client.get("/openapi.json").json()
        client.post("/translate", json={"q": ES[0], "source": "es", "target": "en"})
        metrics = client.get("/metrics").text
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert sorted(schema["paths"]) == ["/healthz", "/metrics", "/readyz", "/v1/admin/reload", "/v1/models",
                                       "/v1/translate"]
    assert 'kd_gateway_requests_total{path="/translate",status="200"} 1.0' in metrics


def test_argos_translates_own_libretranslate_client_talks_to_the_gateway(lt_gateway: Any) -> None:
    """A third-party client: Argos Translate's LibreTranslate binding (urlencoded forms, POST /languages)."""
    from argostranslate.apis import LibreTranslateAPI

    client = LibreTranslateAPI(lt_gateway.url)
    assert client.translate(ES[0], "es", "en") == v1(lt_gateway, [ES[0]])[0]
    assert client.detect(ES[0]) == [{"confidence": 100.0, "language": "es"}]
    assert [lang["code"] for lang in client.languages()] == ["en", "es"]
