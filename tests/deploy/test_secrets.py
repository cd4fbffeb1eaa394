"""`scripts/make_secrets.sh` and the Redis ACL it writes, against a real redis-server and the teacher's cache."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import redis

from services.teacher.cache import RedisCache
from services.teacher.launch import RedisProcess, free_port
from services.teacher.metrics import TeacherMetrics

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("deploy") / "secrets"
    subprocess.run(["bash", str(ROOT / "scripts" / "make_secrets.sh"), str(folder)], check=True, capture_output=True)
    return folder


def test_secrets_are_made_once_in_a_private_folder(secrets_dir: Path) -> None:
    names = {"ray_token", "teacher_token", "redis_users.acl", "redis_url"}
    assert {p.name for p in secrets_dir.iterdir()} == names
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    before = {n: (secrets_dir / n).read_text() for n in names}
    assert len(before["ray_token"].strip()) == 64 and before["ray_token"] != before["teacher_token"]
    subprocess.run(["bash", str(ROOT / "scripts" / "make_secrets.sh"), str(secrets_dir)], check=True,
                   capture_output=True)
    assert {n: (secrets_dir / n).read_text() for n in names} == before  # a second run keeps them


def test_the_redis_acl_lets_the_teacher_cache_work_and_nothing_else(secrets_dir: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (scripts/install_system_deps.sh installs it)")
    port = free_port()
    server = RedisProcess(port=port)
    server._spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--aclfile", str(secrets_dir / "redis_users.acl")])
    url = (secrets_dir / "redis_url").read_text().strip().replace("@redis:6379", f"@127.0.0.1:{port}")
    try:
        server._wait_until(lambda: _answers(port), "redis-server with the ACL", 10)
        cache = RedisCache(url, ttl_s=60, metrics=TeacherMetrics())
        assert cache.available
        cache.put_many({"kd:v1:x:y:topk:k8:abc": b"value"})
        assert cache.get_many(["kd:v1:x:y:topk:k8:abc", "kd:v1:missing"]) == [b"value", None]
        teacher = redis.Redis.from_url(url)
        for forbidden in (lambda: teacher.keys("*"), lambda: teacher.flushall(), lambda: teacher.get("other:key"),
                          lambda: teacher.set("other:key", b"x"), lambda: teacher.config_get("*")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                forbidden()
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=port).get("kd:v1:x:y:topk:k8:abc")  # the default user is off
        health = redis.Redis(port=port, username="healthcheck", password="healthcheck")
        assert health.ping()
        with pytest.raises(redis.exceptions.NoPermissionError):
            health.get("kd:v1:x:y:topk:k8:abc")
        cache.close()
    finally:
        server.stop()


def _answers(port: int) -> bool:
    try:
        redis.Redis(port=port, username="healthcheck", password="healthcheck", socket_timeout=0.5).ping()
        return True
    except redis.RedisError:
        return False
