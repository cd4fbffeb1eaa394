"""TLS and the shared token on a real teacher server, secrets from files, placeholders refused."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from s2s.errors import KDError
from services.teacher.config import ServerConfig
from services.teacher.healthcheck import check
from services.teacher.server import TeacherServer
from teacher_client import TeacherClient, TeacherRpcError


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1 (its own CA), made with openssl."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def secure_teacher(teacher_factory: Callable[..., TeacherServer], micro_checkpoint: Path,
                   certificate: tuple[Path, Path],
                   tmp_path_factory: pytest.TempPathFactory) -> tuple[TeacherServer, str]:
    token = "s3cret-teacher-token"
    token_file = tmp_path_factory.mktemp("secret") / "token"
    token_file.write_text(token + "\n")
    cert, key = certificate
    return teacher_factory(micro_checkpoint, tls_cert=cert, tls_key=key, auth_token_file=token_file), token


def test_tls_with_the_token_is_served(secure_teacher: tuple[TeacherServer, str], certificate: tuple[Path, Path],
                                      sentences: Any) -> None:
    server, token = secure_teacher
    src, tgt = sentences
    with TeacherClient(f"localhost:{server.port}", tls_ca=certificate[0], token=token) as client:
        assert len(client.topk(src[:2], tgt[:2], 4)) == 2
    assert check(f"localhost:{server.port}", tls_ca=str(certificate[0])) == "SERVING"  # probes need no token


def test_a_missing_or_wrong_token_is_unauthenticated_at_once(secure_teacher: tuple[TeacherServer, str],
                                                             certificate: tuple[Path, Path], sentences: Any) -> None:
    server, _ = secure_teacher
    src, tgt = sentences
    for token in (None, "not-the-token"):
        with TeacherClient(f"localhost:{server.port}", tls_ca=certificate[0], token=token) as client:
            start = time.monotonic()
            with pytest.raises(TeacherRpcError, match="missing or wrong teacher token") as caught:
                client.topk(src[:1], tgt[:1], 4)
            assert caught.value.code == "UNAUTHENTICATED" and time.monotonic() - start < 5  # not retried


def test_plaintext_clients_cannot_talk_to_a_tls_teacher(secure_teacher: tuple[TeacherServer, str]) -> None:
    server, token = secure_teacher
    with TeacherClient(f"localhost:{server.port}", token=token, retry_budget_s=1, retries=1, timeout_s=2) as client, \
            pytest.raises(TeacherRpcError):
        client.info()


def test_clients_take_the_ca_and_token_file_from_the_environment(
        secure_teacher: tuple[TeacherServer, str], certificate: tuple[Path, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server, token = secure_teacher
    (tmp_path / "token").write_text(token)
    monkeypatch.setenv("KD_TEACHER_TLS_CA", str(certificate[0]))
    monkeypatch.setenv("KD_TEACHER_TOKEN_FILE", str(tmp_path / "token"))
    with TeacherClient(f"localhost:{server.port}") as client:
        assert client.info().model_id == "micro"


def test_placeholders_and_half_tls_settings_are_refused(micro_checkpoint: Path, tmp_path: Path,
                                                        certificate: tuple[Path, Path]) -> None:
    placeholder = tmp_path / "token"
    placeholder.write_text("REPLACE_ME-teacher-token")
    with pytest.raises(KDError, match="still the placeholder"):
        TeacherServer(ServerConfig(model=micro_checkpoint, port=0, device="cpu", auth_token_file=placeholder))
    url_file = tmp_path / "redis-url"
    url_file.write_text("redis://kd:REPLACE_ME-redis-password@redis:6379/0")
    with pytest.raises(KDError, match="Redis URL is still the placeholder"):
        TeacherServer(ServerConfig(model=micro_checkpoint, port=0, device="cpu", redis_url_file=url_file))
    with pytest.raises(KDError, match="--tls-cert and --tls-key go together"):
        ServerConfig(model=micro_checkpoint, tls_cert=certificate[0])
    with pytest.raises(KDError, match="cannot read the teacher token"):
        TeacherServer(ServerConfig(model=micro_checkpoint, port=0, device="cpu", auth_token_file=tmp_path / "none"))
