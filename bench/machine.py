"""The machine description every results file starts with, so figures can be compared."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _twisted_version() -> str:
    try:
        import twisted

        return str(twisted.__version__)
    except ImportError:
        return "not installed"


def _os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def describe() -> dict[str, str]:
    """CPU, cores, memory, kernel, OS, Python, Twisted and the date, as strings."""
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count() or "unknown"),
        "memory": _memory_gib(),
        "kernel": platform.release(),
        "os": _os_release(),
        "python": sys.version.split()[0],
        "twisted": _twisted_version(),
    }
