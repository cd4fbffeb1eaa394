"""`KD_GATEWAY_PRIVATE_OPS`: /metrics and the API docs behind the API keys, probes still open (real HTTP)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from s2s.errors import KDError
from services.gateway.settings import settings_from_env

PRIVATE = ("/metrics", "/docs", "/redoc", "/openapi.json")


def test_private_ops_need_a_key_for_metrics_and_docs(serve: Any, models_dir: Callable[..., Path],
                                                     exports: dict[str, Path]) -> None:
    root = models_dir(micro=exports["f32"])
    with serve(root, api_keys=("k1", "k2"), private_ops=True) as gw, gw.client() as client:
        anonymous = {p: client.get(p) for p in PRIVATE}
        wrong = {p: client.get(p, headers={"X-API-Key": "nope"}).status_code for p in PRIVATE}
        keyed = {p: client.get(p, headers={"X-API-Key": "k2"}).status_code for p in PRIVATE}
        bearer = client.get("/metrics", headers={"Authorization": "Bearer k1"})
        probes = [client.get(p).status_code for p in ("/healthz", "/readyz")]
    for path, answer in anonymous.items():
        assert answer.status_code == 401, path
        assert answer.json()["error"]["code"] == "unauthorized" and "X-API-Key" in answer.json()["error"]["message"]
    assert set(wrong.values()) == {401}
    assert set(keyed.values()) == {200}
    assert bearer.status_code == 200 and "kd_gateway_requests_total" in bearer.text
    assert 'path="/metrics",status="401"' in bearer.text  # refusals are counted like any request
    assert probes == [200, 200]


def test_without_the_option_metrics_and_docs_stay_open(serve: Any, models_dir: Callable[..., Path],
                                                       exports: dict[str, Path]) -> None:
    root = models_dir(micro=exports["f32"])
    with serve(root, api_keys=("k1",)) as gw, gw.client() as client:
        assert [client.get(p).status_code for p in PRIVATE] == [200, 200, 200, 200]
        assert client.get("/v1/models").status_code == 401


def test_private_ops_without_keys_is_refused_at_start(tmp_path: Path) -> None:
    base = {"KD_GATEWAY_MODELS_DIR": str(tmp_path)}
    with pytest.raises(KDError, match="KD_GATEWAY_PRIVATE_OPS puts /metrics and /docs behind the API keys"):
        settings_from_env({**base, "KD_GATEWAY_PRIVATE_OPS": "1"})
    settings = settings_from_env({**base, "KD_GATEWAY_PRIVATE_OPS": "yes", "KD_GATEWAY_API_KEYS": "a,b"})
    assert settings.private_ops and settings.api_keys == ("a", "b")
