"""Subcommand groups of `kd`; every module here exposes `register(subparsers)` and is found automatically."""
