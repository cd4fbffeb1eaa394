"""Regenerate the committed protobuf/gRPC stubs in `kdproto/` from `proto/kd/teacher/v1/teacher.proto`.

Run `python -m kdproto.generate` after editing the proto (`--check` only reports stale stubs). protoc
names the generated modules after the proto's path (`kd/teacher/v1/teacher_pb2.py`), which would clash
with the `kd` CLI package, so the stubs are generated into a scratch folder and their one cross-import is
rewritten to `kdproto`; the `.pyi` gets a `# ruff: noqa` line. The proto keeps its canonical name
`kd/teacher/v1/teacher.proto` in the descriptor pool (what server reflection shows). A test regenerates
the stubs and compares them with the committed ones (`render` returns the texts).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO_ROOT / "proto"
PROTO_FILE = Path("kd/teacher/v1/teacher.proto")
STUB_DIR = Path(__file__).resolve().parent
STUB_NAMES = ("teacher_pb2.py", "teacher_pb2.pyi", "teacher_pb2_grpc.py")
_GENERATED_IMPORT = "from kd.teacher.v1 import teacher_pb2"
_PACKAGE_IMPORT = "from kdproto import teacher_pb2"
_LINT_OFF = "# ruff: noqa\n"


def render(proto_root: Path = PROTO_ROOT) -> dict[str, str]:
    """The stub files protoc generates for the proto, keyed by file name, imports rewritten."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory(prefix="kdproto-") as scratch:
        args = [
            "grpc_tools.protoc", f"-I{proto_root}", f"-I{_protoc_include()}",
            f"--python_out={scratch}", f"--pyi_out={scratch}", f"--grpc_python_out={scratch}",
            str(proto_root / PROTO_FILE),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {proto_root / PROTO_FILE}; see its message above")
        out = Path(scratch) / PROTO_FILE.parent
        texts = {name: (out / name).read_text(encoding="utf-8").replace(_GENERATED_IMPORT, _PACKAGE_IMPORT)
                 for name in STUB_NAMES}
    # Generated code follows protoc's style, not ours: keep linters out of it.
    return {name: text if name.endswith(".py") else _LINT_OFF + text for name, text in texts.items()}


def _protoc_include() -> Path:
    """grpc_tools' bundled well-known protos (google/protobuf/*.proto)."""
    import grpc_tools

    return Path(grpc_tools.__file__).parent / "_proto"


def write(stub_dir: Path = STUB_DIR) -> list[Path]:
    """Regenerate the stubs into `stub_dir`; returns the written paths."""
    written = []
    for name, text in render().items():
        path = stub_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_stubs(stub_dir: Path = STUB_DIR) -> list[str]:
    """Names of committed stubs that differ from a fresh generation (empty when all match)."""
    fresh = render()
    return [name for name, text in fresh.items()
            if not (stub_dir / name).is_file() or (stub_dir / name).read_text(encoding="utf-8") != text]


def stamped_generator_version(stub_dir: Path = STUB_DIR) -> str:
    """The grpcio-tools version that generated the committed stubs (protoc stamps it in the gRPC stub)."""
    text = (stub_dir / "teacher_pb2_grpc.py").read_text(encoding="utf-8")
    found = re.search(r"^GRPC_GENERATED_VERSION = '([^']+)'", text, flags=re.MULTILINE)
    if found is None:
        raise RuntimeError(f"{stub_dir / 'teacher_pb2_grpc.py'} has no GRPC_GENERATED_VERSION line; regenerate it")
    return found.group(1)


def stale_reason(stale: list[str], stub_dir: Path = STUB_DIR) -> str:
    """What to do about stale stubs, naming the generator versions when they are the cause."""
    stamped, installed = stamped_generator_version(stub_dir), metadata.version("grpcio-tools")
    if stamped != installed:
        return (f"stale: {', '.join(stale)}; the committed stubs come from grpcio-tools {stamped}, this "
                f"environment has {installed}. Install the version pyproject.toml pins (rerun scripts/setup.sh), "
                "or move the pin and run `python -m kdproto.generate`, committing both")
    return f"stale: {', '.join(stale)}; the proto changed: run `python -m kdproto.generate` and commit the stubs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate kdproto stubs from proto/.")
    parser.add_argument("--check", action="store_true", help="only report stale stubs (exit 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_stubs()
        if stale:
            print(stale_reason(stale), file=sys.stderr)
        return 1 if stale else 0
    for path in write():
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
