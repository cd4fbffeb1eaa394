"""`kd up`: the main job, on the embedded default or the user's corpus and teacher, as local processes.

Redis (unless `REDIS_URL`), a Ray head, the teacher, the gateway, and the distillation steps (the corpus
imported, Seq-KD data through the teacher's `Generate`, a student shrunk from the teacher or one with its own
vocabulary, a training job submitted with `ray job submit`, evaluation, int8 export), each started with the
command line that `docker-compose.yml` uses (ports differ: free loopback ports instead of fixed container
ports). Finished artefacts (data, trained students, evaluations, exports) are reused by a second run in the
same work folder; a work folder made for another corpus or teacher is refused.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kd.stack.config import UpConfig
from kd.stack.plan import UpPlan
from kd.stack.processes import (
    Stack,
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
from s2s.bible import prepare_bible
from s2s.data_import import import_corpus, import_is_current
from s2s.errors import KDError
from s2s.families.registry import family_of
from s2s.shared import reference_teacher
from student_trainer.ray_auth import ensure_token, private_temp_dir, token_env

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Paths:
    """Where each artefact of a `kd up` run lives under the work folder."""

    root: Path
    corpus: str = "bible-es-en"

    def __post_init__(self) -> None:
        self.root = self.root.resolve()

    data = property(lambda self: self.root / "data" / self.corpus)
    seq_data = property(lambda self: self.root / "data" / "seq-kd")
    student_tokenizer = property(lambda self: self.root / "student-tokenizer")
    logs = property(lambda self: self.root / "logs")
    models = property(lambda self: self.root / "models")
    evals = property(lambda self: self.root / "eval")
    identity = property(lambda self: self.root / "up.json")

    def run(self, name: str) -> Path:
        return self.root / "checkpoints" / name


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
        corpus = config.corpus
        self.paths = Paths(config.work_dir, "bible-es-en" if corpus is None else f"corpus-{corpus.src}-{corpus.tgt}")
        os.environ.pop("RAY_AUTH_TOKEN", None)  # it would take precedence over the stack's own token file
        self.env = python_env(ensure_token(self.paths.root / "ray"))
        self.gcs = ""

    def data(self) -> Path:
        """The corpus folder (train/valid/test TSVs): the user's corpus imported, or the bundled one."""
        spec = self.config.corpus
        if spec is not None:
            spec = dataclasses.replace(spec, out=self.paths.data)
            if not import_is_current(spec):
                say(f"corpus: importing {spec.data} ({spec.src} -> {spec.tgt}): cleaning, splitting")
                report = import_corpus(spec, progress=lambda name, rows: say(f"  {name}: {rows:,} rows read"))
                for line in report.table().splitlines():
                    say("  " + line)
                self._limit_training_rows(self.paths.data / "train.tsv")
        elif not (self.paths.data / "test.tsv").is_file():
            prepare_bible(self.paths.data)
            self._limit_training_rows(self.paths.data / "train.tsv")
        say(f"corpus: {self.paths.data}")
        return self.paths.data

    def _limit_training_rows(self, train: Path) -> None:
        """Keep the header and the first `--train-limit` rows (read line by line: the corpus may be large)."""
        if self.config.train_limit:
            with train.open(encoding="utf-8") as f:
                lines = list(itertools.islice(f, self.config.train_limit + 1))
            train.write_text("".join(lines), encoding="utf-8")

    def claim_work_dir(self, teacher: str) -> None:
        """Record which corpus and teacher this work folder is for; refuse one made for others, whose
        artefacts (a trained teacher, Seq-KD data, students) would otherwise be reused by mistake."""
        corpus = self.config.corpus
        identity = {"corpus": str(corpus.data.resolve()) if corpus else "bundled bible-es-en",
                    "direction": f"{self.config.src}-{self.config.tgt}", "teacher": teacher}
        path = self.paths.identity
        if path.is_file():
            old = json.loads(path.read_text(encoding="utf-8"))
            differ = sorted(k for k in identity if old.get(k) != identity[k])
            if differ:
                raise KDError(f"{self.paths.root} holds a kd up run for another {' and '.join(differ)} "
                              f"({', '.join(f'{k}: {old.get(k)}' for k in differ)}); use another --work-dir")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(identity, indent=2) + "\n", encoding="utf-8")

    def redis(self) -> Path:
        """The file holding the Redis URL for the teacher (`--redis-url-file`): `REDIS_URL` when set, else a
        Redis started here on loopback with a generated password. The password goes to Redis in its config
        file and to the teacher in the URL file, both 0600 in the work folder's `secrets/`; the console and
        the logs show the address only."""
        secrets_dir = self.paths.root / "secrets"
        if self.config.redis_url:
            say(f"redis: using {redacted_url(self.config.redis_url)}")
            return write_private(secrets_dir / "redis_url", self.config.redis_url)
        host, port, password = self.config.bind, free_port(), secrets.token_hex(32)
        config = write_private(secrets_dir / "redis.conf", "\n".join([
            f"bind {host}", f"port {port}", f"requirepass {password}", "maxmemory 512mb",
            "maxmemory-policy allkeys-lru", 'save ""', "appendonly no", f"dir {secrets_dir}", ""]))
        self.stack.start("redis", ["redis-server", str(config)], port_open(port, "127.0.0.1" if is_loopback(host)
                                                                             else host), 30, self.env)
        say(f"redis: started on {host}:{port} with a generated password (in {secrets_dir}/redis_url)")
        return write_private(secrets_dir / "redis_url", f"redis://:{password}@{host}:{port}/0")

    def ray_head(self) -> str:
        """A Ray head whose every server (GCS, raylet, agents, client server, dashboard) listens on loopback
        unless `--bind` (`KD_UP_BIND`) says otherwise; the stack's later children get the environment to reach it."""
        host = self.config.bind
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
        """Serve `model`, with the further `--teacher` folders as an ensemble (its Generate runs on PyTorch);
        the Redis URL (with its password) travels in a file, never on the command line."""
        port, metrics = free_port(), free_port()
        target = f"127.0.0.1:{port}"
        models = [model, *resolve_teachers(self.config)[1:]]
        engine = ["--generate-engine", "ctranslate2"] if len(models) == 1 else []
        self.stack.start("teacher", [sys.executable, "-m", "services.teacher",
                                     *[arg for m in models for arg in ("--model", str(m))],
                                     "--host", "127.0.0.1", "--port", str(port), "--redis-url-file",
                                     str(redis_url_file), "--metrics-port", str(metrics), *engine,
                                     "--max-batch-tokens", "60000", *self._direction_flags()],
                         command_succeeds([sys.executable, "-m", "services.teacher.healthcheck", "--target", target]),
                         300, self.env)
        say(f"teacher: {' + '.join(m.name for m in models)} serving on {target} "
            f"(metrics http://127.0.0.1:{metrics}/metrics)")
        return target

    def _direction_flags(self) -> list[str]:
        """`--src-lang/--tgt-lang[/--prefix]`: the teacher's direction for the commands that load it."""
        d = self.config.direction
        return ["--src-lang", str(d.src), "--tgt-lang", str(d.tgt), *(["--prefix", d.prefix] if d.prefix else [])]

    def _columns(self) -> list[str]:
        return ["--src", self.config.src, "--tgt", self.config.tgt]

    def distill_data(self, endpoint: str, plan: UpPlan) -> Path:
        """Seq-KD data of the training set through the teacher's Generate, as Ray tasks on the stack's head."""
        out = self.paths.seq_data
        if not (out / "seq_kd.tsv").is_file():
            engine = "CTranslate2" if len(self.config.teacher) < 2 else "the ensemble's beam search on PyTorch"
            say(f"Seq-KD data: translating the training set with the teacher (beam {plan.beam}, {engine})")
            self.stack.run("distill-data", [sys.executable, "-m", "kd", "distill-data", "--teacher", endpoint,
                                            "--data", str(self.paths.data / "train.tsv"), "--out", str(out),
                                            "--beam", str(plan.beam), "--nbest", "1", "--chunk-size", "1024",
                                            *self._columns()],
                           env={**self.env, "RAY_ADDRESS": self.gcs}, watch=self._chunk_progress("distill-data"))
        return out / "seq_kd.tsv"

    def shrink(self, teacher: Path, plan: UpPlan) -> Path:
        out = self.paths.root / "student-init"
        if not (out / "manifest.json").is_file():
            say(f"student: the teacher shrunk to its encoder and decoder layer {plan.decoder_layer}")
            self.stack.run("shrink", [sys.executable, "-m", "kd", "model", "shrink", "--teacher", str(teacher),
                                      "--decoder-layers", str(plan.decoder_layer), "--out", str(out)], env=self.env)
        return out

    def student_tokenizer(self, seq_data: Path, vocab_size: int) -> Path:
        """The student's own vocabulary: SentencePiece trained on the corpus's sources and the teacher's
        translations (what the student reads and writes)."""
        out = self.paths.student_tokenizer
        if not (out / "vocab.json").is_file():
            say(f"student tokenizer: {vocab_size:,} pieces trained on the sources and the teacher's translations")
            self.stack.run("student-tokenizer", [sys.executable, "-m", "kd", "tokenizer", "train", "--data",
                                                 str(seq_data), *self._columns(), "--out", str(out),
                                                 "--vocab-size", str(vocab_size)], env=self.env)
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
                "--set", f"data.valid={data / 'valid.tsv'}", "--set", f"data.src_col={self.config.src}",
                "--set", f"data.tgt_col={self.config.tgt}", *[a for s in sets for a in ("--set", s)]]
        if (out / "checkpoints").is_dir():
            argv.append("--resume")
        log = self.paths.logs / f"train-{name}.log"
        say(f"train {name}: submitting `{' '.join(argv[4:])}` (log: {log})")
        watch = TrainProgress(log, steps, say).poll if steps else None
        self.stack.run(f"train-{name}", argv, env=self.env, watch=watch)
        return out / "final"

    def evaluate(self, name: str, model: Path, engine: str = "torch") -> dict[str, object]:
        """Greedy BLEU, chrF and speed of a model (or export) on the corpus's test set, at batch 32."""
        out = self.paths.evals / name
        if not (out / "results.json").is_file():
            limit = ["--limit", str(self.config.eval_limit)] if self.config.eval_limit else []
            where = f", first {self.config.eval_limit}" if limit else ""
            say(f"evaluate {name} on the test set ({engine}, greedy{where})")
            self.stack.run(f"eval-{name}", [sys.executable, "-m", "kd", "evaluate", "--model", str(model),
                                            "--data", str(self.paths.data / "test.tsv"), "--beams", "1",
                                            "--max-len", "160", "--engine", engine, "--batch-size", "32",
                                            "--out", str(out), *self._columns(), *self._direction_flags(),
                                            *limit], env=self.env)
        return dict(json.loads((out / "results.json").read_text(encoding="utf-8")))

    def export(self, name: str, model: Path) -> Path:
        out = self.paths.models / name
        if not (out / "manifest.json").is_file():
            say(f"export {name} to CTranslate2 int8")
            self.stack.run(f"export-{name}", [sys.executable, "-m", "kd", "export", "--model", str(model),
                                              "--out", str(out), "--quantization", "int8", *self._direction_flags()],
                           env=self.env)
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


def resolve_teachers(config: UpConfig) -> tuple[Path, ...]:
    """The `--teacher` folders, checked (a folder of a supported family, else an error naming what it holds)
    and absolute; empty when none was given. Several are served as an ensemble."""
    for folder in config.teacher:
        family_of(folder)
    return tuple(folder.resolve() for folder in config.teacher)


def resolve_teacher(config: UpConfig) -> Path | None:
    """The first `--teacher` (every one checked now: a folder of a supported family), else the shared reference
    teacher for the bundled corpus, else None (a teacher is trained on the user's corpus first)."""
    teachers = resolve_teachers(config)
    if teachers:
        return teachers[0]
    return reference_teacher() if config.corpus is None else None
