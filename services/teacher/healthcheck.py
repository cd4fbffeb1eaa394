"""`python -m services.teacher.healthcheck --target HOST:PORT`: exit 0 when the teacher is SERVING.

For container health checks and readiness probes; uses the standard `grpc.health.v1` service.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from s2s.settings import add_arguments, from_args, from_env
from s2s.teacher.client_settings import ClientSettings


def check(target: str, service: str = "", timeout_s: float = 3.0, tls_ca: str | Path | None = None) -> str:
    """The health status name of `service` at `target` (e.g. SERVING, NOT_SERVING); raises grpc.RpcError.

    Over TLS when `tls_ca` (or `KD_TEACHER_TLS_CA`, `ClientSettings`) names the CA certificate; no token is
    needed."""
    ca = tls_ca or from_env(ClientSettings).tls_ca
    channel = (grpc.secure_channel(target, grpc.ssl_channel_credentials(Path(ca).read_bytes())) if ca
               else grpc.insecure_channel(target))
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.teacher.healthcheck",
                                     description="Exit 0 when a teacher server reports SERVING.")
    parser.add_argument("--target", required=True, help="HOST:PORT of the teacher's gRPC server")
    parser.add_argument("--service", default="", help="service name to check (default: the whole server)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for an answer")
    add_arguments(parser, ClientSettings, skip=("token_file",))  # --tls-ca; health checks need no token
    args = parser.parse_args(argv)
    try:
        status = check(args.target, args.service, args.timeout, from_args(ClientSettings, args).tls_ca)
    except grpc.RpcError as exc:
        print(f"{args.target}: unreachable ({exc.code().name}: {exc.details()})", file=sys.stderr)
        return 1
    print(f"{args.target}: {status}")
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
