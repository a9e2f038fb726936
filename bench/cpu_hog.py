"""CPU hogs: busy processes that each take one core, to see what the node does when another
program on the machine wants the CPU too (``--hog`` of bench_node_latency.py and soak.py)."""

import os
import subprocess
import sys
from typing import List


def start_cpu_hogs(count: int) -> List[subprocess.Popen]:
    """``count`` busy-looping processes, each pinned to its own CPU of this process's affinity
    (the last ones), at normal priority: the node's threads meet them on those cores.

    :raises ValueError: more hogs than usable CPUs, or fewer than 0
    """
    cpus = sorted(os.sched_getaffinity(0))
    if not 0 <= count <= len(cpus):
        raise ValueError(f'--hog {count}: this process may run on {len(cpus)} CPU(s)')
    hogs = []
    for cpu in cpus[len(cpus) - count:]:
        hog = subprocess.Popen([sys.executable, '-c', 'while True: pass'],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        os.sched_setaffinity(hog.pid, {cpu})
        hogs.append(hog)
    return hogs


def stop_cpu_hogs(hogs: List[subprocess.Popen]) -> None:
    """Kill the hogs and reap them."""
    for hog in hogs:
        hog.kill()
    for hog in hogs:
        hog.wait()
