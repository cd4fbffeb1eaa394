"""`kd up`: the main job on the embedded default, as local processes.

Redis (unless `REDIS_URL`), a Ray head, the teacher, a distillation job submitted with `ray job submit`,
evaluation of teacher and student, int8 export and the gateway, each started with the command line that
`docker-compose.yml` uses (ports differ: free loopback ports instead of fixed container ports). Finished
artefacts (trained students, evaluations, exports) are reused by a second run.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kd.stack.processes import Stack, command_succeeds, free_port, http_ok, port_open
from s2s.bible import find_shared_corpus, prepare_bible
from s2s.errors import KDError

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class UpConfig:
    """What `kd up` runs; the defaults distil the reference teacher into a KA student in minutes."""

    work_dir: Path = Path("runs/up")
    teacher: Path | None = None
    recipe: str = "ka"
    max_steps: int = 1200
    overrides: tuple[str, ...] = ()
    teacher_steps: int = 2000
    gateway_port: int = 8000
    eval_limit: int | None = 500
    redis_url: str | None = field(default_factory=lambda: os.environ.get("REDIS_URL"))
    exit_when_ready: bool = False


@dataclass
class Paths:
    """Where each artefact of a `kd up` run lives under the work folder."""

    root: Path

    def __post_init__(self) -> None:
        self.root = self.root.resolve()

    data = property(lambda self: self.root / "data" / "bible-es-en")
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


def python_env() -> dict[str, str]:
    """Children find this interpreter's `python`, `ray` and `kd` first on PATH; the Ray head and `ray job
    submit` agree on token authentication (Ray 2.60 keeps the token in ~/.ray/auth_token)."""
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1", "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "token")}


def say(message: str) -> None:
    print(f"[kd up] {message}", flush=True)


class Up:
    """One run of the pipeline inside a `Stack` of child processes."""

    def __init__(self, config: UpConfig, stack: Stack) -> None:
        self.config, self.stack = config, stack
        self.paths = Paths(config.work_dir)
        self.env = python_env()

    def data(self) -> Path:
        if not (self.paths.data / "test.tsv").is_file():
            prepare_bible(self.paths.data)
        say(f"corpus: {self.paths.data}")
        return self.paths.data

    def redis(self) -> str:
        if self.config.redis_url:
            say(f"redis: using {self.config.redis_url}")
            return self.config.redis_url
        port = free_port()
        self.stack.start("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                   "--maxmemory", "512mb", "--maxmemory-policy", "allkeys-lru",
                                   "--save", "", "--appendonly", "no"], port_open(port), 30, self.env)
        say(f"redis: started on 127.0.0.1:{port}")
        return f"redis://127.0.0.1:{port}/0"

    def ray_head(self) -> str:
        gcs, dashboard = free_port(), free_port()
        # Every fixed default port gets a free one, so that kd up runs beside other Ray instances.
        ports = {name: free_port() for name in ("dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                                                 "ray-client-server-port", "metrics-export-port",
                                                 "runtime-env-agent-port")}
        self.stack.start("ray-head", ["ray", "start", "--head", "--dashboard-host=127.0.0.1", f"--port={gcs}",
                                      f"--dashboard-port={dashboard}", "--include-dashboard=true",
                                      *[f"--{name}={port}" for name, port in ports.items()], "--block"],
                         http_ok(f"http://127.0.0.1:{dashboard}/api/gcs_healthz"), 180, self.env)
        say(f"ray head: GCS 127.0.0.1:{gcs}, jobs http://127.0.0.1:{dashboard}")
        return f"http://127.0.0.1:{dashboard}"

    def teacher(self, model: Path, redis_url: str) -> str:
        port, metrics = free_port(), free_port()
        target = f"127.0.0.1:{port}"
        self.stack.start("teacher", [sys.executable, "-m", "services.teacher", "--model", str(model),
                                     "--port", str(port), "--redis-url", redis_url, "--metrics-port", str(metrics)],
                         command_succeeds([sys.executable, "-m", "services.teacher.healthcheck", "--target", target]),
                         300, self.env)
        say(f"teacher: {model.name} serving on {target} (metrics http://127.0.0.1:{metrics}/metrics)")
        return target

    def train(self, name: str, recipe: str, ray_address: str, sets: list[str]) -> Path:
        """Submit a training job to the Ray head; reuse the run's final checkpoint when it exists."""
        out = self.paths.run(name)
        if (out / "final" / "manifest.json").is_file():
            say(f"train {name}: reusing {out / 'final'}")
            return out / "final"
        data = self.paths.data
        argv = ["ray", "job", "submit", "--address", ray_address, "--working-dir", str(REPO), "--",
                "python", "-m", "student_trainer", "--recipe", f"student_trainer/recipes/{recipe}.yaml",
                "--set", f"output_dir={out}", "--set", f"data.train={data / 'train.tsv'}",
                "--set", f"data.valid={data / 'valid.tsv'}", *[a for s in sets for a in ("--set", s)]]
        if (out / "checkpoints").is_dir():
            argv.append("--resume")
        say(f"train {name}: submitting `{' '.join(argv[4:])}` (log: {self.paths.logs / f'train-{name}.log'})")
        self.stack.run(f"train-{name}", argv, env=self.env)
        return out / "final"

    def evaluate(self, name: str, model: Path) -> dict[str, object]:
        out = self.paths.evals / name
        if not (out / "results.json").is_file():
            limit = ["--limit", str(self.config.eval_limit)] if self.config.eval_limit else []
            say(f"evaluate {name} on the test set (greedy{', first ' + str(self.config.eval_limit) if limit else ''})")
            self.stack.run(f"eval-{name}", [sys.executable, "-m", "kd", "evaluate", "--model", str(model),
                                            "--data", str(self.paths.data / "test.tsv"), "--beams", "1",
                                            "--max-len", "160", "--out", str(out), *limit], env=self.env)
        return dict(json.loads((out / "results.json").read_text(encoding="utf-8")))

    def export(self, name: str, model: Path) -> Path:
        out = self.paths.models / name
        if not (out / "manifest.json").is_file():
            say(f"export {name} to CTranslate2 int8")
            self.stack.run(f"export-{name}", [sys.executable, "-m", "kd", "export", "--model", str(model),
                                              "--out", str(out), "--quantization", "int8"], env=self.env)
        return out

    def gateway(self) -> str:
        port = self.config.gateway_port or free_port()
        url = f"http://127.0.0.1:{port}"
        self.stack.start("gateway", [sys.executable, "-m", "services.gateway", "--models", str(self.paths.models),
                                     "--port", str(port)], http_ok(f"{url}/readyz"), 180, self.env)
        return url


def resolve_teacher(config: UpConfig) -> Path | None:
    """`--teacher`, else the shared reference teacher, else None (a teacher is trained first)."""
    if config.teacher is not None:
        if not (config.teacher / "config.json").is_file():
            raise KDError(f"--teacher {config.teacher} is not a model folder (no config.json)")
        return config.teacher.resolve()
    return find_shared_teacher()
