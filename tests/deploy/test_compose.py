"""Checks of docker-compose.yml: it passes `docker-compose config`, and it runs the agreed services.

The command lines are compared with the ones a person runs locally (the compose file and the local set-up
must run the same commands), health checks and start-up conditions are checked for every service, and the
GPU profile, volumes, ports and environment variables are checked against docs/deploy.md.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCS = ROOT / "docs" / "deploy.md"

TEACHER_CMD = (
    "python -m services.teacher --model /models/teacher --host 0.0.0.0 --port 50051 "
    "--redis-url-file /run/secrets/redis_url --auth-token-file /run/secrets/teacher_token --metrics-port 9100"
)
RAY_WORKER_CMD = "ray start --address=ray-head:6380 --block"
EXPECTED_COMMANDS: dict[str, str] = {
    "redis": ('redis-server --maxmemory 512mb --maxmemory-policy allkeys-lru --save "" --appendonly no '
              "--aclfile /run/secrets/redis_users.acl"),
    "teacher": TEACHER_CMD,
    "teacher-gpu": TEACHER_CMD,
    "ray-head": "ray start --head --dashboard-host=0.0.0.0 --port=6380 --block",
    "ray-worker": RAY_WORKER_CMD,
    "ray-worker-gpu": RAY_WORKER_CMD,
    "trainer": (
        "ray job submit --address http://ray-head:8265 --working-dir /app -- python -m student_trainer "
        "--recipe student_trainer/recipes/ka.yaml --set teacher.endpoints=teacher:50051 "
        "--set output_dir=/checkpoints/student-ka --set data.train=/data/bible-es-en/train.tsv "
        "--set data.valid=/data/bible-es-en/valid.tsv --set student.tokenizer=/models/teacher"
    ),
    "export": (
        "kd export --model /checkpoints/student-ka/final --out /models/served/student-ka --quantization int8"
    ),
    "gateway": "python -m services.gateway --models /models/served --port 8000",
}
ONE_SHOT = {"trainer", "export"}
GPU_SERVICES = {"teacher-gpu", "ray-worker-gpu"}
EXPECTED_DEPENDS_ON: dict[str, dict[str, str]] = {
    "teacher": {"redis": "service_started"},
    "teacher-gpu": {"redis": "service_started"},
    "ray-worker": {"ray-head": "service_healthy"},
    "ray-worker-gpu": {"ray-head": "service_healthy"},
    "trainer": {"ray-head": "service_healthy", "ray-worker": "service_healthy", "teacher": "service_healthy"},
    "export": {"trainer": "service_completed_successfully"},
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as written (YAML anchors and merge keys resolved by the parser)."""
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The `services` section."""
    return compose["services"]


def clean_env(**overrides: str) -> dict[str, str]:
    """The test's environment without KD_*/COMPOSE_* variables, so that the file's defaults apply."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KD_", "COMPOSE_"))}
    env.update(overrides)
    return env


def compose_config(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Runs `docker-compose -f docker-compose.yml [args] config` and returns its normalised output."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (scripts/install_system_deps.sh installs it)")
    cmd = [binary, "-f", str(COMPOSE_FILE), *args, "config"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env or clean_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"`{' '.join(cmd)}` failed:\n{proc.stderr}"
    return yaml.safe_load(proc.stdout)


def named_volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Maps each mounted volume name to its 'target[:mode]' part."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, _, rest = entry.partition(":")
        mounts[source] = rest
    return mounts


def test_compose_config_is_valid(services: dict[str, dict[str, Any]]) -> None:
    """`docker-compose config` accepts the file and sees exactly the services the file declares."""
    rendered = compose_config()
    assert set(rendered["services"]) == set(services) == set(EXPECTED_COMMANDS)
    assert set(rendered["volumes"]) == {"data", "models", "checkpoints"}


def test_compose_config_with_gpu_profile() -> None:
    """The GPU profile is valid too and keeps the nvidia device reservations."""
    rendered = compose_config("--profile", "gpu")
    for name in GPU_SERVICES:
        devices = rendered["services"][name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]


def test_published_ports_bind_to_loopback_unless_overridden() -> None:
    """Ports are published on 127.0.0.1 by default and on KD_BIND_ADDRESS when it is set."""
    default = compose_config()["services"]["gateway"]["ports"]
    assert default == ["127.0.0.1:8000:8000/tcp"]
    opened = compose_config(env=clean_env(KD_BIND_ADDRESS="0.0.0.0"))["services"]["gateway"]["ports"]
    assert opened == ["0.0.0.0:8000:8000/tcp"]


@pytest.mark.parametrize("name", sorted(EXPECTED_COMMANDS))
def test_command_lines_match_the_local_commands(services: dict[str, dict[str, Any]], name: str) -> None:
    """Each service runs exactly the command a person runs without Docker (exec form, no shell)."""
    command = services[name]["command"]
    assert isinstance(command, list), f"{name}: use the exec (list) form of command"
    assert command == shlex.split(EXPECTED_COMMANDS[name])


@pytest.mark.parametrize("name", sorted(set(EXPECTED_COMMANDS) - ONE_SHOT))
def test_long_running_services_have_health_checks(services: dict[str, dict[str, Any]], name: str) -> None:
    """Every long-running service has an exec-form health check with a start period or retries."""
    check = services[name].get("healthcheck")
    assert check, f"{name} has no healthcheck"
    assert check["test"][0] == "CMD", f"{name}: health check must be exec form (CMD)"
    assert check.get("retries", 0) >= 3
    assert services[name].get("restart") == "unless-stopped"


def test_health_checks_probe_the_right_endpoints(services: dict[str, dict[str, Any]]) -> None:
    """Teacher via grpc.health.v1, gateway via /healthz, Ray via its health endpoints, Redis via PING."""
    assert services["teacher"]["healthcheck"]["test"][1:] == shlex.split(
        "python -m services.teacher.healthcheck --target localhost:50051"
    )
    assert services["teacher-gpu"]["healthcheck"] == services["teacher"]["healthcheck"]
    assert "http://localhost:8000/healthz" in services["gateway"]["healthcheck"]["test"][-1]
    assert "http://localhost:8265/api/gcs_healthz" in services["ray-head"]["healthcheck"]["test"][-1]
    assert "/api/local_raylet_healthz" in services["ray-worker"]["healthcheck"]["test"][-1]
    assert services["redis"]["healthcheck"]["test"] == shlex.split(
        "CMD redis-cli --user healthcheck --pass healthcheck --no-auth-warning ping")


@pytest.mark.parametrize("name", sorted(ONE_SHOT))
def test_one_shot_jobs_are_not_restarted(services: dict[str, dict[str, Any]], name: str) -> None:
    """The trainer and the export run once: no restart policy, no health check."""
    assert services[name]["restart"] == "no"
    assert "healthcheck" not in services[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_DEPENDS_ON))
def test_start_order_conditions(services: dict[str, dict[str, Any]], name: str) -> None:
    """depends_on uses the agreed conditions (a cache never gates the teacher)."""
    depends = {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}
    assert depends == EXPECTED_DEPENDS_ON[name]


def test_conditions_are_satisfiable(services: dict[str, dict[str, Any]]) -> None:
    """service_healthy targets have health checks; service_completed_successfully targets are one-shot."""
    for name, service in services.items():
        for dep, spec in service.get("depends_on", {}).items():
            assert "profiles" not in services[dep], f"{name} must not depend on the optional service {dep}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy: no check"
            if spec["condition"] == "service_completed_successfully":
                assert dep in ONE_SHOT, f"{name} waits for {dep} to finish, but {dep} is long-running"


def test_volumes_are_named_and_mounted_where_needed(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    """Only named volumes; models read-only for readers, writable for the export and the Ray nodes."""
    declared = set(compose["volumes"])
    assert declared == {"data", "models", "checkpoints"}
    for name, service in services.items():
        assert set(named_volume_mounts(service)) <= declared, f"{name} mounts an undeclared volume"
    assert named_volume_mounts(services["teacher"]) == {"models": "/models:ro"}
    assert named_volume_mounts(services["gateway"]) == {"models": "/models:ro"}
    assert named_volume_mounts(services["export"]) == {"checkpoints": "/checkpoints:ro", "models": "/models"}
    for node in ("ray-head", "ray-worker", "ray-worker-gpu"):
        assert named_volume_mounts(services[node]) == {
            "data": "/data", "checkpoints": "/checkpoints", "models": "/models"
        }
        assert services[node]["shm_size"], f"{node} needs shared memory for Ray's object store"


def test_gpu_profile_services(services: dict[str, dict[str, Any]]) -> None:
    """GPU services are opt-in (profile gpu), use the CUDA image; the default teacher runs on the CPU."""
    for name, service in services.items():
        is_gpu = name in GPU_SERVICES
        assert (service.get("profiles") == ["gpu"]) == is_gpu, name
        assert ("deploy" in service) == is_gpu, name
        if "build" in service:
            expected = "cuda" if is_gpu else "cpu"
            assert service["build"]["dockerfile"] == f"deploy/docker/{expected}.Dockerfile", name
            assert service["image"].endswith(f"-{expected}"), name
    assert services["teacher"]["environment"]["KD_TEACHER_DEVICE"] == "cpu"
    assert services["teacher-gpu"]["environment"]["KD_TEACHER_DEVICE"] == "cuda"
    assert services["teacher-gpu"]["networks"]["backend"]["aliases"] == ["teacher"]


def test_images_are_pinned_and_dockerfiles_exist(services: dict[str, dict[str, Any]]) -> None:
    """Every image has an explicit tag other than latest; every build names an existing Dockerfile."""
    for name, service in services.items():
        image = service["image"]
        tag = image.rpartition(":")[2] if ":" in image else ""
        assert tag and tag != "latest", f"{name}: pin the image tag ({image})"
        if "build" in service:
            assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name


def test_service_settings_are_passed(services: dict[str, dict[str, Any]]) -> None:
    """The teacher and gateway get every setting they read from the environment."""
    teacher_env = {"KD_TEACHER_DEVICE", "KD_TEACHER_MAX_BATCH_TOKENS", "KD_TEACHER_MAX_WAIT_MS",
                   "KD_TEACHER_CACHE_TTL_S"}
    gateway_env = {"KD_GATEWAY_HOST", "KD_GATEWAY_API_KEYS", "KD_GATEWAY_ADMIN_KEY", "KD_GATEWAY_CORS_ORIGINS",
                   "KD_GATEWAY_MAX_BATCH", "KD_GATEWAY_MAX_WAIT_MS", "KD_GATEWAY_PUBLIC_ADDRESS",
                   "KD_GATEWAY_ALLOW_ANONYMOUS"}
    assert set(services["teacher"]["environment"]) == teacher_env
    assert set(services["teacher-gpu"]["environment"]) == teacher_env
    assert set(services["gateway"]["environment"]) == gateway_env
    assert services["gateway"]["environment"]["KD_GATEWAY_HOST"] == "0.0.0.0", "reachable from outside"


def test_docs_list_every_variable_and_port(services: dict[str, dict[str, Any]]) -> None:
    """docs/deploy.md's table names every environment variable and every port of the compose file."""
    text = DOCS.read_text()
    variables = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))
    for service in services.values():
        variables |= set(service.get("environment", {}))
    missing = sorted(v for v in variables if f"`{v}`" not in text)
    assert not missing, f"docs/deploy.md does not describe: {missing}"
    for port in ("6379", "50051", "9100", "6380", "8265", "52365", "8000"):
        assert port in text, f"docs/deploy.md does not mention port {port}"


RAY_USERS = ("ray-head", "ray-worker", "ray-worker-gpu", "trainer")
BACKEND = {"redis", "teacher", "teacher-gpu", "ray-head", "ray-worker", "ray-worker-gpu", "trainer"}


def test_only_the_gateway_is_published_even_when_the_bind_address_is_opened() -> None:
    """With KD_BIND_ADDRESS=0.0.0.0 the gateway's port alone is published: Ray's job API, the teacher and
    its metrics and Redis are on the internal backend network only."""
    for env in (clean_env(), clean_env(KD_BIND_ADDRESS="0.0.0.0")):
        rendered = compose_config("--profile", "gpu", env=env)["services"]
        published = {name: svc["ports"] for name, svc in rendered.items() if svc.get("ports")}
        assert set(published) == {"gateway"}
        assert [p.split(":")[-2:] for p in published["gateway"]] == [["8000", "8000/tcp"]]


def test_networks_separate_the_gateway_from_the_backend(compose: dict[str, Any],
                                                       services: dict[str, dict[str, Any]]) -> None:
    assert compose["networks"]["backend"] == {"internal": True}
    for name in BACKEND:
        networks = services[name]["networks"]
        assert set(networks) == {"backend"}, name
    assert services["gateway"]["networks"] == ["frontend"]
    assert services["export"]["network_mode"] == "none"


def test_ray_runs_with_token_authentication_from_a_secret(compose: dict[str, Any],
                                                          services: dict[str, dict[str, Any]]) -> None:
    assert "disabled" not in COMPOSE_FILE.read_text().split("RAY_AUTH_MODE", 1)[1].split("\n", 1)[0]
    for name in RAY_USERS:
        env = services[name]["environment"]
        assert env["RAY_AUTH_MODE"] == "token" and env["RAY_AUTH_TOKEN_PATH"] == "/run/secrets/ray_token", name
        assert "ray_token" in services[name]["secrets"], name
    assert compose["secrets"]["ray_token"] == {"file": "./secrets/ray_token"}


def test_secrets_come_from_files_never_from_command_lines_or_images(compose: dict[str, Any],
                                                                   services: dict[str, dict[str, Any]]) -> None:
    assert {s["file"] for s in compose["secrets"].values()} == {
        "./secrets/ray_token", "./secrets/teacher_token", "./secrets/redis_users.acl", "./secrets/redis_url"}
    for name, service in services.items():
        line = " ".join(service.get("command", []))
        assert "requirepass" not in line and "redis://" not in line, name
    assert services["redis"]["secrets"] == ["redis_users.acl"]
    assert set(services["teacher"]["secrets"]) == {"teacher_token", "redis_url"}
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "secrets"} <= set(ignored)
