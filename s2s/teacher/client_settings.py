"""How a client reaches a teacher: the CA certificate of a TLS teacher and the file holding its token.

`ClientSettings` is declared like the server's (`s2s.settings`), with the same `KD_TEACHER_` prefix: the
trainer's `TeacherClient` reads `KD_TEACHER_TLS_CA` and `KD_TEACHER_TOKEN_FILE` from it (arguments win), and
the container health check (`python -m services.teacher.healthcheck`) takes `--tls-ca` from it. It lives in
the shared layer because both the client package and the service use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from s2s.settings import setting


@dataclass(frozen=True)
class ClientSettings:
    """What a teacher client needs besides the teacher's address."""

    ENV_PREFIX = "KD_TEACHER_"

    tls_ca: Path | None = setting(None, "PEM certificate of the CA that signed the teacher's certificate: connect "
                                        "over TLS (default: plain gRPC)", metavar="FILE")
    token_file: Path | None = setting(None, "file holding the teacher's shared token, sent as 'authorization: Bearer "
                                            "<token>' (a mounted secret)", metavar="FILE")
