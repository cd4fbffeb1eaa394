"""Checks of the Kubernetes manifests in deploy/k8s (a kustomization), all offline.

Core kinds are validated strictly against the Kubernetes OpenAPI schemas that the `kubernetes-validate`
package ships. KubeRay's RayCluster and RayJob are CRDs, not in those schemas: they are validated against
deploy/k8s/schemas/ray.io-v1.schema.json (the subset of the CRD fields used here, unknown fields refused),
and their pod templates against the core PodTemplateSpec schema. Cross-references (selectors, Secret and
ConfigMap keys, volume claims, probe ports, the autoscaler's target) and the agreement with
docker-compose.yml and the Dockerfiles are checked too.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="`pip install kubernetes-validate` (a dev dependency) for the schemas"
)

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.30.0"
Doc = dict[str, Any]


def load_resources() -> list[Doc]:
    """Every document of every file the kustomization lists, in order."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs: list[Doc] = []
    for name in kustomization["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text()) if d)
    return docs


RESOURCES = load_resources()
CORE = [d for d in RESOURCES if not d["apiVersion"].startswith("ray.io/")]
RAY = [d for d in RESOURCES if d["apiVersion"].startswith("ray.io/")]


def doc_id(doc: Doc) -> str:
    """kind/name, for test ids and messages."""
    return f"{doc['kind']}/{doc['metadata']['name']}"


def find(kind: str, name: str) -> Doc:
    """The one resource of that kind and name."""
    hits = [d for d in RESOURCES if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(hits) == 1, f"expected one {kind}/{name}, found {len(hits)}"
    return hits[0]


def pod_templates() -> Iterator[tuple[str, Doc]]:
    """(owner id, pod template) for every Deployment, RayCluster group and RayJob submitter."""
    for doc in RESOURCES:
        spec = doc.get("spec", {})
        if doc["kind"] == "Deployment":
            yield doc_id(doc), spec["template"]
        elif doc["kind"] == "RayCluster":
            yield f"{doc_id(doc)}/head", spec["headGroupSpec"]["template"]
            for group in spec.get("workerGroupSpecs", []):
                yield f"{doc_id(doc)}/{group['groupName']}", group["template"]
        elif doc["kind"] == "RayJob" and "submitterPodTemplate" in spec:
            yield f"{doc_id(doc)}/submitter", spec["submitterPodTemplate"]


POD_TEMPLATES = [pytest.param(owner, template, id=owner) for owner, template in pod_templates()]


def container(kind: str, name: str) -> Doc:
    """The first container of a Deployment."""
    containers: list[Doc] = find(kind, name)["spec"]["template"]["spec"]["containers"]
    return containers[0]


def test_expected_resources_exist() -> None:
    """The kustomization contains every agreed piece."""
    kinds = {doc_id(d) for d in RESOURCES}
    expected = {
        "Namespace/kd", "ConfigMap/kd-settings", "Secret/kd-secrets", "PersistentVolumeClaim/models",
        "PersistentVolumeClaim/checkpoints", "PersistentVolumeClaim/data", "Deployment/redis",
        "Service/redis", "Deployment/teacher", "Service/teacher", "RayCluster/kd-ray",
        "RayJob/train-student-ka", "Deployment/gateway", "Service/gateway", "HorizontalPodAutoscaler/gateway",
        "NetworkPolicy/default-deny-ingress", "NetworkPolicy/gateway-from-anywhere",
        "NetworkPolicy/teacher-from-training", "NetworkPolicy/redis-from-teacher",
        "NetworkPolicy/ray-from-ray-and-submitter",
    }
    assert expected <= kinds, f"missing: {sorted(expected - kinds)}"


@pytest.mark.parametrize("doc", CORE, ids=doc_id)
def test_core_resources_match_the_kubernetes_schema(doc: Doc) -> None:
    """Strict validation (unknown fields refused) against the shipped schemas."""
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("doc", RAY, ids=doc_id)
def test_ray_resources_match_the_crd_subset_schema(doc: Doc) -> None:
    """RayCluster and RayJob use only known ray.io/v1 fields with the right types."""
    schema = json.loads((K8S / "schemas" / "ray.io-v1.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)


@pytest.mark.parametrize(("owner", "template"), POD_TEMPLATES)
def test_pod_templates_match_the_kubernetes_schema(owner: str, template: Doc) -> None:
    """Every pod template, including those inside the Ray CRDs, is a valid PodTemplateSpec."""
    wrapped = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "check"}, "template": template}
    kubernetes_validate.validate(wrapped, K8S_VERSION, strict=True)


def test_ray_crd_schema_refuses_typos() -> None:
    """The CRD schema is not a no-op: a misspelt field and a missing cluster are refused."""
    schema = json.loads((K8S / "schemas" / "ray.io-v1.schema.json").read_text())
    job = find("RayJob", "train-student-ka")
    typo = {**job, "spec": {**job["spec"], "entrypiont": "x"}}
    no_cluster = {**job, "spec": {k: v for k, v in job["spec"].items() if k != "clusterSelector"}}
    for bad in (typo, no_cluster):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(schema).validate(bad)


@pytest.mark.parametrize("name", ["redis", "teacher", "gateway"])
def test_services_select_their_deployment(name: str) -> None:
    """Each Service's selector matches its Deployment's pod labels and its target ports exist."""
    service, deployment = find("Service", name), find("Deployment", name)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    port_names = {p["name"] for p in container("Deployment", name)["ports"]}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in port_names, f"Service/{name} targets unknown port {port['targetPort']}"


def test_references_resolve() -> None:
    """Every Secret/ConfigMap key and every volume claim that a pod uses is defined."""
    secret = find("Secret", "kd-secrets")["stringData"]
    claims = {d["metadata"]["name"] for d in RESOURCES if d["kind"] == "PersistentVolumeClaim"}
    for owner, template in pod_templates():
        spec = template["spec"]
        for vol in spec.get("volumes", []):
            if "persistentVolumeClaim" in vol:
                assert vol["persistentVolumeClaim"]["claimName"] in claims, owner
        for ctr in spec["containers"]:
            mounts = {m["name"] for m in ctr.get("volumeMounts", [])}
            assert mounts <= {v["name"] for v in spec.get("volumes", [])}, owner
            for src in ctr.get("envFrom", []):
                find("ConfigMap", src["configMapRef"]["name"])
            for env in ctr.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "kd-secrets" and ref["key"] in secret, f"{owner}: {ref}"


def test_secret_holds_only_marked_placeholders() -> None:
    """No real credential is committed: every secret value is (or contains) a REPLACE_ME placeholder, which
    the services refuse to start with."""
    secret = find("Secret", "kd-secrets")
    assert set(secret["stringData"]) == {"RAY_TOKEN", "TEACHER_TOKEN", "REDIS_URL", "users.acl",
                                         "KD_GATEWAY_API_KEYS", "KD_GATEWAY_ADMIN_KEY"}
    for key, value in secret["stringData"].items():
        assert "REPLACE_ME" in value, key
    assert "data" not in secret


def test_redis_is_an_acl_protected_cache_with_no_secret_on_its_command_line() -> None:
    """Bounded memory, LRU eviction, no persistence, users from an ACL file mounted from the Secret: the same
    command as compose, and no password in any pod's command line or environment value."""
    redis = container("Deployment", "redis")
    argv = redis["command"] + redis["args"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert argv == compose["redis"]["command"]
    assert argv[1:5] == ["--maxmemory", "512mb", "--maxmemory-policy", "allkeys-lru"]
    mounts = {m["mountPath"]: m["name"] for m in redis["volumeMounts"]}
    volume = next(v for v in find("Deployment", "redis")["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == mounts["/run/secrets"])
    assert volume["secret"]["items"] == [{"key": "users.acl", "path": "redis_users.acl"}]
    for owner, template in pod_templates():
        for ctr in template["spec"]["containers"]:
            line = " ".join(ctr.get("command", []) + ctr.get("args", []))
            assert "requirepass" not in line and "REDIS_PASSWORD" not in line and ":@" not in line, owner
            assert all("value" not in e or "REPLACE_ME" not in e["value"] for e in ctr.get("env", [])), owner


@pytest.mark.parametrize(("owner", "template"), POD_TEMPLATES)
def test_pods_meet_the_restricted_pod_security_standard(owner: str, template: Doc) -> None:
    """Non-root, the runtime's seccomp profile, no privilege escalation, no capabilities, no API token."""
    spec = template["spec"]
    assert spec.get("automountServiceAccountToken") is False, owner
    assert spec["securityContext"]["runAsNonRoot"] is True, owner
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, owner
    for ctr in spec["containers"] + spec.get("initContainers", []):
        assert ctr["securityContext"]["allowPrivilegeEscalation"] is False, owner
        assert ctr["securityContext"]["capabilities"]["drop"] == ["ALL"], owner
    labels = find("Namespace", "kd")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_ray_uses_token_authentication_from_the_secret() -> None:
    """Every Ray pod and the job submitter run with RAY_AUTH_MODE=token and the token file from the Secret."""
    ray_pods = [(o, t) for o, t in pod_templates() if "RayCluster" in o or "RayJob" in o]
    assert len(ray_pods) == 3
    for owner, template in ray_pods:
        ctr = template["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in ctr["env"]}
        assert env["RAY_AUTH_MODE"] == "token" and env["RAY_AUTH_TOKEN_PATH"] == "/run/secrets/ray_token", owner
        volume = next(v for v in template["spec"]["volumes"] if v["name"] == "secrets")
        assert {"key": "RAY_TOKEN", "path": "ray_token"} in volume["secret"]["items"], owner


def _secret_files(template: Doc, folder: Path, values: dict[str, str]) -> Path:
    """Write the files the pod's secrets volume would hold, from `values` (Secret key -> content)."""
    volume = next(v for v in template["spec"]["volumes"] if "secret" in v and v["secret"]["secretName"] == "kd-secrets")
    folder.mkdir(parents=True)
    for item in volume["secret"]["items"]:
        (folder / item["path"]).write_text(values[item["key"]])
    return folder


def _run_init_check(template: Doc, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run the pod's placeholder check as its init container would, with /run/secrets mapped to `folder`."""
    init = next(c for c in template["spec"]["initContainers"] if c["name"] == "refuse-placeholder-secrets")
    argv = [part.replace("/run/secrets", str(folder)) for part in init["command"]]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


RAY_AND_REDIS = [pytest.param(o, t, id=o) for o, t in pod_templates()
                 if "RayCluster" in o or "RayJob" in o or o == "Deployment/redis"]


@pytest.mark.parametrize(("owner", "template"), RAY_AND_REDIS)
def test_ray_and_redis_pods_refuse_the_placeholder_secrets(owner: str, template: Doc, tmp_path: Path) -> None:
    """Ray and Redis read their secrets themselves and would accept secret.yaml's placeholders: an init
    container refuses to start the pod while any mounted secret still holds one, and passes real secrets."""
    init = next(c for c in template["spec"]["initContainers"] if c["name"] == "refuse-placeholder-secrets")
    main = template["spec"]["containers"][0]
    assert init["image"] == main["image"], owner
    main_mount = next(m for m in main["volumeMounts"] if m["mountPath"] == "/run/secrets")
    assert init["volumeMounts"] == [{**main_mount, "readOnly": True}], owner
    shipped = find("Secret", "kd-secrets")["stringData"]
    refused = _run_init_check(template, _secret_files(template, tmp_path / "placeholders", shipped))
    assert refused.returncode == 1 and "still holds the REPLACE_ME placeholders" in refused.stderr, owner
    made = tmp_path / "made"
    subprocess.run(["bash", str(ROOT / "scripts" / "make_secrets.sh"), str(made)], check=True, capture_output=True)
    real = {"RAY_TOKEN": (made / "ray_token").read_text(), "TEACHER_TOKEN": (made / "teacher_token").read_text(),
            "REDIS_URL": (made / "redis_url").read_text(), "users.acl": (made / "redis_users.acl").read_text()}
    accepted = _run_init_check(template, _secret_files(template, tmp_path / "real", real))
    assert accepted.returncode == 0, (owner, accepted.stderr)


def test_network_policies_let_in_only_the_intended_callers() -> None:
    """Default deny; the gateway from anywhere; the teacher from training pods; Redis from the teacher;
    Ray from Ray's pods and the job submitter, whose labels exist on the pods they name."""
    assert find("NetworkPolicy", "default-deny-ingress")["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    pod_names = {t["metadata"]["labels"]["app.kubernetes.io/name"] for _, t in pod_templates()}

    def sources(name: str) -> set[str]:
        found = set()
        for rule in find("NetworkPolicy", name)["spec"]["ingress"]:
            for peer in rule.get("from", []):
                selector = peer.get("podSelector", {})
                found |= set(selector.get("matchLabels", {}).values())
                for expr in selector.get("matchExpressions", []):
                    found |= set(expr["values"])
        return found

    assert "from" not in find("NetworkPolicy", "gateway-from-anywhere")["spec"]["ingress"][0]
    assert sources("teacher-from-training") == {"ray-head", "ray-worker", "ray-job-submitter"} <= pod_names
    assert sources("redis-from-teacher") == {"teacher"}
    assert sources("ray-from-ray-and-submitter") == {"ray-head", "ray-worker", "ray-job-submitter"}


def test_teacher_runs_on_a_gpu_with_grpc_probes() -> None:
    """GPU requested (and limited, as extended resources require); gRPC health probes on the gRPC port."""
    teacher = container("Deployment", "teacher")
    resources = teacher["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"] == 1
    grpc_port = next(p["containerPort"] for p in teacher["ports"] if p["name"] == "grpc")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert teacher[probe]["grpc"]["port"] == grpc_port, probe
    argv = teacher["command"] + teacher["args"]
    assert argv == shlex.split(
        "python -m services.teacher --model /models/teacher --host 0.0.0.0 --port 50051 "
        "--redis-url-file /run/secrets/redis_url --auth-token-file /run/secrets/teacher_token --metrics-port 9100"
    )
    assert find("Service", "teacher")["spec"]["clusterIP"] == "None"


def test_gateway_probes_and_autoscaler() -> None:
    """Readiness on /readyz, liveness on /healthz, an autoscaler on CPU aimed at the Deployment."""
    gateway = container("Deployment", "gateway")
    assert gateway["command"] + gateway["args"] == shlex.split(
        "python -m services.gateway --models /models/served --port 8000"
    )
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["resources"]["requests"]["cpu"], "CPU autoscaling needs a CPU request"
    settings = find("ConfigMap", "kd-settings")["data"]
    assert settings["KD_GATEWAY_HOST"] == "0.0.0.0", "the gateway must listen beyond the pod's loopback"
    hpa = find("HorizontalPodAutoscaler", "gateway")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]


def test_rayjob_runs_the_compose_training_and_export_on_the_cluster() -> None:
    """The RayJob targets the RayCluster and runs the same two commands as the compose trainer/export."""
    job, cluster = find("RayJob", "train-student-ka")["spec"], find("RayCluster", "kd-ray")
    assert job["clusterSelector"] == {"ray.io/cluster": cluster["metadata"]["name"]}
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    train, export = (shlex.split(part) for part in job["entrypoint"].split("&&"))
    assert train == compose["trainer"]["command"][compose["trainer"]["command"].index("--") + 1 :]
    assert export == compose["export"]["command"]
    assert yaml.safe_load(job["runtimeEnvYAML"]) == {"working_dir": "/app"}
    endpoint = next(arg.split("=", 1)[1] for arg in train if arg.startswith("teacher.endpoints="))
    host, port = endpoint.split(":")
    assert int(port) in {p["port"] for p in find("Service", host)["spec"]["ports"]}


def test_raycluster_matches_the_images() -> None:
    """rayVersion equals the Ray pinned in the images; GPU workers; head mounts what the job writes."""
    dockerfile = (ROOT / "deploy" / "docker" / "cpu.Dockerfile").read_text()
    ray_version = re.search(r"^ARG RAY_VERSION=(\S+)$", dockerfile, re.M)
    assert ray_version is not None
    spec = find("RayCluster", "kd-ray")["spec"]
    assert spec["rayVersion"] == ray_version.group(1)
    head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert {m["mountPath"] for m in head["volumeMounts"]} >= {"/data", "/checkpoints", "/models", "/dev/shm"}
    for group in spec["workerGroupSpecs"]:
        worker = group["template"]["spec"]["containers"][0]
        assert worker["resources"]["limits"]["nvidia.com/gpu"] >= 1
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]


@pytest.mark.parametrize(("owner", "template"), POD_TEMPLATES)
def test_pods_run_as_the_images_non_root_user(owner: str, template: Doc) -> None:
    """Every project pod runs as non-root; project images as the uid their Dockerfile sets."""
    context = template["spec"]["securityContext"]
    assert context["runAsNonRoot"] is True, owner
    if template["spec"]["containers"][0]["image"].startswith("kd-distill"):
        assert context["runAsUser"] == 10001, owner
        for name in ("cpu.Dockerfile", "cuda.Dockerfile"):
            dockerfile = ROOT / "deploy" / "docker" / name
            assert re.search(r"^USER 10001:10001$", dockerfile.read_text(), re.M), dockerfile.name


def test_images_are_pinned_or_set_by_kustomize() -> None:
    """A project image is named in kustomization `images` (which pins it); others carry a fixed tag."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    managed = {img["name"]: img for img in kustomization["images"]}
    for img in managed.values():
        assert img["newTag"] and img["newTag"] != "latest"
    for owner, template in pod_templates():
        for ctr in template["spec"]["containers"]:
            image = ctr["image"]
            pinned = ":" in image and not image.endswith(":latest")
            assert image in managed or pinned, f"{owner}: image {image} is neither managed nor pinned"


def test_kustomize_build_renders_a_valid_namespaced_set() -> None:
    """`kubectl kustomize` (offline) renders every resource into namespace kd with pinned images."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the other tests check the same files without kustomize")
    proc = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rendered = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert sorted(map(doc_id, rendered)) == sorted(map(doc_id, RESOURCES))
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "kd", doc_id(doc)
    images = set(re.findall(r"image: (\S+)", proc.stdout))
    assert images == {"kd-distill:0.1.0-cpu", "kd-distill:0.1.0-cuda", "redis:7.2.5-bookworm"}
