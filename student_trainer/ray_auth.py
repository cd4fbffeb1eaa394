"""Token authentication for the Ray instances this project starts, self-contained in a work folder.

Ray 2.60 turns token authentication on for a new local cluster and looks for the token in
`RAY_AUTH_TOKEN`, then `RAY_AUTH_TOKEN_PATH`, then `~/.ray/auth_token` (which it creates, or which only
exists on a machine where someone once ran `ray get-auth-token --generate`). A run that relied on the
home directory would work on one machine and fail on a fresh one, and would share one secret between
unrelated clusters. So every Ray instance started here (`kd up`'s head, `kd train`'s and `kd
distill-data`'s local Ray, the tests' Ray) gets a token of its own, written with mode 0600 inside its
work folder, and every process that talks to it (head, workers, `ray job submit`, drivers) is pointed at
that file through `RAY_AUTH_TOKEN_PATH`. Nothing is read from or written to `~/.ray`.

Ray also keeps session files (sockets, logs) in a temporary folder, `/tmp/ray` by default, shared by every
cluster on the machine, where a stale `ray_current_cluster` from another cluster can make a later
`ray.init()` connect to (or hang on) the wrong one. `private_temp_dir` gives each instance its own.

A token that still holds the placeholder of `deploy/k8s/secret.yaml` is refused (`check_token`) before any
Ray process starts or connects with it: that token is public.
"""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
from pathlib import Path

from s2s.errors import KDError
from s2s.secret_files import refuse_placeholder

TOKEN_FILE = "auth_token"
AUTH_ENV = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH")
# Ray 2.60 replaces a loopback node address with the machine's address ("remotely reachable"), and its GCS,
# raylet and agents then listen on every interface, guarded by the token alone. With this variable off it
# keeps 127.0.0.1 and every one of its servers binds loopback only. Every process that talks to such an
# instance (workers inherit it; drivers and `ray job submit` need it set) must have it, or it would look for
# the GCS at the machine's address.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def ensure_token(folder: Path) -> Path:
    """The token file in `folder` (created with mode 0600 if absent, reused if present); returns its path."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, stat.S_IRWXU)
    path = folder / TOKEN_FILE
    if path.is_file() and path.read_text(encoding="utf-8").strip():
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        check_token(path)
        return path
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secrets.token_hex(32))
    os.replace(path.with_suffix(".tmp"), path)
    return path


def check_token(token_path: Path | None = None) -> None:
    """Refuse a Ray token (the file `token_path`, else those `RAY_AUTH_TOKEN` / `RAY_AUTH_TOKEN_PATH` name)
    that is still the deploy template's placeholder."""
    if os.environ.get("RAY_AUTH_TOKEN") and token_path is None:
        refuse_placeholder(os.environ["RAY_AUTH_TOKEN"], "Ray token (RAY_AUTH_TOKEN)")
    path = token_path or (Path(os.environ["RAY_AUTH_TOKEN_PATH"]) if os.environ.get("RAY_AUTH_TOKEN_PATH") else None)
    if path is not None and Path(path).is_file():
        refuse_placeholder(Path(path).read_text(encoding="utf-8", errors="replace"), f"Ray token in {path}")


def token_env(token_path: Path) -> dict[str, str]:
    """Environment that turns token authentication on and points Ray (and its children) at the token."""
    if not Path(token_path).is_file():
        raise KDError(f"Ray token file {token_path} does not exist; create it with ensure_token()")
    check_token(Path(token_path))
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(Path(token_path).resolve())}


def use_token(token_path: Path) -> None:
    """Make this process (and the Ray processes it starts) use `token_path`, dropping any cached token."""
    os.environ.update(token_env(token_path))
    os.environ.pop("RAY_AUTH_TOKEN", None)
    try:
        from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()
    except ImportError:  # pragma: no cover - Ray versions without token authentication
        pass


def private_temp_dir(prefix: str = "kd-ray-") -> Path:
    """A fresh, short folder for one Ray instance's session files (unix socket paths must stay short)."""
    return Path(tempfile.mkdtemp(prefix=prefix))


def remote_cluster_has_token() -> bool:
    """Whether a client of an existing cluster (`RAY_ADDRESS`) was given a token explicitly."""
    return bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"))
