"""`kd up --teacher A --teacher B`: the stack's teacher serves the ensemble; the first teacher stays the one
that is exported, shrunk and evaluated."""

from __future__ import annotations

from pathlib import Path

import pytest

from kd.cli import build_parser
from kd.stack.config import UpConfig
from kd.stack.pipeline import Up, resolve_teacher
from kd.stack.processes import Stack, write_private
from s2s.errors import KDError
from services.teacher.launch import RedisProcess
from teacher_client import TeacherClient


def test_repeated_teacher_flags_become_the_config_s_teachers(tmp_path: Path) -> None:
    args = build_parser().parse_args(["up", "--teacher", "a", "--teacher", "b"])
    assert args.teacher == [Path("a"), Path("b")]
    with pytest.raises(KDError, match="missing is not a model folder"):
        resolve_teacher(UpConfig(work_dir=tmp_path, teacher=(tmp_path / "missing",)))


def test_the_stack_s_teacher_serves_every_teacher_as_one_ensemble(micro_checkpoint: Path, micro_checkpoint_b: Path,
                                                                 tmp_path: Path) -> None:
    config = UpConfig(work_dir=tmp_path / "up", teacher=(micro_checkpoint, micro_checkpoint_b))
    assert resolve_teacher(config) == micro_checkpoint.resolve()
    redis_server = RedisProcess().start()
    try:
        with Stack(cwd=Path(__file__).resolve().parents[2], log_dir=tmp_path / "logs") as stack:
            url_file = write_private(tmp_path / "secrets" / "redis_url", redis_server.url)  # as `Up.redis` gives it
            endpoint = Up(config, stack).teacher(micro_checkpoint.resolve(), url_file)
            with TeacherClient(endpoint, timeout_s=60) as client:
                info = client.info()
            argv = stack.children[-1].argv
    finally:
        redis_server.stop()
    assert info.model_id == "micro+micro-b" and [m.weight for m in info.members] == [0.5, 0.5]
    assert "--generate-engine" not in argv  # CTranslate2 decodes one model; the ensemble searches on PyTorch
