"""The gateway translates exactly like the PyTorch model and describes its models and health."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from s2s.checkpoint import load_checkpoint

Reference = Callable[..., list[str]]


def test_float32_export_matches_pytorch_greedy(f32_gateway: Any, micro_checkpoint: Path, reference: Reference,
                                               sentences: list[str], max_len: int) -> None:
    expected = reference(micro_checkpoint, sentences, max_len)
    with f32_gateway.client() as client:
        many = client.post("/v1/translate", json={"texts": sentences, "model": "micro", "max_length": max_len})
        one = client.post("/v1/translate", json={"text": sentences[0], "max_length": max_len})
    assert many.status_code == 200, many.text
    body = many.json()
    assert body["translations"] == expected
    assert body["model"] == "micro" and body["backend"] == "ctranslate2" and body["translation"] is None
    assert set(body["timings"]) == {"queue_ms", "compute_ms", "total_ms"}
    assert body["timings"]["total_ms"] >= body["timings"]["compute_ms"] > 0
    assert one.status_code == 200 and one.json()["translation"] == expected[0]
    assert one.json()["model"] == "micro"  # the default: first id in order


def test_pytorch_fallback_serves_a_plain_checkpoint(models_dir: Callable[..., Path], micro_checkpoint: Path,
                                                    serve: Any, reference: Reference, sentences: list[str],
                                                    max_len: int) -> None:
    expected = reference(micro_checkpoint, sentences[:3], max_len)
    with serve(models_dir(plain=micro_checkpoint)) as gw, gw.client() as client:
        response = client.post("/v1/translate", json={"texts": sentences[:3], "max_length": max_len})
        listed = client.get("/v1/models").json()["models"]
    assert response.status_code == 200, response.text
    assert response.json()["backend"] == "pytorch"
    assert response.json()["translations"] == expected
    assert listed[0]["backend"] == "pytorch" and listed[0]["quantization"] == "float32"


def test_int8_export_and_beam_search_answer(f32_gateway: Any, sentences: list[str]) -> None:
    with f32_gateway.client() as client:
        response = client.post("/v1/translate", json={"texts": sentences[:2], "model": "micro-int8",
                                                      "beam_size": 3, "max_length": 8})
    assert response.status_code == 200, response.text
    translations = response.json()["translations"]
    assert len(translations) == 2 and all(isinstance(t, str) and t for t in translations)


def test_models_lists_manifest_facts(f32_gateway: Any, micro_checkpoint: Path) -> None:
    with f32_gateway.client() as client:
        body = client.get("/v1/models").json()
    by_id = {m["id"]: m for m in body["models"]}
    assert set(by_id) == {"micro", "micro-int8"} and body["default_model"] == "micro"
    params = load_checkpoint(micro_checkpoint).manifest.parameters
    assert by_id["micro"]["quantization"] == "float32" and by_id["micro-int8"]["quantization"] == "int8"
    assert by_id["micro"]["parameters"] == by_id["micro-int8"]["parameters"] == params
    assert by_id["micro"]["bleu"] is None  # never measured
    assert isinstance(by_id["micro-int8"]["bleu"], float)  # measured at export time
    assert by_id["micro-int8"]["size_bytes"] < by_id["micro"]["size_bytes"]
    assert by_id["micro"]["default"] and not by_id["micro-int8"]["default"]
    assert body["errors"] == {}


def test_health_readiness_metrics_and_docs(f32_gateway: Any) -> None:
    with f32_gateway.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"ready": True, "models": 2, "failed": []}
        client.post("/v1/translate", json={"text": "Hola", "max_length": 4})
        metrics = client.get("/metrics")
        docs = client.get("/docs")
        schema = client.get("/openapi.json").json()
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'kd_gateway_requests_total{path="/v1/translate",status="200"} 1.0' in metrics.text
    assert "kd_gateway_batch_texts_count 1.0" in metrics.text
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert {"/v1/translate", "/v1/models", "/healthz", "/readyz", "/metrics"} <= set(schema["paths"])


def test_not_ready_without_models_until_one_is_exported(models_dir: Callable[..., Path],
                                                          exports: dict[str, Path], serve: Any) -> None:
    root = models_dir()
    with serve(root, poll_seconds=0.1) as gw, gw.client() as client:
        not_ready = client.get("/readyz")
        refused = client.post("/v1/translate", json={"text": "Hola"})
        (root / "late").symlink_to(exports["f32"], target_is_directory=True)
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        served = client.post("/v1/translate", json={"text": "Hola", "max_length": 4})
    assert not_ready.status_code == 503 and "no model loaded" in not_ready.json()["error"]["message"]
    assert not_ready.headers["retry-after"]
    assert refused.status_code == 404 and "none loaded" in refused.json()["error"]["message"]
    assert served.status_code == 200 and served.json()["model"] == "late"


def test_a_mask_predict_student_is_served_by_pytorch_with_bounded_iterations(
        models_dir: Callable[..., Path], serve: Any, tmp_path: Path, tokenizer: Any) -> None:
    from s2s.checkpoint import Manifest, save_checkpoint
    from s2s.cmlm import build_cmlm
    from s2s.mask_predict import translate_cmlm
    from s2s.presets import count_parameters

    model = build_cmlm("test-micro", tokenizer, seed=3)
    folder = save_checkpoint(model, tokenizer, tmp_path / "nat", Manifest(
        model_id="nat", vocab_fingerprint=tokenizer.fingerprint, parameters=count_parameters(model)))
    text = "Y dijo Dios: Sea la luz."
    with serve(models_dir(nat=folder), max_iterations=4) as gw, gw.client() as client:
        listed = client.get("/v1/models").json()["models"]
        answer = client.post("/v1/translate", json={"text": text, "iterations": 3, "beam_size": 2, "max_length": 10})
        too_many = client.post("/v1/translate", json={"text": text, "iterations": 5})
    assert listed[0]["backend"] == "pytorch" and listed[0]["decoding"] == "mask-predict"
    assert answer.status_code == 200, answer.text
    assert answer.json()["translation"] == translate_cmlm(model.eval(), tokenizer, [text], 3, 2, 9)[0]
    assert too_many.status_code == 422 and "iterations" in too_many.text
