"""Writing results: every file is written under a temporary name and renamed, so a result
is complete or absent, whatever kills the job. Shared by every script."""

from __future__ import annotations

import json
import logging
import os


def write_atomically(path: str, write) -> None:
    """``write(tmp)`` to a temporary name beside ``path``, then rename it to ``path``. The
    temporary name keeps the extension, so writers that choose the format by it (numpy,
    matplotlib) behave the same. The folder is created when missing (scripts run by hand)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    root, ext = os.path.splitext(path)
    tmp = f"{root}.tmp{ext}"
    write(tmp)
    os.replace(tmp, path)


def write_text(path: str, text: str) -> None:
    def dump(tmp):
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)

    write_atomically(path, dump)


def write_json(path: str, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_csv(frame, path: str) -> None:
    write_atomically(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_npz(path: str, arrays: dict) -> None:
    import numpy as np

    write_atomically(path, lambda tmp: np.savez(tmp, **arrays))


def cpu_model() -> str:
    """The CPU's model name (Linux), for the provenance of a timing."""
    import platform

    try:
        with open("/proc/cpuinfo") as handle:
            return next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")),
                        platform.processor() or platform.machine())
    except OSError:
        return platform.processor() or platform.machine()


def setup_logging(log_path: str | None = None) -> None:
    """Log to ``log_path`` (Snakemake's ``log:``) or to stderr."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        filename=log_path, force=True)
