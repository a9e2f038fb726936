"""The main job: play a depth stream into hand_pose_node and report what came out.

Three processes over real DDS, as a user would run them: this script plays a rosbag2 of depth
frames in real time and records the node's outputs like any downstream subscriber; the node is
the installed executable. With no ``--bag`` the stream is a synthetic one (moving hands with
ground truth), written on first run to ``out/demo/input_bag``.

    make demo                                   # synthetic stream, with error figures
    make demo BAG=path/to/bag DEPTH_TOPIC=/camera/depth/image_rect_raw \
              INFO_TOPIC=/camera/depth/camera_info
    python scripts/demo.py --live --depth-topic ... --info-topic ...   # node only, your camera
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SYNTH_SEED = 7  # the demo stream's seed (not used by training or evaluation)
SYNTH_FRAMES = 300  # 10 s at 30 Hz
DEFAULT_OUT = ROOT / 'out' / 'demo'
GT_TOPIC = '/hand_ground_truth'


class OneLineParser(argparse.ArgumentParser):
    """Argument errors as one line, exit status 2."""

    def error(self, message: str):
        self.exit(2, f'demo: error: {message}\n')


def parse_args(argv=None) -> argparse.Namespace:
    parser = OneLineParser(prog='make demo', description=__doc__.splitlines()[0])
    parser.add_argument('--bag', type=Path, help='rosbag2 folder (or .mcap/.db3 file) to play')
    parser.add_argument('--depth-topic', default=None, help='depth image topic in the bag')
    parser.add_argument('--info-topic', default=None, help='camera info topic in the bag')
    parser.add_argument('--out', type=Path, default=DEFAULT_OUT, help='output folder')
    parser.add_argument('--weights', type=Path, default=None,
                        help='weights file (default: the shipped one)')
    parser.add_argument('--live', action='store_true',
                        help='only run the node on --depth-topic/--info-topic until Ctrl-C')
    args = parser.parse_args(argv)
    if args.bag is not None and not args.bag.exists():
        parser.error(f'no rosbag2 at {args.bag}')
    if args.live and not (args.depth_topic and args.info_topic):
        parser.error('--live needs --depth-topic and --info-topic')
    return args


def synthetic_bag(out: Path) -> Path:
    """The demo's synthetic stream as a rosbag2, rendered once and reused."""
    from training.synth.motion import stream_frames
    from training.synth.writers import write_rosbag2
    bag = out / 'input_bag'
    if (bag / 'metadata.yaml').exists():
        return bag
    print(f'[demo] rendering {SYNTH_FRAMES} synthetic frames into {bag} (first run only)')
    tmp = out / 'input_bag.partial'
    if tmp.exists():
        import shutil
        shutil.rmtree(tmp)
    start_ns = 1_700_000_000 * 10**9
    frames = ((start_ns + int(t * 1e9), sample)
              for t, sample in stream_frames(SYNTH_SEED, SYNTH_FRAMES, 30.0))
    write_rosbag2(tmp, frames)
    tmp.rename(bag)
    return bag


def read_bag(bag: Path, depth_topic: str, info_topic: str):
    """Messages of the bag in time order: (bag time ns, topic, raw CDR bytes or decoded GT)."""
    from rosbags.highlevel import AnyReader
    with AnyReader([bag]) as reader:
        topics = {c.topic: c for c in reader.connections}
        for name in (depth_topic, info_topic):
            if name not in topics:
                raise SystemExit(f'demo: error: topic {name} is not in {bag} '
                                 f'(it has: {", ".join(sorted(topics))})')
        wanted = [topics[t] for t in (depth_topic, info_topic, GT_TOPIC) if t in topics]
        messages = []
        for connection, stamp_ns, raw in reader.messages(connections=wanted):
            if connection.topic == GT_TOPIC:
                msg = reader.deserialize(raw, connection.msgtype)
                joints = np.array([[p.position.x, p.position.y, p.position.z]
                                   for p in msg.poses])
                key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
                messages.append((stamp_ns, GT_TOPIC, (key, joints)))
            else:
                messages.append((stamp_ns, connection.topic, bytes(raw)))
    messages.sort(key=lambda m: m[0])
    return messages


def start_node(args, depth_topic: str, info_topic: str, log_path: Path) -> subprocess.Popen:
    executable = (Path(os.environ['CROSSINFONET_INSTALL']) / 'crossinfonet_ros' / 'lib'
                  / 'crossinfonet_ros' / 'hand_pose_node')
    command = [str(executable), '--ros-args', '--params-file', str(ROOT / 'config' / 'hand.yaml'),
               '-r', f'depth/image:={depth_topic}', '-r', f'depth/camera_info:={info_topic}']
    if args.weights:
        command += ['-p', f'weights:={args.weights}']
    log = open(log_path, 'w')
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def percentile(values, q):
    return float(np.percentile(values, q)) if len(values) else float('nan')


def play_and_record(messages, depth_topic, info_topic, node_process, out: Path) -> dict:
    import psutil
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image
    from tf2_msgs.msg import TFMessage
    from visualization_msgs.msg import MarkerArray

    from crossinfonet_ros.msg import HandPose

    rclpy.init()
    node = rclpy.create_node('demo_player_recorder')
    depth_pub = node.create_publisher(Image, depth_topic, QoSProfile(
        depth=5, reliability=ReliabilityPolicy.RELIABLE))
    info_pub = node.create_publisher(CameraInfo, info_topic, 10)
    poses, tf_stamps, marker_count = {}, set(), [0]

    def on_pose(msg):
        poses[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = (time.monotonic(), msg)

    def on_tf(msg):
        for t in msg.transforms:
            tf_stamps.add((t.header.stamp.sec, t.header.stamp.nanosec))

    node.create_subscription(HandPose, 'hand_pose', on_pose, 50)
    node.create_subscription(TFMessage, '/tf', on_tf, 100)
    node.create_subscription(MarkerArray, 'hand_markers',
                             lambda m: marker_count.__setitem__(0, marker_count[0] + 1), 50)
    print('[demo] waiting for hand_pose_node to start ...')
    deadline = time.monotonic() + 120
    while depth_pub.get_subscription_count() == 0 or info_pub.get_subscription_count() == 0:
        if node_process.poll() is not None:
            raise SystemExit(f'demo: error: hand_pose_node exited with code '
                             f'{node_process.returncode} (log: {out / "node.log"})')
        if time.monotonic() > deadline:
            raise SystemExit('demo: error: hand_pose_node did not subscribe within 120 s')
        rclpy.spin_once(node, timeout_sec=0.1)
    time.sleep(1.0)  # let the node finish its start-up (model warm-up) before the stream

    process = psutil.Process(node_process.pid)
    process.cpu_percent(None)
    ground_truth, sent = {}, []  # sent: wall time of each depth frame, in bag order
    t0_bag, t0_wall = messages[0][0], time.monotonic()
    print(f'[demo] playing {sum(1 for m in messages if m[1] == depth_topic)} frames in real time')
    for stamp_ns, topic, payload in messages:
        due = t0_wall + (stamp_ns - t0_bag) / 1e9
        while True:
            left = due - time.monotonic()
            if left <= 0:
                break
            rclpy.spin_once(node, timeout_sec=min(left, 0.005))
        if topic == GT_TOPIC:
            key, joints = payload
            ground_truth[key] = joints
        elif topic == info_topic:
            info_pub.publish(payload)
        else:
            sent.append(time.monotonic())
            depth_pub.publish(payload)
    stream_s = time.monotonic() - t0_wall
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    cpu = process.cpu_percent(None)
    node.destroy_node()
    rclpy.shutdown()
    return {'poses': poses, 'tf_stamps': tf_stamps, 'markers': marker_count[0],
            'ground_truth': ground_truth, 'sent': sent, 'stream_s': stream_s,
            'cpu_percent': cpu}


def report(recorded: dict, messages, depth_topic: str) -> dict:
    """Frames in and answered, detection rate, error against ground truth, latency."""
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image
    frame_keys = []
    for _, topic, payload in messages:
        if topic == depth_topic:
            header = deserialize_message(payload, Image).header
            frame_keys.append((header.stamp.sec, header.stamp.nanosec))
    sent_times = dict(zip(frame_keys, recorded['sent']))
    poses = recorded['poses']
    answered = [k for k in frame_keys if k in poses]
    detected = [k for k in answered if poses[k][1].detected]
    latencies = [1000 * (poses[k][0] - sent_times[k]) for k in answered if k in sent_times]
    errors = []
    for k in detected:
        gt = recorded['ground_truth'].get(k)
        if gt is None:
            continue
        msg = poses[k][1]
        if msg.layout != 'hands2017' or len(msg.positions) != len(gt):
            continue
        predicted = np.array([[p.x, p.y, p.z] for p in msg.positions])
        errors.append(1000 * np.linalg.norm(predicted - gt, axis=1))
    figures = {
        'frames_in': len(frame_keys),
        'frames_answered': len(answered),
        'answered_percent': 100.0 * len(answered) / max(1, len(frame_keys)),
        'detection_percent': 100.0 * len(detected) / max(1, len(answered)),
        'tf_frames_stamped': len(recorded['tf_stamps']),
        'marker_arrays': recorded['markers'],
        'latency_ms_p50': percentile(latencies, 50),
        'latency_ms_p95': percentile(latencies, 95),
        'node_cpu_percent_of_one_core': recorded['cpu_percent'],
        'stream_seconds': recorded['stream_s'],
    }
    if errors:
        errors = np.stack(errors)
        figures['mean_joint_error_mm'] = float(errors.mean())
        figures['frames_with_max_error_under_40mm_percent'] = float(
            100.0 * (errors.max(axis=1) <= 40).mean())
    return figures


def main(argv=None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    # Frames cross processes: load the shipped transport profile unless the user chose one.
    for variable in ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE'):
        os.environ.setdefault(variable, str(ROOT / 'config' / 'fastdds_profile.xml'))
    if args.live:
        node = start_node(args, args.depth_topic, args.info_topic, args.out / 'node.log')
        print(f'[demo] hand_pose_node runs on {args.depth_topic}; Ctrl-C stops it')
        try:
            return node.wait()
        except KeyboardInterrupt:
            node.send_signal(signal.SIGINT)
            return node.wait(timeout=10)
    if args.bag is None:
        bag, depth_topic, info_topic = (synthetic_bag(args.out), '/camera/depth/image_raw',
                                        '/camera/depth/camera_info')
    else:
        bag = args.bag
        depth_topic = args.depth_topic or '/camera/depth/image_raw'
        info_topic = args.info_topic or '/camera/depth/camera_info'
    messages = read_bag(bag, depth_topic, info_topic)
    node = start_node(args, depth_topic, info_topic, args.out / 'node.log')
    try:
        recorded = play_and_record(messages, depth_topic, info_topic, node, args.out)
    finally:
        node.send_signal(signal.SIGINT)
        try:
            node.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node.kill()
    figures = report(recorded, messages, depth_topic)
    (args.out / 'report.json').write_text(json.dumps(figures, indent=2) + '\n')
    print('[demo] report (also in %s):' % (args.out / 'report.json'))
    for key, value in figures.items():
        print(f'  {key:45s} {value:.1f}' if isinstance(value, float) else
              f'  {key:45s} {value}')
    return 0 if figures['frames_answered'] > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
