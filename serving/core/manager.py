"""Which model versions are served: polling base paths, loading, labels and unloading.

Like TF Serving's availability-preserving policy, a new version is loaded and made available
before the old one is unloaded, so a request for "latest" always finds a version. Requests that
already hold the old version finish on it: unloading drops only the manager's reference.
A version that fails to load (a corrupt or half-copied directory) is retried
--max_num_load_retries times, --load_retry_interval_micros apart; meanwhile, and after it gives
up, it is reported END with its error, and the versions already serving stay.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from .config import ModelConfig
from .servable import Servable
from .status import invalid, not_found

# ServableState names as GetModelStatus reports them.
LOADING, AVAILABLE, UNLOADING, END = "LOADING", "AVAILABLE", "UNLOADING", "END"

logger = logging.getLogger(__name__)


class ModelManager:
    def __init__(
        self,
        models: list[ModelConfig],
        poll_seconds: float = 1.0,
        warmup: bool = True,
        load_retries: int = 5,
        retry_seconds: float = 60.0,
    ):
        self.models = {m.name: m for m in models}
        self.poll_seconds = poll_seconds
        self.warmup = warmup
        self.load_retries = load_retries
        self.retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._serving: dict[str, dict[int, Servable]] = {m.name: {} for m in models}
        # name -> version -> (state, error message or ""); END versions stay listed, as in TF.
        self._states: dict[str, dict[int, tuple[str, str]]] = {m.name: {} for m in models}
        # (name, version) -> (failed attempts, monotonic time of the last one)
        self._failed: dict[tuple[str, int], tuple[int, float]] = {}
        # One poll (or reconfiguration) at a time, so no version is ever loaded twice.
        self._poll_lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = None
        # Called with no arguments after every poll and reconfiguration (the health service).
        self.listeners: list = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Loads the initial versions synchronously, then polls in the background."""
        self.poll_once()
        if self.poll_seconds > 0:
            self._thread = threading.Thread(
                target=self._poll_loop, name="version-poller", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll_once()
            except Exception as e:  # noqa: BLE001 - a bad poll must not kill the poller
                logger.exception("Version poll failed: %s", e)

    def reconfigure(self, models: list[ModelConfig]) -> None:
        """Applies a re-read model config file: new models load, removed ones unload, and
        policies and version labels change in place (--model_config_file_poll_wait_seconds)."""
        new = {m.name: m for m in models}
        with self._poll_lock:
            with self._lock:
                for name in new:
                    self._serving.setdefault(name, {})
                    self._states.setdefault(name, {})
            for name in set(self.models) - set(new):
                for version in sorted(self._serving[name]):
                    self._unload(name, version)
            self.models = new
            self.poll_once()

    def poll_once(self) -> None:
        with self._poll_lock:
            self._poll_models()
        for listener in list(self.listeners):
            listener()

    def _poll_models(self) -> None:
        for config in list(self.models.values()):
            on_disk = _versions_on_disk(config.base_path)
            for key in [k for k in self._failed if k[0] == config.name and k[1] not in on_disk]:
                del self._failed[key]  # removed from disk: a later copy gets fresh attempts
            wanted = config.wanted(on_disk)
            for version in sorted(wanted - set(self._serving[config.name])):
                if self._may_load(config.name, version):
                    self._load(config, version)
            serving = set(self._serving[config.name])
            # Unload only after the loads above made a wanted version available: if every new
            # version failed, the old ones keep serving (unless their directories are gone).
            if serving & wanted or not wanted:
                for version in sorted(serving - wanted):
                    self._unload(config.name, version)

    def _may_load(self, name: str, version: int) -> bool:
        attempts, last = self._failed.get((name, version), (0, 0.0))
        if attempts == 0:
            return True
        return attempts <= self.load_retries and time.monotonic() - last >= self.retry_seconds

    def _set_state(self, name: str, version: int, state: str, error: str = "") -> None:
        with self._lock:
            self._states[name][version] = (state, error)

    def _load(self, config: ModelConfig, version: int) -> None:
        self._set_state(config.name, version, LOADING)
        path = os.path.join(config.base_path, str(version))
        try:
            servable = Servable(config.name, version, path)
            warmed = servable.warm_up() if self.warmup else 0
        except Exception as e:  # noqa: BLE001 - any load failure is reported, not raised
            attempts = self._failed.get((config.name, version), (0, 0.0))[0] + 1
            self._failed[(config.name, version)] = (attempts, time.monotonic())
            self._set_state(config.name, version, END, f"Failed to load {path}: {e}")
            logger.error(
                "Failed to load servable version {name: %s version: %d}: %s",
                config.name,
                version,
                e,
            )
            return
        self._failed.pop((config.name, version), None)
        with self._lock:
            self._serving[config.name] = {**self._serving[config.name], version: servable}
            self._states[config.name][version] = (AVAILABLE, "")
        logger.info(
            "Successfully loaded servable version {name: %s version: %d}%s",
            config.name,
            version,
            f" ({warmed} warm-up requests)" if warmed else "",
        )

    def _unload(self, name: str, version: int) -> None:
        self._set_state(name, version, UNLOADING)
        with self._lock:
            # Copy-on-write: readers that took the old dict keep a consistent view.
            self._serving[name] = {v: s for v, s in self._serving[name].items() if v != version}
            self._states[name][version] = (END, "")
        logger.info("Unloaded servable version {name: %s version: %d}", name, version)

    # -- queries -----------------------------------------------------------------------------
    def resolve_label(self, name: str, label: str) -> int:
        labels = dict(self.models[name].labels) if name in self.models else {}
        if label not in labels:
            raise invalid(f"Unrecognized servable version label: {label}")
        return labels[label]

    def get(self, name: str, version: int | None = None, label: str | None = None) -> Servable:
        """The servable a ModelSpec asks for, or NOT_FOUND worded as TF Serving words it."""
        if label:
            version = self.resolve_label(name, label)
        with self._lock:
            versions = self._serving.get(name, {})
        if version is None:
            if not versions:
                raise not_found(f"Servable not found for request: Latest({name})")
            return versions[max(versions)]
        if version not in versions:
            raise not_found(f"Servable not found for request: Specific({name}, {version})")
        return versions[version]

    def status(self, name: str, version: int | None = None, label: str | None = None) -> list:
        """[(version, state, error message)] for GetModelStatus, newest first."""
        if name not in self.models:
            raise not_found(f"Could not find any versions of model {name}")
        if label:
            version = self.resolve_label(name, label)
        with self._lock:
            states = dict(self._states[name])
        if version is not None:
            if version not in states:
                raise not_found(f"Could not find version {version} of model {name}")
            states = {version: states[version]}
        if not states:
            raise not_found(f"Could not find any versions of model {name}")
        return [(v, *states[v]) for v in sorted(states, reverse=True)]

    def available(self) -> dict[str, list[int]]:
        with self._lock:
            return {name: sorted(versions) for name, versions in self._serving.items()}

    def ready(self) -> bool:
        """Whether every configured model has a version AVAILABLE (what health reports)."""
        with self._lock:
            return bool(self.models) and all(self._serving.get(name) for name in self.models)


def _versions_on_disk(base_path: str) -> list[int]:
    """Numeric child directories holding a saved_model.pb (others are ignored, as in TF)."""
    try:
        children = os.listdir(base_path)
    except OSError:
        return []
    return sorted(
        int(c)
        for c in children
        if c.isdigit() and os.path.exists(os.path.join(base_path, c, "saved_model.pb"))
    )
