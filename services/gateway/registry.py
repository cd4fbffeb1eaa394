"""The set of served models: loaded at startup, refreshed by polling the folder or by an admin reload.

Every change builds a new `dict` and replaces the old one in a single assignment (an atomic swap):
requests that already resolved a model keep using that version until they finish, new requests see
the new one. Any failure to load a folder (whatever the exception) is that folder's error, never the
registry's: it is logged with its details, kept (without filesystem paths) for `GET /v1/models`,
`/readyz` and the reload answer, the folder's previous version stays in service, and every other folder
loads as usual. A folder's signature is recorded only once it has loaded; a failed one is remembered by
the signature it failed with, so polling retries it as soon as its files change (an admin reload retries
it at once). While polling, a folder is loaded only once its files have stayed
the same for two polls and none has changed for `settle_s` seconds, so that a slow copy (one that
pauses longer than a poll) is not read half-written; an admin reload loads at once. `kd export` writes
atomically (a temporary folder renamed into place), so its exports never need the wait.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from s2s.errors import KDError
from services.gateway.backends import LoadedModel, is_model_folder, load_model
from services.gateway.errors import UnknownModel

log = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class ReloadReport:
    """What a refresh changed."""

    loaded: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)


def folder_signature(folder: Path) -> Signature:
    """Name, size and modification time of every file: changes whenever the folder is rewritten."""
    stat = folder.stat()
    entries = [(".", stat.st_ino, stat.st_mtime_ns)]
    for path in sorted(folder.iterdir()):
        if path.is_file():
            st = path.stat()
            entries.append((path.name, st.st_size, st.st_mtime_ns))
    return tuple(entries)


def discover(models_dir: Path) -> dict[str, Path]:
    """Model id → folder: every visible model sub-folder, or the folder itself when it is a model."""
    if not models_dir.is_dir():
        raise KDError(f"models folder {models_dir} does not exist; export a model into it with `kd export`")
    if is_model_folder(models_dir):
        return {models_dir.resolve().name: models_dir}
    return {p.name: p for p in sorted(models_dir.iterdir())
            if p.is_dir() and not p.name.startswith(".") and is_model_folder(p)}


class ModelRegistry:
    """Holds the served models and refreshes them from `models_dir`."""

    def __init__(self, models_dir: Path, threads: int, default_model: str | None = None,
                 settle_s: float = 2.0) -> None:
        self.models_dir = Path(models_dir)
        self.settle_s = settle_s
        self.threads = threads
        self.default_model = default_model
        self._models: dict[str, LoadedModel] = {}
        self._signatures: dict[str, Signature] = {}
        self._failed: dict[str, Signature] = {}
        self._pending: dict[str, Signature] = {}
        self.errors: dict[str, str] = {}
        self._lock = asyncio.Lock()

    @property
    def models(self) -> dict[str, LoadedModel]:
        """The current snapshot (never mutated; a refresh replaces it)."""
        return self._models

    def default_id(self) -> str | None:
        """The configured default model when it is loaded, else the first id in order (None when empty)."""
        models = self._models
        if self.default_model in models:
            return self.default_model
        return min(models) if models else None

    def resolve(self, model_id: str | None) -> LoadedModel:
        """The model a request asked for, or the default one; unknown ids are a 404 listing the known."""
        models = self._models
        if model_id is None:
            model_id = self.default_id()
        if model_id is None or model_id not in models:
            known = ", ".join(sorted(models)) or "none loaded"
            raise UnknownModel(f"unknown model {model_id!r}; available models: {known} (see GET /v1/models)")
        return models[model_id]

    async def refresh(self, settle: bool = False) -> ReloadReport:
        """Load new or changed folders, drop removed ones, then swap the snapshot in one assignment."""
        async with self._lock:
            found = await asyncio.to_thread(self._scan)
            report = ReloadReport(removed=sorted(set(self._models) - set(found)))
            models = {k: v for k, v in self._models.items() if k in found}
            for model_id, (folder, sig) in found.items():
                if self._signatures.get(model_id) == sig:  # the version in service (back to it after a failure)
                    report.unchanged.append(model_id)
                    self._failed.pop(model_id, None)
                    self.errors.pop(model_id, None)
                elif settle and self._failed.get(model_id) == sig:
                    report.unchanged.append(model_id)
                elif settle and (self._pending.get(model_id) != sig or not self._quiet(sig)):
                    self._pending[model_id] = sig
                else:
                    await self._load_into(models, model_id, folder, sig, report)
            self._models = models
            for gone in set(self._signatures) | set(self._failed) | set(self.errors):
                if gone not in found:
                    self._signatures.pop(gone, None)
                    self._failed.pop(gone, None)
                    self._pending.pop(gone, None)
                    self.errors.pop(gone, None)
            return report

    def _quiet(self, sig: Signature) -> bool:
        """Whether no file of the folder has changed for `settle_s` seconds."""
        newest_ns = max(entry[2] for entry in sig)
        return time.time_ns() - newest_ns >= self.settle_s * 1e9

    def _scan(self) -> dict[str, tuple[Path, Signature]]:
        found = {}
        for model_id, folder in discover(self.models_dir).items():
            try:
                found[model_id] = (folder, folder_signature(folder))
            except FileNotFoundError:  # replaced between listing and stat: picked up next time
                continue
        return found

    async def _load_into(self, models: dict[str, LoadedModel], model_id: str, folder: Path,
                         sig: Signature, report: ReloadReport) -> None:
        self._pending.pop(model_id, None)
        try:
            loaded = await asyncio.to_thread(load_model, model_id, folder, self.threads)
        except Exception as exc:  # noqa: BLE001 - any failure is this folder's error, never the registry's
            detail = f"{type(exc).__name__}: {exc}"
            kept = " (its previous version stays in service)" if model_id in models else ""
            log.warning("could not load model %s from %s%s: %s", model_id, folder, kept, detail)
            self._failed[model_id] = sig
            self.errors[model_id] = report.failed[model_id] = without_paths(detail, folder)
            return
        models[model_id] = loaded
        self._signatures[model_id] = sig
        self._failed.pop(model_id, None)
        self.errors.pop(model_id, None)
        report.loaded.append(model_id)
        log.info("loaded model %s (%s) from %s", model_id, loaded.backend.name, folder)


# An absolute path: a slash not preceded by a word character, a dot, a colon or another slash (so "1/2",
# "and/or" and URLs stay as they are), then at least one folder.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s/'\"`,;:()\[\]]+/)+([^\s/'\"`,;:()\[\]]*)")


def without_paths(message: str, folder: Path) -> str:
    """`message` with filesystem paths cut to what a client may see: paths inside the model folder become
    `<model folder name>/<file>`, any other absolute path its last component. Error answers travel to
    whoever can reach the gateway; the log keeps the full message."""
    for prefix in sorted({str(folder.resolve()), str(folder.absolute()), str(folder)}, key=len, reverse=True):
        message = message.replace(prefix, folder.name)
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1), message)
