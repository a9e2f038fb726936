"""The installed node at 60 Hz while another program takes one of the cores (a CPU hog pinned
to it, bench/cpu_hog.py): it keeps answering, each answer of the newest frame waiting, no
backlog builds up, and it does not exit. Through bench/bench_node_latency.py, which streams
from another process over DDS and checks the newest-frame rule (bench/latency_report.py)."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from crossinfonet_ros.backends.cache import CACHE_ENV

BENCH = ROOT / 'bench' / 'bench_node_latency.py'
SECONDS = 5
RATE_HZ = 60
# A node that queued frames instead of keeping the newest would, answering under half of them,
# fall behind by seconds over the stream; one that keeps the newest stays within a frame's work
# (this machine, fp32 on the core left: 92 of 300 answered, p50 63 ms, first -> last second
# 73 -> 66 ms).
MAX_BACKLOG_GROWTH_MS = 500.0

pytestmark = pytest.mark.slow


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2,
                    reason='a hog on the only usable core would leave the node none')
def test_a_cpu_hog_at_60_hz_leaves_the_newest_frame_processed_and_no_backlog(
        trained_weights, tmp_path, monkeypatch):
    # Trained weights: random ones fail the hand check, and every frame is detected afresh.
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / 'cache'))  # the node's ONNX export
    figures_path = tmp_path / 'figures.json'
    run = subprocess.run(
        [sys.executable, str(BENCH), '--weights', str(trained_weights), '--backend', 'onnxruntime',
         '--rate', str(RATE_HZ), '--seconds', str(SECONDS), '--hog', '1',
         '--transport', 'profile', '--json', str(figures_path)],
        capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr  # the node did not exit mid-stream
    assert '1 core(s) taken by CPU hogs' in run.stdout
    figures = json.loads(figures_path.read_text())
    print(run.stdout)  # the run's figures, shown when an assertion fails
    assert figures['cpu_hogs'] == 1 and figures['sent'] == SECONDS * RATE_HZ
    assert figures['answered'] >= SECONDS * 2, f'{figures["answered"]} answers: it stalled'
    assert figures['newest_checked'] >= figures['answered'] - 1
    assert figures['stale'] == 0, f'{figures["stale"]} answers of an older frame than the newest'
    growth = figures['last_second_p50_ms'] - figures['first_second_p50_ms']
    assert growth < MAX_BACKLOG_GROWTH_MS, \
        f'latency grew by {growth:.0f} ms over {SECONDS} s: a backlog ({run.stdout})'
