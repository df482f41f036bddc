"""Speech models loaded once per test process.

Every hub under test that transcribes (vosk) or speaks with piper loads its model when it needs it,
as a real hub does once per run: 2–10 s each on a busy 2-core machine, for the same files again
and again. ``share_loaded_models`` makes ``vosk.Model(path)`` and ``piper.PiperVoice.load(path)``
hand out the instance already loaded from the same path in this process (both are read-only once
loaded; recognisers and syntheses are made from them per call). A load that fails is not kept, so
tests of missing or broken models still see the failure. Hubs started as subprocesses
(``HubProcess``) load their own."""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any


def _shared(load: Callable[..., Any]) -> Callable[..., Any]:
    loaded: dict[Any, Any] = {}
    lock = threading.Lock()

    @functools.wraps(load)
    def shared_load(*args: Any, **kwargs: Any) -> Any:
        key = (tuple(str(a) for a in args), tuple(sorted((k, str(v)) for k, v in kwargs.items())))
        with lock:
            if key not in loaded:
                loaded[key] = load(*args, **kwargs)
            return loaded[key]

    shared_load.unshared = load  # type: ignore[attr-defined]
    return shared_load


def share_loaded_models() -> None:
    """Share the models of the speech engines already imported in this process (called before
    every test by tests/conftest.py: an engine imported by one test is shared from the next on,
    so a test run that never imports them pays nothing)."""
    vosk = sys.modules.get("vosk")
    if vosk is not None and not hasattr(vosk.Model, "unshared"):
        vosk.Model = _shared(vosk.Model)
    piper = sys.modules.get("piper")
    voice = getattr(piper, "PiperVoice", None)
    if voice is not None and not hasattr(voice.load, "unshared"):
        voice.load = staticmethod(_shared(voice.load))
