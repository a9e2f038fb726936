"""The node's latency goals, measured: one table of 60 and 90 Hz runs over DDS with the Fast
DDS profile, each beside the goals, and the per-stage budget of each run's median frame.

Run after ``source scripts/env.sh`` (``make bench`` runs it)::

    python bench/bench_latency_table.py [--seconds 10] [--real-frames DIR] [--device D]
        [--only LABEL ...]

Each run is ``bench_node_latency.py --transport profile`` in a fresh process (the node with
config/hand.yaml, its default parameters): 60 Hz 640x480 and 848x480 rendered hands, 60 Hz
real SR305 frames (``--real-frames``; the row is skipped, saying so, when the folder is not
there) and 90 Hz 640x480. ``--device`` is passed to every run (the node's ``device``
parameter); rows of their own for another device go into :data:`RUNS`.
"""

import argparse
import json
from pathlib import Path
import subprocess
import sys
import tempfile
import time
from typing import List, Optional, Sequence

from latency_report import BUDGET
from stream_publisher import ROOT

sys.path.insert(0, str(ROOT))

from training.cli import OneLineParser  # noqa: E402

HERE = Path(__file__).resolve().parent
# The SR305 recording (../shared/real/README.md): 0.125 mm units, its own intrinsics.
SR305_FRAMES = ROOT.parent / 'shared' / 'real' / 'sr305' / '20210326-230536'
SR305 = ('--depth-scale', '0.000125', '--intrinsics', '476.007,476.007,313.683,242.755')
# Label, bench_node_latency.py arguments ('{real}': the --real-frames folder).
RUNS = (
    ('60 Hz 640x480', ('--rate', '60')),
    ('60 Hz 848x480', ('--rate', '60', '--resolution', '848x480')),
    ('60 Hz SR305 real', ('--rate', '60', '--frames', '{real}') + SR305),
    ('90 Hz 640x480', ('--rate', '90')),
)
# The goals of issue #19, publish -> HandPose at 60 Hz; at 90 Hz the newest frame is taken.
GOAL_ANSWERED, GOAL_P50_MS, GOAL_P99_MS = 0.995, 12.0, 25.0


def parse_args(argv=None) -> argparse.Namespace:
    parser = OneLineParser(prog='bench_latency_table.py', description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=10.0, help='each run, s')
    parser.add_argument('--real-frames', type=Path, default=SR305_FRAMES,
                        help=f'the SR305 folder (default {SR305_FRAMES})')
    parser.add_argument('--device', help="the node's device for every run (default: "
                                         "config/hand.yaml's)")
    parser.add_argument('--only', nargs='+', metavar='LABEL',
                        help='run only these rows (labels as in the table)')
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - {label for label, _ in RUNS}
    if unknown:
        parser.error(f'--only: no run {sorted(unknown)[0]!r}; runs: '
                     + ', '.join(label for label, _ in RUNS))
    return args


def run(label: str, arguments: Sequence[str], args: argparse.Namespace,
        out: Path) -> Optional[dict]:
    """One bench_node_latency.py run; its figures, or None when it failed (said on stdout)."""
    command = [sys.executable, str(HERE / 'bench_node_latency.py'), '--transport', 'profile',
               '--seconds', str(args.seconds), '--json', str(out),
               *(a.replace('{real}', str(args.real_frames)) for a in arguments)]
    if args.device:
        command += ['--device', args.device]
    print(f'== {label}: {" ".join(command[2:])}', flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # The node's own log lines are noise here; the run's report is what it printed last.
    print('\n'.join(line for line in done.stdout.splitlines() if not line.startswith('[')))
    if done.returncode or not out.is_file():
        print(f'{label}: failed (exit {done.returncode})')
        return None
    return json.loads(out.read_text())


def mark(ok: bool) -> str:
    return 'ok' if ok else 'MISS'


def result_row(label: str, f: dict) -> str:
    """One run beside the goals (60 Hz: all three; 90 Hz: the newest frame taken)."""
    share = f['answered'] / max(f['sent'], 1)
    newest = f'{f["newest_checked"] - f["stale"]}/{f["newest_checked"]}'
    backlog = f'{f["first_second_p50_ms"]:.1f} -> {f["last_second_p50_ms"]:.1f}'
    if f['rate_hz'] <= 60:
        verdict = ', '.join((f'answered {mark(share >= GOAL_ANSWERED)}',
                             f'p50 {mark(f["p50_ms"] <= GOAL_P50_MS)}',
                             f'p99 {mark(f["p99_ms"] <= GOAL_P99_MS)}'))
    else:
        verdict = f'newest {mark(f["stale"] == 0)}'
    return (f'| {label} | {f["answered"]}/{f["sent"]} ({share:.1%}) | {f["p50_ms"]:.1f} | '
            f'{f["p99_ms"]:.1f} | {backlog} | {newest} | {verdict} |')


def budget_row(label: str, f: dict) -> str:
    parts = f['budget_ms']
    cells = ['-' if parts.get(name) is None else f'{parts[name]:.2f}'
             for name in BUDGET + ('sum',)]
    return f'| {label} | ' + ' | '.join(cells) + f' | {f["p50_ms"]:.1f} |'


def tables(results: List[tuple]) -> List[str]:
    """The two markdown tables: the runs beside the goals, then their budgets."""
    lines = [f'goals at 60 Hz: answered >= {GOAL_ANSWERED:.1%}, p50 <= {GOAL_P50_MS:g} ms, '
             f'p99 <= {GOAL_P99_MS:g} ms publish -> HandPose; at 90 Hz: the newest frame taken',
             '',
             '| run | answered | p50 ms | p99 ms | backlog: p50 first -> last second, ms | '
             'newest frame taken | goals |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    lines += [result_row(label, f) for label, f in results]
    lines += ['', 'budget of the median frame, ms (medians: their sum is near, not equal to, '
              'the p50 latency)', '',
              '| run | ' + ' | '.join(BUDGET + ('sum',)) + ' | p50 latency |',
              '| --- |' + ' --- |' * (len(BUDGET) + 2)]
    lines += [budget_row(label, f) for label, f in results]
    return lines


def main() -> int:
    args = parse_args()
    started = time.monotonic()
    results, failed = [], []
    with tempfile.TemporaryDirectory() as temp:
        for number, (label, arguments) in enumerate(RUNS):
            if args.only and label not in args.only:
                continue
            if '{real}' in arguments and not args.real_frames.is_dir():
                print(f'== {label}: skipped, no folder {args.real_frames} (--real-frames DIR)')
                continue
            figures = run(label, arguments, args, Path(temp) / f'{number}.json')
            if figures is None:
                failed.append(label)
            else:
                results.append((label, figures))
    print(f'\n== node latency over DDS, config/fastdds_profile.xml, {args.seconds:g} s a run '
          f'({time.monotonic() - started:.0f} s in all)')
    print('\n'.join(tables(results)))
    if failed:
        print(f'failed: {", ".join(failed)}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
