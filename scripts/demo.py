"""The main job: play a depth stream into hand_pose_node and report what came out.

Separate processes over real DDS, as a user would run them: this script plays a rosbag2 of
depth frames in real time and records the node's outputs like any downstream subscriber; the
node is the installed executable. With no ``--bag`` the stream is a synthetic one (moving hands
with ground truth), rendered on first run into ``<out>/input_bag``.

    make demo                                   # synthetic stream, with error figures
    make demo HANDS=2                           # both hands: a two-hand stream, per side
    make demo BAG=path/to/bag DEPTH_TOPIC=/camera/depth/image_rect_raw \\
              INFO_TOPIC=/camera/depth/camera_info
    python scripts/demo.py --live --depth-topic ... --info-topic ...   # node only, your camera

Outputs in ``--out`` (default out/demo): ``report.json``, ``contact_sheet.png``,
``hand_3d.png``, ``outputs_bag/`` (HandPose, HandPoseArray, /tf and markers as received) and
``node.log``.
"""

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo_input import (SYNTH_FRAMES, DemoError, InputBag, Stamp,  # noqa: E402
                        spread, synthetic_bag)

DEFAULT_OUT = ROOT / 'out' / 'demo'
STILLS = 12  # contact-sheet frames, spread over the stream
STOP_TIMEOUT_S = 10.0  # a node that ignores SIGINT this long is killed


class OneLineParser(argparse.ArgumentParser):
    """Argument errors as one line, exit status 2."""

    def error(self, message: str):
        self.exit(2, f'demo: error: {message}\n')


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f'expected a positive integer, got {text!r}')
    return value


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (``make demo`` passes BAG, DEPTH_TOPIC and INFO_TOPIC through)."""
    parser = OneLineParser(prog='demo.py', description=__doc__.splitlines()[0])
    parser.add_argument('--bag', type=Path, help='rosbag2 folder (or .mcap/.db3 file) to play')
    parser.add_argument('--depth-topic', default=None,
                        help='depth image topic (default: the bag\'s only Image topic)')
    parser.add_argument('--info-topic', default=None,
                        help='camera info topic (default: the bag\'s only CameraInfo topic)')
    parser.add_argument('--frames', type=positive_int, default=None,
                        help='play only the first N depth frames (default: all)')
    parser.add_argument('--lockstep', action='store_true',
                        help='send each frame once the previous one is answered instead of in '
                             'real time (every frame measured on a machine too busy for 30 Hz)')
    parser.add_argument('--hands', type=int, choices=(1, 2), default=1,
                        help='hands per frame: 2 starts the node with max_hands:=2 and (without '
                             '--bag) plays a two-hand stream; the report gains per-side figures')
    parser.add_argument('--out', type=Path, default=DEFAULT_OUT, help='output folder')
    parser.add_argument('--weights', type=Path, default=None,
                        help='weights file (default: the shipped one)')
    parser.add_argument('--live', action='store_true',
                        help='only run the node on --depth-topic/--info-topic until Ctrl-C')
    args = parser.parse_args(argv)
    if args.live and not (args.depth_topic and args.info_topic):
        parser.error('--live needs --depth-topic and --info-topic')
    if args.live and args.bag:
        parser.error('--live runs on live topics; it takes no --bag')
    if args.weights is not None and not args.weights.is_file():
        parser.error(f'no weights file at {args.weights}')
    return args


def weights_path(args: argparse.Namespace) -> Optional[Path]:
    """The weights file the node loads: --weights, else the shipped one (as the node finds it)."""
    if args.weights:
        return args.weights.resolve()
    import crossinfonet_ros
    from crossinfonet_ros.node.params import find_shipped_weights
    return find_shipped_weights(crossinfonet_ros.__path__)


def start_node(args: argparse.Namespace, depth_topic: str, info_topic: str,
               log_path: Optional[Path]) -> subprocess.Popen:
    """Start the installed hand_pose_node on the given topics.

    :param args: the command line (weights)
    :param depth_topic: remap target of ``depth/image``
    :param info_topic: remap target of ``depth/camera_info``
    :param log_path: file for the node's output, None to share this terminal
    """
    executable = (Path(os.environ['CROSSINFONET_INSTALL']) / 'crossinfonet_ros' / 'lib'
                  / 'crossinfonet_ros' / 'hand_pose_node')
    command = [str(executable), '--ros-args', '--params-file', str(ROOT / 'config' / 'hand.yaml'),
               '-r', f'depth/image:={depth_topic}', '-r', f'depth/camera_info:={info_topic}']
    if args.weights:
        command += ['-p', f'weights:={args.weights.resolve()}']
    if args.hands != 1:
        command += ['-p', f'max_hands:={args.hands}']
    if log_path is None:
        return subprocess.Popen(command)
    with open(log_path, 'w') as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def stop_node(process: subprocess.Popen, grace_s: float = 0.0) -> int:
    """Stop the node like Ctrl-C does (SIGINT), killing it if it does not stop in time.

    :param process: the node
    :param grace_s: first wait this long for it to stop by itself (a terminal's Ctrl-C already
        reached it)
    :returns: its exit code
    """
    try:
        return process.wait(timeout=grace_s) if grace_s else process.wait(timeout=0.01)
    except subprocess.TimeoutExpired:
        pass
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def run_live(args: argparse.Namespace) -> int:
    """Run the node on the user's topics until Ctrl-C (or SIGTERM); 0 on a clean stop."""
    node = start_node(args, args.depth_topic, args.info_topic, None)
    print(f'[demo] hand_pose_node runs on {args.depth_topic} and {args.info_topic}, publishing '
          f'/hand_pose, /tf and /hand_markers; Ctrl-C stops it', flush=True)
    # Ctrl-C and SIGTERM stop it, also when started from a background job (a non-interactive
    # shell starts those with SIGINT ignored, and Python keeps an inherited SIG_IGN).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        code = node.wait()
        print(f'demo: error: hand_pose_node exited with code {code}', file=sys.stderr)
        return code or 1
    except KeyboardInterrupt:
        code = stop_node(node, grace_s=2.0)
    print(f'[demo] hand_pose_node stopped (exit code {code})', flush=True)
    return 0 if code in (0, -signal.SIGINT) else code


def _one_hand_tiles(bag: InputBag, playback, results: Dict[Stamp, object]) -> list:
    """Contact-sheet tiles of the stills from the node's HandPose answers."""
    from demo_figures import SheetFrame, layout_edges
    from demo_report import TRUTH_LAYOUT
    truth_edges = layout_edges(TRUTH_LAYOUT)
    frames = []
    for index, stamp in enumerate(playback.stamps):
        still = playback.stills.get(stamp)
        if still is None:
            continue
        result = results.get(stamp)
        truth = playback.truth.get(stamp)
        truth_mm = 1000.0 * bag.decode_truth(truth) if truth is not None else None
        predicted = result.predicted_mm if result is not None else None
        cube = result.cube_mm if result is not None and result.detected else 250.0
        center = result.center_mm if result is not None and result.detected else None
        if center is None and truth_mm is not None:
            center = truth_mm.mean(axis=0)
        error = result.error_mm if result is not None else None
        label = (f'#{index}  ' + ('no answer' if result is None else 'no hand'
                                  if not result.detected else
                                  f'{error.mean():.0f} mm' if error is not None else 'hand'))
        frames.append(SheetFrame(index, bag.decode_depth(still.depth),
                                 bag.decode_info(still.info), predicted,
                                 layout_edges(result.layout) if result else (), truth_mm,
                                 truth_edges, center, cube, label))
    return frames


def _two_hand_tiles(bag: InputBag, playback, hands: Dict[Stamp, list]) -> list:
    """Contact-sheet tiles of the stills from the node's HandPoseArray answers."""
    from demo_two_hands import sheet_frame
    frames = []
    for index, stamp in enumerate(playback.stamps):
        still = playback.stills.get(stamp)
        if still is None:
            continue
        truth = playback.truth.get(stamp)
        frames.append(sheet_frame(index, bag.decode_depth(still.depth),
                                  bag.decode_info(still.info), hands.get(stamp),
                                  1000.0 * bag.decode_truth(truth) if truth is not None
                                  else None))
    return frames


def _sheet_and_plot(args, frames: list, has_truth: bool) -> Dict[str, str]:
    """Write the contact sheet of ``frames`` and the 3D plot of a typical one; returns their
    paths by name."""
    from demo_figures import contact_sheet, hand_3d_plot
    what = 'mean joint error' if args.hands == 1 else 'each side\'s mean joint error'
    title = (f'hand_pose_node on {len(frames)} frames of the stream; per tile: #frame, {what}'
             if has_truth else
             f'hand_pose_node on {len(frames)} frames of the bag; per tile: #frame (no '
             'ground truth in this bag)')
    outputs = {}
    sheet = args.out / 'contact_sheet.png'
    contact_sheet(sheet, frames, title)
    outputs['contact_sheet'] = str(sheet)
    # The 3D plot shows a typical frame: the median-error one, else the middle detection.
    detected = [frame for frame in frames if frame.predicted_mm is not None]
    if detected:
        def error(frame):
            # Same bones: the prediction is in the truth's joint layout and can be scored.
            if frame.truth_mm is None or tuple(frame.predicted_edges) != tuple(
                    frame.truth_edges) or frame.truth_mm.shape != frame.predicted_mm.shape:
                return None
            return float(np.linalg.norm(frame.predicted_mm - frame.truth_mm, axis=1).mean())
        scored = [frame for frame in detected if error(frame) is not None]
        pick = (sorted(scored, key=error)[len(scored) // 2] if scored
                else detected[len(detected) // 2])
        title = f'frame #{pick.index}' + (f', mean joint error {error(pick):.1f} mm'
                                          if error(pick) is not None else '')
        plot = args.out / 'hand_3d.png'
        hand_3d_plot(plot, pick.predicted_mm, pick.predicted_edges,
                     pick.truth_mm if error(pick) is not None else None, pick.truth_edges,
                     title)
        outputs['hand_3d'] = str(plot)
    return outputs


def run_demo(args: argparse.Namespace) -> int:
    """Play the bag into the node, record, report; 0 when the node answered frames."""
    from demo_play import WARMUP_S, PlayerRecorder, latencies_ms
    from demo_record import HANDPOSE_ARRAY_TYPE, hand_poses, write_output_bag
    from demo_report import compute_figures, frame_result, print_report, write_report
    bag_path = args.bag if args.bag is not None else synthetic_bag(
        args.out, max(args.frames or SYNTH_FRAMES, 1), args.hands)
    with InputBag(bag_path) as bag:
        topics = bag.select_topics(args.depth_topic, args.info_topic,
                                   _truth_topic())
        frames = min(args.frames or topics.frames, topics.frames)
        log_path = args.out / 'node.log'
        node = start_node(args, topics.depth, topics.info, log_path)
        try:
            with PlayerRecorder(topics) as session:
                session.wait_for_node(node, log_path)
                first_info = bag.first_raw(topics.info)
                print(f'[demo] warming the node up on the first frame until it answers, then '
                      f'{WARMUP_S:g} s (not counted)', flush=True)
                warmup = session.warm_up(bag.first_raw(topics.depth), first_info)
                print(f'[demo] playing {frames} frames of {bag.path} ({topics.depth}) '
                      f'{pace(args)}', flush=True)
                playback = session.play(bag.messages(topics, frames),
                                        set(spread(frames, STILLS)), node, first_info,
                                        args.lockstep)
                messages, foreign = session.recorder.answering(set(playback.stamps))
                poses = hand_poses(messages['/hand_pose'])
        finally:
            stop_node(node)
        has_truth = topics.truth is not None and bool(playback.truth)
        results = {}
        for _, pose in poses:
            stamp = (pose.header.stamp.sec, pose.header.stamp.nanosec)
            truth = playback.truth.get(stamp)
            results[stamp] = frame_result(pose, bag.decode_truth(truth)
                                          if truth is not None else None)
        figures = compute_figures(playback.stamps, results, latencies_ms(playback, poses),
                                  has_truth)
        if args.hands == 1:
            tiles = _one_hand_tiles(bag, playback, results)
        else:
            from demo_two_hands import array_hands, two_hand_figures
            arrays = hand_poses(messages['/hands'], HANDPOSE_ARRAY_TYPE)
            hands = {(a.header.stamp.sec, a.header.stamp.nanosec): array_hands(a)
                     for _, a in arrays}
            truth_mm = {stamp: 1000.0 * bag.decode_truth(raw)
                        for stamp, raw in playback.truth.items()}
            figures.update(two_hand_figures(playback.stamps, hands, truth_mm,
                                            latencies_ms(playback, arrays)))
            tiles = _two_hand_tiles(bag, playback, hands)
        outputs_bag = args.out / 'outputs_bag'
        write_output_bag(outputs_bag, messages)
        outputs = {'report': str(args.out / 'report.json'), 'outputs_bag': str(outputs_bag)}
        outputs.update(_sheet_and_plot(args, tiles, has_truth))
    outputs['node_log'] = str(log_path)
    weights = weights_path(args)
    report = dict(figures)
    report.update({
        'hands': args.hands,
        'warmup_answers_not_counted': warmup,
        'pace': pace(args),
        'tf_messages': len(messages['/tf']),
        'marker_arrays': len(messages['/hand_markers']),
        'foreign_messages_ignored': foreign,
        'node_cpu_percent_of_one_core': playback.node_cpu_percent,
        'stream_seconds': playback.stream_s,
        'weights': str(weights) if weights else None,
        'bag': str(bag.path),
        'depth_topic': topics.depth,
        'info_topic': topics.info,
        'ground_truth_topic': topics.truth,
        'outputs': outputs,
    })
    write_report(args.out / 'report.json', report)
    print_report(report)
    if not figures['frames_answered']:
        print(f'demo: error: hand_pose_node answered none of the {figures["frames_in"]} frames '
              f'(log: {log_path})', file=sys.stderr)
        return 1
    return 0


def pace(args: argparse.Namespace) -> str:
    """How the frames are sent, in words."""
    return 'in lockstep with the answers' if args.lockstep else 'in real time'


def _truth_topic() -> str:
    from training.synth.writers import JOINTS_TOPIC
    return JOINTS_TOPIC


def main(argv=None) -> int:
    """Run the demo (or the live node); one line on stderr and a non-zero code on failure."""
    args = parse_args(argv)
    # Frames cross processes: load the shipped transport profile unless the user chose one.
    for variable in ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE'):
        os.environ.setdefault(variable, str(ROOT / 'config' / 'fastdds_profile.xml'))
    if 'CROSSINFONET_INSTALL' not in os.environ:
        print('demo: error: the ROS environment is not loaded: run `source scripts/env.sh` '
              'first (or use `make demo`)', file=sys.stderr)
        return 1
    try:
        if args.live:
            return run_live(args)
        args.out.mkdir(parents=True, exist_ok=True)
        return run_demo(args)
    except DemoError as error:
        print(f'demo: error: {error}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('demo: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
