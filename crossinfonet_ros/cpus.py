"""What this process may compute on: its cores and the CPU's int8 instructions (ROS-free, no
heavy imports)."""

import os
from pathlib import Path
from typing import FrozenSet, Iterable, Optional

# Where the CPU flags are read (a file in /proc/cpuinfo's format); the environment variable
# points elsewhere, e.g. a saved cpuinfo of another host, to see which backends 'auto' offers.
CPUINFO = '/proc/cpuinfo'
CPUINFO_ENV = 'CROSSINFONET_ROS_CPUINFO'
# Instructions that multiply-accumulate int8 pairs into int32 without an int16 intermediate:
# x86 AVX-512 VNNI / AVX-VNNI (vpdpbusd), Arm dot product / int8 matrix multiply. Without them
# ONNX Runtime's x86 u8 x s8 kernels go through vpmaddubsw, whose int16 sums saturate.
INT8_DOT_FLAGS = frozenset({'avx512_vnni', 'avx_vnni', 'asimddp', 'i8mm'})


def usable_cores() -> int:
    """Physical cores among the CPUs this process may run on (``os.sched_getaffinity``: a
    container's or ``taskset``'s limit, not the host's count); hyper-threads are not counted
    because they add no conv throughput."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or usable
    except ImportError:
        physical = usable
    return max(1, min(usable, physical))


def cpu_flags(path: Optional[str] = None) -> FrozenSet[str]:
    """The feature flags of the first CPU listed in a cpuinfo file (x86 ``flags``, Arm
    ``Features``); empty when the file cannot be read (not Linux).

    :param path: cpuinfo file; default ``$CROSSINFONET_ROS_CPUINFO``, else ``/proc/cpuinfo``
    """
    path = path or os.environ.get(CPUINFO_ENV) or CPUINFO
    try:
        text = Path(path).read_text(errors='replace')
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(':')
        if key.strip() in ('flags', 'Features'):
            return frozenset(value.split())
    return frozenset()


def has_int8_dot_product(flags: Optional[Iterable[str]] = None) -> bool:
    """True when the CPU has int8 dot-product instructions (:data:`INT8_DOT_FLAGS`).

    :param flags: CPU flags; default :func:`cpu_flags`
    """
    return not INT8_DOT_FLAGS.isdisjoint(cpu_flags() if flags is None else flags)
