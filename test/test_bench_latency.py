"""The node-latency benchmark's command line, its frame sources and the figures it derives
(bench/bench_node_latency.py, bench/latency_report.py, bench/stream_publisher.py) and its CPU
hogs (bench/cpu_hog.py). The benchmark itself runs under ``make bench``; nothing here is
timed."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from bench.cpu_hog import start_cpu_hogs, stop_cpu_hogs
from bench.latency_report import BUDGET, Answer, backlog, budget, stale_answers, summary
from bench.stream_publisher import camera_at, png_frames

from conftest import ROOT

BENCH = ROOT / 'bench' / 'bench_node_latency.py'
TABLE = ROOT / 'bench' / 'bench_latency_table.py'
MS = 10**6  # ns


def _run(script, *args):
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize('args, message', [
    (('--resolution', '640by480'), 'argument --resolution: expected WxH'),
    (('--resolution', '8x480'), 'argument --resolution: expected WxH with sides in 16..'),
    (('--intrinsics', '476,476,313'), 'argument --intrinsics: expected fx,fy,cx,cy'),
    (('--intrinsics', '0,476,313,242'), 'focal lengths >= 1 pixel'),
    (('--intrinsics', '476,476,313,242'), '--intrinsics describes the camera of --frames'),
    (('--frames', '{tmp}'), '--frames needs --intrinsics'),
    (('--frames', '{tmp}/none', '--intrinsics', '1,1,1,1'), 'no such file or folder'),
    (('--frames', '{tmp}', '--intrinsics', '1,1,1,1'), 'no .png file in'),
    (('--frames', '{tmp}', '--intrinsics', '1,1,1,1', '--resolution', '848x480'),
     '--resolution is for rendered frames'),
    (('--depth-scale', '-1'), 'argument --depth-scale: expected a number > 0'),
    (('--hands', '3'), 'argument --hands: invalid choice'),
    (('--hands', '2', '--resolution', '848x480'), '--hands 2 streams its own 640x480 renders'),
    (('--hog', '4096'), '--hog 4096: this process may run on'),
    (('--hog', '-1'), '--hog -1: this process may run on'),
])
def test_bad_arguments_exit_with_one_line(tmp_path, args, message):
    done = _run(BENCH, '--transport', 'profile',
                *(a.replace('{tmp}', str(tmp_path)) for a in args))
    assert done.returncode == 2 and done.stdout == ''
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('bench_node_latency.py: error: '), lines
    assert message in lines[0]


def test_a_cpu_hog_is_pinned_to_the_last_usable_core_and_reaped():
    cpus = sorted(os.sched_getaffinity(0))
    hogs = start_cpu_hogs(1)
    try:
        assert len(hogs) == 1 and hogs[0].poll() is None
        assert os.sched_getaffinity(hogs[0].pid) == {cpus[-1]}
    finally:
        stop_cpu_hogs(hogs)
    assert hogs[0].returncode is not None
    assert start_cpu_hogs(0) == []
    with pytest.raises(ValueError, match=f'may run on {len(cpus)} CPU'):
        start_cpu_hogs(len(cpus) + 1)


def test_the_table_names_its_runs_when_asked_for_an_unknown_one():
    done = _run(TABLE, '--only', '50 Hz')
    assert done.returncode == 2
    assert done.stderr.strip() == ("bench_latency_table.py: error: --only: no run '50 Hz'; "
                                   'runs: 60 Hz 640x480, 60 Hz 848x480, 60 Hz SR305 real, '
                                   '90 Hz 640x480')


def test_another_resolution_keeps_the_focal_length_and_centres_the_principal_point():
    wide = camera_at(848, 480)
    base = camera_at(640, 480)
    assert (wide.width, wide.height, wide.fx, wide.fy) == (848, 480, base.fx, base.fy)
    assert (wide.cx - base.cx, wide.cy) == (104.0, base.cy)


def test_png_frames_are_sent_in_millimetres_with_the_first_image_size(tmp_path):
    raw = np.zeros((48, 64), np.uint16)
    raw[10:20, 30:40] = 4000  # 0.125 mm units: 500 mm
    cv2.imwrite(str(tmp_path / 'a.png'), raw)
    frame, = png_frames([tmp_path / 'a.png'], 0.000125, (50.0, 50.0, 31.5, 23.5))
    assert frame.image['encoding'] == '16UC1' and frame.joints_mm is None
    depth = np.frombuffer(frame.image['data'], np.uint16).reshape(48, 64)
    assert depth.max() == 500 and depth[0, 0] == 0
    assert (frame.intrinsics.width, frame.intrinsics.height, frame.intrinsics.cx) == (64, 48, 31.5)
    cv2.imwrite(str(tmp_path / 'b.png'), np.zeros((40, 64), np.uint16))
    with pytest.raises(ValueError, match='image is 64x40 but the camera is 64x48'):
        png_frames([tmp_path / 'a.png', tmp_path / 'b.png'], 0.000125, (50, 50, 31.5, 23.5))
    cv2.imwrite(str(tmp_path / 'c.png'), np.zeros((48, 64), np.uint8))
    with pytest.raises(ValueError, match='expected a 16-bit single-channel depth PNG'):
        png_frames([tmp_path / 'c.png'], 0.001, (50, 50, 31.5, 23.5))


def _answer(index, published_ms, latency_ms, processing_ms=None):
    """An answer; by default 2 ms of it in transport (both legs)."""
    processing_ms = latency_ms - 2.0 if processing_ms is None else processing_ms
    return Answer(index, published_ms * MS, int((published_ms + latency_ms) * MS),
                  processing_ms, True)


def test_an_answer_of_an_older_frame_than_the_one_waiting_is_stale():
    period = 11.0  # 90 Hz
    published = [int(i * period * MS) for i in range(8)]
    # Frame 0 answered at 30 ms: frames 1 and 2 were published well before, so 2 is the one
    # the node should take next; answering 1 is stale, 2 (the newest) is not.
    newest = [_answer(0, 0, 30), _answer(2, 22, 18), _answer(4, 44, 20)]
    assert stale_answers(published, newest) == (2, 0)
    older = [_answer(0, 0, 30), _answer(1, 11, 35), _answer(4, 44, 20)]
    assert stale_answers(published, older) == (2, 1)
    # Answers out of order: the second one is of an older frame than the first.
    assert stale_answers(published, [_answer(3, 33, 5), _answer(2, 22, 20)]) == (1, 1)


def test_backlog_compares_the_first_and_last_second():
    answers = [_answer(i, i * 100, 10 + i) for i in range(30)]  # 10 Hz, 3 s, growing
    first, last = backlog(answers, 0, 3.0)
    assert first == pytest.approx(14.5) and last == pytest.approx(34.5)


def test_the_budget_names_the_stages_and_derives_the_rest():
    answers = [_answer(i, i * 16, latency, processing_ms=9.0)
               for i, latency in enumerate((11.0, 12.0, 13.0))]
    node = {'input_age_p50_ms': '1.5', 'queue_p50_ms': '0.5', 'convert_p50_ms': '0.1',
            'segment_p50_ms': '2.0', 'crop_p50_ms': '0.4', 'network_p50_ms': '5.0',
            'decode_p50_ms': '0.3'}
    parts = budget(answers, node)
    assert list(parts) == list(BUDGET) + ['sum']
    assert parts['transport'] == 1.5 and parts['network'] == 5.0
    assert parts['other'] == pytest.approx(9.0 - 8.3)  # processing less the named stages
    assert parts['publish+back'] == pytest.approx(12.0 - 9.0 - 1.5)  # both legs less the first
    assert parts['sum'] == pytest.approx(12.0)
    # A node that reports no age (stamps of another clock): transport unknown, not invented.
    unknown = budget(answers, {k: v for k, v in node.items() if k != 'input_age_p50_ms'})
    assert unknown['transport'] is None and unknown['publish+back'] is None


def test_summary_counts_what_was_sent_and_answered():
    published = [i * 16 * MS for i in range(10)]
    answers = [_answer(i, i * 16, 10.0) for i in range(0, 10, 2)]
    figures = summary(answers, published, 0.16, {})
    assert (figures['sent'], figures['answered'], figures['detected']) == (10, 5, 5)
    assert figures['p50_ms'] == pytest.approx(10.0)
    assert figures['budget_ms']['transport'] is None
