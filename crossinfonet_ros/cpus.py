"""How many cores this process may compute on (ROS-free, no heavy imports)."""

import os


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
