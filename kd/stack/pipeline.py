"""`kd up`: the main job on the embedded default, as local processes.

Redis (unless `REDIS_URL`), a Ray head, the teacher, the gateway, and the distillation steps (Seq-KD data
through the teacher's `Generate`, a student shrunk from the teacher, a training job submitted with `ray job
submit`, evaluation, int8 export), each started with the command line that `docker-compose.yml` uses (ports
differ: free loopback ports instead of fixed container ports). Finished artefacts (data, trained students,
evaluations, exports) are reused by a second run in the same work folder.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kd.stack.plan import UpPlan
from kd.stack.processes import (
    Stack,
    bind_address,
    command_succeeds,
    free_port,
    http_ok,
    is_loopback,
    port_open,
    ray_bind_env,
    redacted_url,
    write_private,
)
from kd.stack.progress import TrainProgress
from s2s.bible import find_shared_corpus, prepare_bible
from s2s.errors import KDError
from student_trainer.ray_auth import ensure_token, private_temp_dir, token_env

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class UpConfig:
    """What `kd up` runs; the defaults serve the reference teacher at once and then distil a student."""

    work_dir: Path = Path("runs/up")
    teacher: Path | None = None
    plan: str = "default"
    recipe: str | None = None
    max_steps: int | None = None
    overrides: tuple[str, ...] = ()
    teacher_steps: int = 2000
    gateway_port: int = 8000
    eval_limit: int | None = 500
    train_limit: int | None = None
    redis_url: str | None = field(default_factory=lambda: os.environ.get("REDIS_URL"))
    exit_when_ready: bool = False


@dataclass
class Paths:
    """Where each artefact of a `kd up` run lives under the work folder."""

    root: Path

    def __post_init__(self) -> None:
        self.root = self.root.resolve()

    data = property(lambda self: self.root / "data" / "bible-es-en")
    seq_data = property(lambda self: self.root / "data" / "seq-kd")
    logs = property(lambda self: self.root / "logs")
    models = property(lambda self: self.root / "models")
    evals = property(lambda self: self.root / "eval")

    def run(self, name: str) -> Path:
        return self.root / "checkpoints" / name


def find_shared_teacher() -> Path | None:
    """The reference teacher in `shared/models/` beside the repository, when present."""
    corpus = find_shared_corpus()
    if corpus is None:
        return None
    teacher = corpus.parent.parent / "models" / "teacher-bible-es-en-small"
    return teacher if (teacher / "config.json").is_file() else None


def python_env(ray_token: Path) -> dict[str, str]:
    """Children find this interpreter's `python`, `ray` and `kd` first on PATH; the Ray head, its workers
    and `ray job submit` use token authentication with the stack's own token (`ray_token`, in the work
    folder), never one from `~/.ray`."""
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1", **token_env(ray_token)}


def say(message: str) -> None:
    print(f"[kd up] {message}", flush=True)


class Up:
    """One run of the pipeline inside a `Stack` of child processes."""

    def __init__(self, config: UpConfig, stack: Stack) -> None:
        self.config, self.stack = config, stack
        self.paths = Paths(config.work_dir)
        os.environ.pop("RAY_AUTH_TOKEN", None)  # it would take precedence over the stack's own token file
        self.env = python_env(ensure_token(self.paths.root / "ray"))
        self.gcs = ""

    def data(self) -> Path:
        if not (self.paths.data / "test.tsv").is_file():
            prepare_bible(self.paths.data)
            if self.config.train_limit:
                train = self.paths.data / "train.tsv"
                lines = train.read_text(encoding="utf-8").splitlines()[: self.config.train_limit + 1]
                train.write_text("\n".join(lines) + "\n", encoding="utf-8")
        say(f"corpus: {self.paths.data}")
        return self.paths.data

    def redis(self) -> Path:
        """The file holding the Redis URL for the teacher (`--redis-url-file`): `REDIS_URL` when set, else a
        Redis started here on loopback with a generated password. The password goes to Redis in its config
        file and to the teacher in the URL file, both 0600 in the work folder's `secrets/`; the console and
        the logs show the address only."""
        secrets_dir = self.paths.root / "secrets"
        if self.config.redis_url:
            say(f"redis: using {redacted_url(self.config.redis_url)}")
            return write_private(secrets_dir / "redis_url", self.config.redis_url)
        host, port, password = bind_address(), free_port(), secrets.token_hex(32)
        config = write_private(secrets_dir / "redis.conf", "\n".join([
            f"bind {host}", f"port {port}", f"requirepass {password}", "maxmemory 512mb",
            "maxmemory-policy allkeys-lru", 'save ""', "appendonly no", f"dir {secrets_dir}", ""]))
        self.stack.start("redis", ["redis-server", str(config)], port_open(port, "127.0.0.1" if is_loopback(host)
                                                                             else host), 30, self.env)
        say(f"redis: started on {host}:{port} with a generated password (in {secrets_dir}/redis_url)")
        return write_private(secrets_dir / "redis_url", f"redis://:{password}@{host}:{port}/0")

    def ray_head(self) -> str:
        """A Ray head whose every server (GCS, raylet, agents, client server, dashboard) listens on loopback
        unless `KD_UP_BIND` says otherwise; the stack's later children get the environment to reach it."""
        host = bind_address()
        self.env.update(ray_bind_env(host))
        gcs, dashboard = free_port(), free_port()
        # Every fixed default port gets a free one, so that kd up runs beside other Ray instances.
        ports = {name: free_port() for name in ("dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                                                 "ray-client-server-port", "metrics-export-port",
                                                 "runtime-env-agent-port")}
        temp_dir = private_temp_dir("kd-up-ray-")
        self.stack.start("ray-head", ["ray", "start", "--head", f"--node-ip-address={host}",
                                      "--dashboard-host=127.0.0.1", f"--port={gcs}", f"--temp-dir={temp_dir}",
                                      f"--dashboard-port={dashboard}", "--include-dashboard=true",
                                      *[f"--{name}={port}" for name, port in ports.items()], "--block"],
                         http_ok(f"http://127.0.0.1:{dashboard}/api/gcs_healthz"), 180, self.env)
        gcs_host = "127.0.0.1" if is_loopback(host) else host
        say(f"ray head: GCS {gcs_host}:{gcs}, jobs http://127.0.0.1:{dashboard} (token auth: "
            f"{self.env['RAY_AUTH_TOKEN_PATH']}; session files: {temp_dir})")
        self.gcs = f"{gcs_host}:{gcs}"
        return f"http://127.0.0.1:{dashboard}"

    def teacher(self, model: Path, redis_url_file: Path) -> str:
        port, metrics = free_port(), free_port()
        target = f"127.0.0.1:{port}"
        self.stack.start("teacher", [sys.executable, "-m", "services.teacher", "--model", str(model),
                                     "--host", "127.0.0.1", "--port", str(port), "--redis-url-file",
                                     str(redis_url_file),
                                     "--metrics-port", str(metrics), "--generate-engine", "ctranslate2",
                                     "--max-batch-tokens", "60000"],
                         command_succeeds([sys.executable, "-m", "services.teacher.healthcheck", "--target", target]),
                         300, self.env)
        say(f"teacher: {model.name} serving on {target} (metrics http://127.0.0.1:{metrics}/metrics)")
        return target

    def distill_data(self, endpoint: str, plan: UpPlan) -> Path:
        """Seq-KD data of the training set through the teacher's Generate, as Ray tasks on the stack's head."""
        out = self.paths.seq_data
        if not (out / "seq_kd.tsv").is_file():
            say(f"Seq-KD data: translating the training set with the teacher (beam {plan.beam}, CTranslate2)")
            self.stack.run("distill-data", [sys.executable, "-m", "kd", "distill-data", "--teacher", endpoint,
                                            "--data", str(self.paths.data / "train.tsv"), "--out", str(out),
                                            "--beam", str(plan.beam), "--nbest", "1", "--chunk-size", "1024"],
                           env={**self.env, "RAY_ADDRESS": self.gcs}, watch=self._chunk_progress("distill-data"))
        return out / "seq_kd.tsv"

    def shrink(self, teacher: Path, plan: UpPlan) -> Path:
        out = self.paths.root / "student-init"
        if not (out / "manifest.json").is_file():
            say(f"student: the teacher shrunk to its encoder and decoder layer {plan.decoder_layer}")
            self.stack.run("shrink", [sys.executable, "-m", "kd", "model", "shrink", "--teacher", str(teacher),
                                      "--decoder-layers", str(plan.decoder_layer), "--out", str(out)], env=self.env)
        return out

    def train(self, name: str, recipe: str, ray_address: str, sets: list[str], steps: int | None = None) -> Path:
        """Submit a training job to the Ray head; reuse the run's final checkpoint when it exists."""
        out = self.paths.run(name)
        if (out / "final" / "manifest.json").is_file():
            say(f"train {name}: reusing {out / 'final'}")
            return out / "final"
        data = self.paths.data
        recipe_arg = recipe if Path(recipe).is_file() else f"student_trainer/recipes/{recipe}.yaml"
        argv = ["ray", "job", "submit", "--address", ray_address, "--working-dir", str(REPO), "--",
                "python", "-m", "student_trainer", "--recipe", recipe_arg,
                "--set", f"output_dir={out}", "--set", f"data.train={data / 'train.tsv'}",
                "--set", f"data.valid={data / 'valid.tsv'}", *[a for s in sets for a in ("--set", s)]]
        if (out / "checkpoints").is_dir():
            argv.append("--resume")
        log = self.paths.logs / f"train-{name}.log"
        say(f"train {name}: submitting `{' '.join(argv[4:])}` (log: {log})")
        watch = TrainProgress(log, steps, say).poll if steps else None
        self.stack.run(f"train-{name}", argv, env=self.env, watch=watch)
        return out / "final"

    def evaluate(self, name: str, model: Path, engine: str = "torch") -> dict[str, object]:
        out = self.paths.evals / name
        if not (out / "results.json").is_file():
            limit = ["--limit", str(self.config.eval_limit)] if self.config.eval_limit else []
            where = f", first {self.config.eval_limit}" if limit else ""
            say(f"evaluate {name} on the test set ({engine}, greedy{where})")
            self.stack.run(f"eval-{name}", [sys.executable, "-m", "kd", "evaluate", "--model", str(model),
                                            "--data", str(self.paths.data / "test.tsv"), "--beams", "1",
                                            "--max-len", "160", "--engine", engine, "--batch-size", "32",
                                            "--out", str(out), *limit], env=self.env)
        return dict(json.loads((out / "results.json").read_text(encoding="utf-8")))

    def export(self, name: str, model: Path) -> Path:
        out = self.paths.models / name
        if not (out / "manifest.json").is_file():
            say(f"export {name} to CTranslate2 int8")
            self.stack.run(f"export-{name}", [sys.executable, "-m", "kd", "export", "--model", str(model),
                                              "--out", str(out), "--quantization", "int8"], env=self.env)
        return out

    def gateway(self, default_model: str) -> str:
        """The gateway over the exports folder, polling it, preferring `default_model` once it appears."""
        port = self.config.gateway_port or free_port()
        url = f"http://127.0.0.1:{port}"
        self.stack.start("gateway", [sys.executable, "-m", "services.gateway", "--models", str(self.paths.models),
                                     "--port", str(port), "--default-model", default_model,
                                     "--poll-seconds", "2"], http_ok(f"{url}/readyz"), 180, self.env)
        return url

    def _chunk_progress(self, name: str) -> Callable[[], None]:
        """Echo `kd distill-data`'s chunk lines from its log to the console."""
        log, seen = self.paths.logs / f"{name}.log", [0]

        def poll() -> None:
            if not log.is_file():
                return
            lines = [x for x in log.read_text(errors="replace").splitlines() if x.startswith("[distill-data] chunk")]
            for line in lines[seen[0]:]:
                say("  " + line.removeprefix("[distill-data] "))
            seen[0] = len(lines)
        return poll


def resolve_teacher(config: UpConfig) -> Path | None:
    """`--teacher`, else the shared reference teacher, else None (a teacher is trained first)."""
    if config.teacher is not None:
        if not (config.teacher / "config.json").is_file():
            raise KDError(f"--teacher {config.teacher} is not a model folder (no config.json)")
        return config.teacher.resolve()
    return find_shared_teacher()
