"""Secrets read from files, and the deploy templates' placeholders refused wherever a secret is used.

Services read secrets from files (Docker and Kubernetes secrets), never from a command line, where every
process on the host could read them. `deploy/k8s/secret.yaml` ships every secret as a `REPLACE_ME...`
placeholder: a service started with one would run on a secret anyone can read in the repository, so every
service (the teacher, the gateway, the trainer's Ray connection and teacher client) refuses to start with a
value containing `PLACEHOLDER`, naming the secret and how to make a real one.
"""

from __future__ import annotations

from pathlib import Path

from s2s.errors import KDError

PLACEHOLDER = "REPLACE_ME"
HOW_TO_FIX = "create real secrets (scripts/make_secrets.sh) and put them in the kd-secrets Secret or the files"


class PlaceholderSecretError(KDError):
    """A secret still holds the deploy template's placeholder."""


def refuse_placeholder(value: str, what: str) -> None:
    """Raise `PlaceholderSecretError` when `value` (the `what`) is still a deploy template placeholder."""
    if PLACEHOLDER in value:
        raise PlaceholderSecretError(f"the {what} is still the placeholder of deploy/k8s/secret.yaml "
                                     f"({PLACEHOLDER}...); {HOW_TO_FIX}")


def read_secret(path: Path, what: str) -> str:
    """The stripped content of a secret file; refuses a missing, empty or placeholder secret."""
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise KDError(f"cannot read the {what} from {path} ({exc.strerror}); mount the secret there") from exc
    if not value:
        raise KDError(f"the {what} file {path} is empty; put the secret in it")
    refuse_placeholder(value, what)
    return value
