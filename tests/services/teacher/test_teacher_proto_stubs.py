"""The committed stubs match the proto, and the tensor codec packs and checks arrays correctly."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

import numpy as np
import pytest

from kdproto import generate, tensors
from kdproto import teacher_pb2 as pb


def test_committed_stubs_match_a_fresh_generation() -> None:
    stale = generate.stale_stubs()
    assert stale == [], generate.stale_reason(stale)


def test_the_generator_is_pinned_to_the_version_that_made_the_committed_stubs() -> None:
    # An unpinned grpcio-tools let a fresh set-up install a newer one, which stamps its own version in the
    # stub: the stubs then read as stale although the proto had not changed.
    project = tomllib.loads((generate.REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [re.fullmatch(r"grpcio-tools==(\S+)", dep) for dep in project["dependencies"]]
    pinned = [match.group(1) for match in pins if match]
    assert pinned == [generate.stamped_generator_version()] == [metadata.version("grpcio-tools")]


def test_stale_stubs_are_explained_by_the_generator_version_when_it_differs(tmp_path) -> None:
    text = (generate.STUB_DIR / "teacher_pb2_grpc.py").read_text(encoding="utf-8")
    (tmp_path / "teacher_pb2_grpc.py").write_text(
        re.sub(r"GRPC_GENERATED_VERSION = '[^']+'", "GRPC_GENERATED_VERSION = '0.0.1'", text), encoding="utf-8")
    assert generate.stale_stubs(tmp_path) == ["teacher_pb2.py", "teacher_pb2.pyi", "teacher_pb2_grpc.py"]
    reason = generate.stale_reason(["teacher_pb2_grpc.py"], tmp_path)
    assert "come from grpcio-tools 0.0.1" in reason and metadata.version("grpcio-tools") in reason
    assert "the proto changed" in generate.stale_reason(["teacher_pb2_grpc.py"])


def test_stubs_import_from_the_kdproto_package() -> None:
    text = (generate.STUB_DIR / "teacher_pb2_grpc.py").read_text()
    assert "from kdproto import teacher_pb2" in text
    assert pb.DESCRIPTOR.name == "kd/teacher/v1/teacher.proto" and pb.DESCRIPTOR.package == "kd.teacher.v1"


@pytest.mark.parametrize(("values", "dtype"), [([0, 5, 65535], pb.DTYPE_UINT16), ([70000, 1], pb.DTYPE_INT32),
                                               ([-1, 3], pb.DTYPE_INT32), ([2**40], pb.DTYPE_INT64)])
def test_ids_travel_in_the_smallest_type_that_holds_them(values: list[int], dtype: int) -> None:
    packed = tensors.pack_ids(np.array(values))
    assert packed.dtype == dtype
    np.testing.assert_array_equal(tensors.unpack_ids(packed, "ids", 1), values)


def test_logprobs_travel_as_float16_and_keep_their_shape() -> None:
    values = np.array([[-0.5, -3.25], [-12.0, -np.inf]], dtype=np.float32)
    packed = tensors.pack_logprobs(values)
    assert packed.dtype == pb.DTYPE_FLOAT16 and list(packed.shape) == [2, 2] and len(packed.data) == 8
    np.testing.assert_array_equal(tensors.unpack_floats(packed, "logq", 2), values)


@pytest.mark.parametrize(("tensor", "message"), [
    (pb.Tensor(dtype=pb.DTYPE_UINT16, shape=[3], data=b"\x00"), "needs 6 bytes, got 1"),
    (pb.Tensor(dtype=pb.DTYPE_UINT16, shape=[-1], data=b""), "negative dimension"),
    (pb.Tensor(dtype=pb.DTYPE_UINT16, shape=[2**63 - 1], data=b""), "needs 18446744073709551614 bytes, got 0"),
    (pb.Tensor(dtype=pb.DTYPE_UNSPECIFIED, shape=[0], data=b""), "DTYPE_UNSPECIFIED is not allowed"),
    (pb.Tensor(dtype=pb.DTYPE_FLOAT16, shape=[1], data=b"\x00\x00"), "DTYPE_FLOAT16 is not allowed"),
    (pb.Tensor(dtype=pb.DTYPE_INT32, shape=[1, 1], data=b"\x00" * 4), "expected a 1-D tensor"),
])
def test_malformed_tensors_are_refused_with_the_reason(tensor: pb.Tensor, message: str) -> None:
    with pytest.raises(tensors.TensorError, match=message):
        tensors.unpack_ids(tensor, "sentence 0: source", 1)


def test_non_integer_ids_cannot_be_packed() -> None:
    with pytest.raises(tensors.TensorError, match="must be integers"):
        tensors.pack_ids(np.array([0.5]))
