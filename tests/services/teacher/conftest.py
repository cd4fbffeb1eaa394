"""Fixtures for the teacher service tests: a real Redis, a real in-process gRPC teacher, reference maths."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import torch
from prometheus_client.parser import text_string_to_metric_families

from kdproto import teacher_pb2_grpc as pb_grpc
from s2s.corpus import read_corpus
from s2s.tokenizer import Tokenizer
from services.teacher.config import ServerConfig
from services.teacher.launch import RedisProcess
from services.teacher.server import TeacherServer, grpc_options

Sentences = tuple[list[list[int]], list[list[int]]]


@pytest.fixture(scope="session")
def sentences(tokenizer: Tokenizer, bible_dir: Path) -> Sentences:
    """Twelve real Bible sentence pairs as ids (at most 40 tokens a side, to stay fast)."""
    pairs = read_corpus(bible_dir / "valid.tsv").pairs[:12]
    return ([tokenizer.encode_source(p.src, max_len=40) for p in pairs],
            [tokenizer.encode_target(p.tgt, max_len=40) for p in pairs])


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisProcess]:
    """A fresh `redis-server` on a free loopback port for this test module."""
    proc = RedisProcess().start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def teacher_factory() -> Iterator[Callable[..., TeacherServer]]:
    """`make(model_dir, **settings)`: an in-process teacher on a free loopback port (metrics on another),
    stopped when the module's tests are done."""
    started: list[TeacherServer] = []

    def make(model_dir: Path, **settings: Any) -> TeacherServer:
        config = ServerConfig(**{"model": model_dir, "port": 0, "host": "127.0.0.1", "metrics_port": 0,
                                 "device": "cpu", "threads": 2, "drain_s": 5.0, **settings})
        server = TeacherServer(config)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop(2.0)


@pytest.fixture(scope="module")
def teacher(teacher_factory: Callable[..., TeacherServer], micro_checkpoint: Path,
            redis_server: RedisProcess) -> TeacherServer:
    """A teacher serving the micro checkpoint, caching in this module's Redis."""
    return teacher_factory(micro_checkpoint, redis_url=redis_server.url, cache_retry_s=0.3)


@pytest.fixture()
def stub(teacher: TeacherServer) -> Iterator[Any]:
    """A raw gRPC stub on the module's teacher (for exact status codes and wire-level checks)."""
    channel = grpc.insecure_channel(f"127.0.0.1:{teacher.port}", options=grpc_options(64 * 1024 * 1024))
    yield pb_grpc.TeacherStub(channel)
    channel.close()


def scrape(server: TeacherServer) -> dict[str, float]:
    """The server's metrics over its real HTTP endpoint, keyed `name{label="value",...}`."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}"] = sample.value
    return values


@pytest.fixture()
def metric(teacher: TeacherServer) -> Callable[..., float]:
    """`metric(name, **labels)`: one sample of the module teacher's metrics (0 when absent)."""
    def read(name: str, **labels: str) -> float:
        key = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return scrape(teacher).get(f"{name}{{{key}}}", 0.0)
    return read


@pytest.fixture(scope="session")
def full_log_softmax() -> Callable[[Any, list[int], list[int], int], np.ndarray]:
    """Reference: one unpadded teacher-forced forward pass, log-softmax over the vocabulary: [T, V]."""
    @torch.inference_mode()
    def compute(model: Any, src: list[int], tgt: list[int], pad_id: int) -> np.ndarray:
        decoder_input = [pad_id, *tgt[:-1]]
        logits = model(input_ids=torch.tensor([src]), decoder_input_ids=torch.tensor([decoder_input])).logits[0]
        return torch.log_softmax(logits.float(), dim=-1).numpy()
    return compute
