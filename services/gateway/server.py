"""Running the gateway under uvicorn, with the flags shared by `python -m services.gateway` and `kd gateway`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from s2s.errors import KDError
from services.gateway.settings import GatewaySettings, settings_from_env

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the gateway; each also has a KD_GATEWAY_<NAME> environment variable (flags win)."""
    parser.add_argument("--models", type=Path, dest="models_dir",
                        help="folder whose sub-folders are served models (exports or checkpoints)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000)")
    parser.add_argument("--max-batch", type=int, help="most texts per batch (default 32)")
    parser.add_argument("--max-wait-ms", type=float, help="longest a batch waits for the previous batch's requests "
                        "to come back; a lone request never waits (default 5)")
    parser.add_argument("--queue-size", type=int, help="queued requests before 503s (default 256)")
    parser.add_argument("--poll-seconds", type=float, help="models folder poll period, 0 = off (default 2)")
    parser.add_argument("--threads", type=int, help="CPU threads per CTranslate2 model (default: all cores)")
    parser.add_argument("--default-model", help="model used when a request names none (default: first id)")
    parser.add_argument("--allow-anonymous", action="store_const", const=True, default=None,
                        help="serve a non-loopback address without API keys (refused otherwise)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def settings_from_args(args: argparse.Namespace) -> GatewaySettings:
    """Environment settings overridden by the flags that were given."""
    names = ("models_dir", "host", "port", "max_batch", "max_wait_ms", "queue_size", "poll_seconds",
             "threads", "default_model", "allow_anonymous")
    return settings_from_env(**{name: getattr(args, name, None) for name in names})


def serve(settings: GatewaySettings, log_level: str = "info") -> None:
    """Run the gateway until interrupted (uvicorn handles SIGINT/SIGTERM with a graceful shutdown)."""
    import uvicorn

    from services.gateway.app import create_app

    if not settings.models_dir.is_dir():
        raise KDError(f"models folder {settings.models_dir} does not exist; create it and `kd export` into it")
    app = create_app(settings)
    log.info("gateway serving %s on http://%s:%d", settings.models_dir, settings.host, settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, access_log=False)
