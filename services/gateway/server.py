"""Running the gateway under uvicorn, with the flags shared by `python -m services.gateway` and `kd gateway`."""

from __future__ import annotations

import argparse
import logging

from s2s.errors import KDError
from s2s.settings import add_arguments as add_setting_arguments
from s2s.settings import from_args
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per gateway setting, each also a KD_GATEWAY_<NAME> environment variable (flags win), and
    the log level."""
    add_setting_arguments(parser, GatewaySettings)
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def settings_from_args(args: argparse.Namespace) -> GatewaySettings:
    """The flags that were given, then the environment, then the defaults."""
    return from_args(GatewaySettings, args)


def serve(settings: GatewaySettings, log_level: str = "info") -> None:
    """Run the gateway until interrupted (uvicorn handles SIGINT/SIGTERM with a graceful shutdown)."""
    import uvicorn

    from services.gateway.app import create_app

    if not settings.models_dir.is_dir():
        raise KDError(f"models folder {settings.models_dir} does not exist; create it and `kd export` into it")
    app = create_app(settings)
    log.info("gateway serving %s on http://%s:%d", settings.models_dir, settings.host, settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, access_log=False)
