"""Linux /proc readers of the bench: this process's peak and current resident size, free memory, the CPU clock.

Measures memory from ``/proc/self/status`` (``VmHWM``: the high-water mark, which writing ``5``
to ``/proc/self/clear_refs`` resets to the current size; ``VmRSS``), ``/proc/meminfo``
(``MemTotal``, ``MemAvailable``) and the clock from ``cpu MHz`` of ``/proc/cpuinfo``. Where a
file or field is missing the readers return None (the peak: ``ru_maxrss`` instead).
"""

from __future__ import annotations

import resource
import sys

from rnncomp.tools.bench.util import _round


def _proc_field(path: str, name: str) -> str | None:
    """The value of the ``name: value`` line of a /proc file (None where there is none)."""
    try:
        with open(path) as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == name:
                    return value.strip()
    except OSError:
        return None
    return None


def _proc_mb(path: str, name: str) -> float | None:
    """A ``NNN kB`` field of a /proc file in MiB."""
    value = _proc_field(path, name)
    return None if value is None else int(value.split()[0]) / 1024.0


def _peak_rss_mb() -> float:
    """This process's peak resident set size (MiB).

    Linux: ``VmHWM`` of /proc/self/status, the high-water mark that ``clear_refs``
    resets (``ru_maxrss`` is not reset by it: it also keeps the peaks of exited
    threads). Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    hwm = _proc_mb("/proc/self/status", "VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _rss_mb() -> float | None:
    """This process's current resident set size (MiB), where /proc tells it."""
    return _proc_mb("/proc/self/status", "VmRSS")


def _reset_peak_rss() -> bool:
    """Resets this process's peak RSS to its current RSS (Linux ``clear_refs``); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _meminfo_mb(field: str) -> float | None:
    """A field of /proc/meminfo in MiB (None where there is none)."""
    return _round(_proc_mb("/proc/meminfo", field), 0)


def _mem_available_mb() -> float | None:
    return _meminfo_mb("MemAvailable")


def _cpuinfo_mhz() -> str | None:
    return _proc_field("/proc/cpuinfo", "cpu MHz")
