"""Bad input is a 4xx whose message says what was wrong; overload is a 503 with Retry-After; keys and CORS."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from s2s.errors import KDError
from services.gateway.settings import settings_from_env

LIMITS = {"max_texts": 4, "max_chars": 50, "max_body_bytes": 2000, "max_beam": 4, "max_length": 32}

# (name, raw body or JSON value, content type, expected status, fragment of the message)
BAD_BODIES: list[tuple[str, Any, str, int, str]] = [
    ("empty text", {"text": ""}, "application/json", 422, "at least 1 character"),
    ("whitespace text", {"text": " \t\n "}, "application/json", 422, "empty or only whitespace"),
    ("whitespace among texts", {"texts": ["Hola", "  "]}, "application/json", 422, "texts[1]"),
    ("text too long", {"text": "a" * 51}, "application/json", 422, "at most 50 characters"),
    ("too many texts", {"texts": ["Hola"] * 5}, "application/json", 422, "at most 4 items"),
    ("no texts", {"texts": []}, "application/json", 422, "at least 1 item"),
    ("neither text nor texts", {"beam_size": 1}, "application/json", 422, "exactly one of 'text'"),
    ("both text and texts", {"text": "a", "texts": ["b"]}, "application/json", 422, "exactly one of 'text'"),
    ("text of wrong type", {"text": 42}, "application/json", 422, "text: Input should be a valid string"),
    ("texts of wrong type", {"texts": "Hola"}, "application/json", 422, "texts: Input should be a valid list"),
    ("null text", {"text": None}, "application/json", 422, "valid string"),
    ("beam size zero", {"text": "Hola", "beam_size": 0}, "application/json", 422, "beam_size"),
    ("beam size too big", {"text": "Hola", "beam_size": 5}, "application/json", 422, "less than or equal to 4"),
    ("beam size as string", {"text": "Hola", "beam_size": "2"}, "application/json", 422, "valid integer"),
    ("beam size as float", {"text": "Hola", "beam_size": 1.5}, "application/json", 422, "valid integer"),
    ("max_length too big", {"text": "Hola", "max_length": 33}, "application/json", 422, "max_length"),
    ("unknown field", {"text": "Hola", "beems": 2}, "application/json", 422, "beems: Extra inputs"),
    ("body not an object", [1, 2], "application/json", 422, "valid dictionary"),
    ("empty body", b"", "application/json", 422, "body is empty"),
    ("invalid JSON", b'{"text": "Hola",', "application/json", 400, "not valid JSON"),
    ("invalid UTF-8", b'{"text": "\xff\xfe"}', "application/json", 400, "not valid UTF-8"),
    ("lone surrogate", b'{"text": "\\ud800"}', "application/json", 422, "text:"),
    ("body too large", {"texts": ["a" * 50] * 40}, "application/json", 413, "more than the limit of 2000"),
    ("not JSON", b"text=Hola", "application/x-www-form-urlencoded", 415, "Content-Type: application/json"),
    ("unknown model", {"text": "Hola", "model": "nope"}, "application/json", 404, "unknown model 'nope'"),
]


@pytest.fixture
def strict_gateway(serve: Any, models_dir: Callable[..., Path], exports: dict[str, Path]) -> Any:
    with serve(models_dir(micro=exports["f32"]), **LIMITS) as gw:
        yield gw


def test_every_bad_input_gets_its_4xx(strict_gateway: Any) -> None:
    """One server, every bad body of the issue's list; none may produce a 5xx."""
    failures = []
    with strict_gateway.client() as client:
        for name, body, content_type, status, fragment in BAD_BODIES:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            response = client.post("/v1/translate", content=raw, headers={"Content-Type": content_type})
            message = response.json()["error"]["message"] if response.status_code >= 400 else response.text
            if response.status_code != status or fragment not in message:
                failures.append(f"{name}: {response.status_code} {message}")
        assert client.get("/readyz").status_code == 200  # still serving afterwards
    assert failures == []


def test_wrong_method_and_unknown_path(strict_gateway: Any) -> None:
    with strict_gateway.client() as client:
        wrong_method = client.get("/v1/translate")
        unknown = client.get("/v1/nothing")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_overload_answers_503_with_retry_after(serve: Any, models_dir: Callable[..., Path],
                                                exports: dict[str, Path]) -> None:
    body = {"texts": ["En el principio creó Dios los cielos y la tierra."] * 8, "max_length": 128}

    async def burst(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            return await asyncio.gather(*(client.post("/v1/translate", json=body) for _ in range(30)))

    with serve(models_dir(micro=exports["f32"]), queue_size=1, max_batch=8, max_wait_ms=0) as gw:
        responses = asyncio.run(burst(gw.url))
        metrics = httpx.get(gw.url + "/metrics").text
    statuses = sorted({r.status_code for r in responses})
    overloaded = [r for r in responses if r.status_code == 503]
    assert statuses == [200, 503], statuses
    assert all(r.headers["retry-after"] == "1" and "overloaded" in r.json()["error"]["message"] for r in overloaded)
    assert f'kd_gateway_rejected_total{{reason="queue_full"}} {float(len(overloaded))}' in metrics


def test_api_keys_guard_translation_and_admin_key_guards_reload(serve: Any, models_dir: Callable[..., Path],
                                                                 exports: dict[str, Path]) -> None:
    request = {"text": "Hola", "max_length": 4}
    with serve(models_dir(micro=exports["f32"]), api_keys=("k1", "k2"), admin_key="root") as gw, gw.client() as c:
        missing = c.post("/v1/translate", json=request)
        wrong = c.post("/v1/translate", json=request, headers={"X-API-Key": "nope"})
        ok = c.post("/v1/translate", json=request, headers={"X-API-Key": "k2"})
        models_without_key = c.get("/v1/models")
        reload_with_user_key = c.post("/v1/admin/reload", headers={"X-API-Key": "k1"})
        reload_ok = c.post("/v1/admin/reload", headers={"X-API-Key": "root"})
        health = c.get("/healthz")
    assert missing.status_code == wrong.status_code == models_without_key.status_code == 401
    assert "X-API-Key" in missing.json()["error"]["message"]
    assert ok.status_code == 200
    assert reload_with_user_key.status_code == 401
    assert reload_ok.status_code == 200 and reload_ok.json()["unchanged"] == ["micro"]
    assert health.status_code == 200  # probes need no key


def test_admin_reload_is_off_without_admin_key(strict_gateway: Any) -> None:
    with strict_gateway.client() as client:
        response = client.post("/v1/admin/reload", headers={"X-API-Key": "anything"})
    assert response.status_code == 403 and "KD_GATEWAY_ADMIN_KEY" in response.json()["error"]["message"]


def test_cors_allows_only_configured_origins(serve: Any, models_dir: Callable[..., Path],
                                             exports: dict[str, Path]) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    with serve(models_dir(micro=exports["f32"]), cors_origins=("https://app.example",)) as gw, gw.client() as c:
        allowed = c.options("/v1/translate", headers={"Origin": "https://app.example", **preflight})
        denied = c.options("/v1/translate", headers={"Origin": "https://evil.example", **preflight})
        simple = c.post("/v1/translate", json={"text": "Hola", "max_length": 4},
                        headers={"Origin": "https://app.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert denied.status_code == 400 and "access-control-allow-origin" not in denied.headers
    assert simple.headers["access-control-allow-origin"] == "https://app.example"


def test_settings_from_environment_and_bad_values(tmp_path: Path) -> None:
    env = {"KD_GATEWAY_MODELS_DIR": str(tmp_path), "KD_GATEWAY_API_KEYS": "a, b,,", "KD_GATEWAY_ADMIN_KEY": "z",
           "KD_GATEWAY_CORS_ORIGINS": "http://x", "KD_GATEWAY_MAX_BATCH": "7", "KD_GATEWAY_MAX_WAIT_MS": "2.5",
           "KD_GATEWAY_QUEUE_SIZE": "9", "KD_GATEWAY_MAX_TEXTS": "3", "KD_GATEWAY_MAX_CHARS": "11"}
    settings = settings_from_env(env, max_batch=8)
    assert settings.api_keys == ("a", "b") and settings.admin_key == "z" and settings.cors_origins == ("http://x",)
    assert (settings.max_batch, settings.max_wait_ms, settings.queue_size) == (8, 2.5, 9)  # the flag wins
    assert (settings.max_texts, settings.max_chars) == (3, 11)
    with pytest.raises(KDError, match="KD_GATEWAY_MAX_BATCH='many' is not a valid int"):
        settings_from_env({**env, "KD_GATEWAY_MAX_BATCH": "many"})
    with pytest.raises(KDError, match="queue_size must be at least 1"):
        settings_from_env({**env, "KD_GATEWAY_QUEUE_SIZE": "0"})
    with pytest.raises(KDError, match="no models folder"):
        settings_from_env({})


def test_serving_the_network_without_keys_or_with_placeholders_is_refused(tmp_path: Path) -> None:
    base = {"KD_GATEWAY_MODELS_DIR": str(tmp_path)}
    assert settings_from_env(base).host == "127.0.0.1"  # loopback without keys is fine
    with pytest.raises(KDError, match="would serve 0.0.0.0 without API keys.*--allow-anonymous"):
        settings_from_env({**base, "KD_GATEWAY_HOST": "0.0.0.0"})
    # In a container the gateway listens on 0.0.0.0; what counts is the address it is published on.
    inside = {**base, "KD_GATEWAY_HOST": "0.0.0.0"}
    assert settings_from_env({**inside, "KD_GATEWAY_PUBLIC_ADDRESS": "127.0.0.1"}).public_address == "127.0.0.1"
    with pytest.raises(KDError, match="would serve 192.0.2.7 without API keys"):
        settings_from_env({**inside, "KD_GATEWAY_PUBLIC_ADDRESS": "192.0.2.7"})
    assert settings_from_env({**inside, "KD_GATEWAY_API_KEYS": "k1"}).api_keys == ("k1",)
    assert settings_from_env(inside, allow_anonymous=True).allow_anonymous
    assert settings_from_env({**inside, "KD_GATEWAY_ALLOW_ANONYMOUS": "yes"}).allow_anonymous
    with pytest.raises(KDError, match="KD_GATEWAY_API_KEYS is still the placeholder"):
        settings_from_env({**inside, "KD_GATEWAY_API_KEYS": "REPLACE_ME-api-key-1,REPLACE_ME-api-key-2"})
    with pytest.raises(KDError, match="KD_GATEWAY_ADMIN_KEY is still the placeholder"):
        settings_from_env({**base, "KD_GATEWAY_ADMIN_KEY": "REPLACE_ME-admin-key"})
