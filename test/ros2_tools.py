"""The ROS 2 command-line and launch tools (``ros2``, launch, launch_ros) for the tests.

Test helper (not a test module). They have no PyPI wheel: with the project's wheels, the Jazzy
sources in ``../shared/ros2-python-tools`` are built once per distro (its ``build.sh``) into
``ws/ros2-tools-<distro>``; a sourced system ROS 2 install already has them; a user's clone
without ``../shared`` has neither, and the tests that need them skip, saying so.
"""

from dataclasses import dataclass
import importlib.util
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = ROOT.parent / 'shared' / 'ros2-python-tools' / 'build.sh'
# Variables a colcon overlay's local_setup.sh sets or extends.
OVERLAY_VARIABLES = ('PATH', 'PYTHONPATH', 'AMENT_PREFIX_PATH', 'CMAKE_PREFIX_PATH',
                     'COLCON_PREFIX_PATH', 'LD_LIBRARY_PATH')


class ToolsUnavailable(RuntimeError):
    """Neither a ROS 2 install with the tools nor ../shared to build them from."""


@dataclass(frozen=True)
class Ros2Tools:
    """Runs ``ros2`` commands in this process's environment plus the tools' overlay.

    :param overlay: the variables the overlay sets (empty when the tools are installed)
    """

    overlay: Dict[str, str]

    def env(self) -> Dict[str, str]:
        """This process's environment now (ROS domain, profiles) with the overlay on top."""
        return dict(os.environ, **self.overlay, PYTHONUNBUFFERED='1')

    def python_paths(self) -> List[str]:
        """The overlay's Python folders, for importing launch in the test process."""
        return [p for p in self.overlay.get('PYTHONPATH', '').split(os.pathsep)
                if p and p not in sys.path]

    def run(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``ros2 ARGS`` to the end; its standard output (warnings go to stderr).

        :raises AssertionError: it failed or ran past ``timeout`` s; the message holds the output
        """
        command = ' '.join(('ros2', *args))
        try:
            done = subprocess.run(['ros2', *args], env=self.env(), capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise AssertionError(f'{command} ran past {timeout:g} s: {error.stdout} '
                                 f'{error.stderr}') from None
        assert done.returncode == 0, \
            f'{command} exited {done.returncode}: {done.stdout} {done.stderr}'
        return done.stdout

    def start(self, *args: str, log: Path) -> subprocess.Popen:
        """``ros2 ARGS`` as a terminal's job: its own process group, output to ``log``."""
        with open(log, 'w') as out:
            return subprocess.Popen(['ros2', *args], env=self.env(), stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def wait_for_node(self, full_name: str, timeout: float = 60.0) -> None:
        """Until ``ros2 node list`` shows ``full_name`` (the CLI's own view of the graph).

        :raises AssertionError: not within ``timeout`` s
        """
        deadline = time.monotonic() + timeout
        while full_name not in self.run('node', 'list').split():
            assert time.monotonic() < deadline, f'ros2 node list never showed {full_name}'
            time.sleep(0.2)

    def stop_daemon(self) -> None:
        """End the daemon the CLI started for this session's ROS domain."""
        subprocess.run(['ros2', 'daemon', 'stop'], env=self.env(), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)


def installed() -> bool:
    """The tools are already importable and on PATH (a sourced system ROS 2, or an overlay)."""
    return shutil.which('ros2') is not None and all(
        importlib.util.find_spec(name) is not None for name in ('launch_ros', 'ros2cli'))


def prepare() -> Ros2Tools:
    """The tools, building the overlay for this distro first when needed (about 40 s, once).

    :raises ToolsUnavailable: no tools installed and no ../shared to build them from
    :raises RuntimeError: the build failed; the message holds its output
    """
    if installed():
        return Ros2Tools({})
    if not BUILD_SCRIPT.is_file():
        raise ToolsUnavailable(
            f'launch, launch_ros and ros2cli have no PyPI wheel and {BUILD_SCRIPT} is absent '
            '(a clone without ../shared): source a ROS 2 install that has them to run these')
    distro = os.environ.get('CROSSINFONET_DISTRO') or os.environ.get('ROS_DISTRO', 'jazzy')
    out = ROOT / 'ws' / f'ros2-tools-{distro}'
    built = subprocess.run(['bash', str(BUILD_SCRIPT), str(out)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    if built.returncode != 0:
        raise RuntimeError(f'{BUILD_SCRIPT} {out} failed:\n{built.stdout[-3000:]}')
    return Ros2Tools(overlay_variables(out / 'install'))


def overlay_variables(prefix: Path) -> Dict[str, str]:
    """What sourcing ``prefix/local_setup.sh`` changes in this environment."""
    dump = subprocess.run(
        ['bash', '-c', 'COLCON_CURRENT_PREFIX="$1" . "$1/local_setup.sh" && env -0', '_',
         str(prefix)], stdout=subprocess.PIPE, check=True).stdout.decode()
    after = dict(item.split('=', 1) for item in dump.split('\0') if '=' in item)
    return {name: after[name] for name in OVERLAY_VARIABLES
            if name in after and after[name] != os.environ.get(name)}


class Launch:
    """``ros2 launch crossinfonet_ros hand.launch.py ARGS`` run as a terminal runs it.

    :param tools: the tools (:func:`prepare`)
    :param log: file for launch's output (the node's included)
    """

    def __init__(self, tools: Ros2Tools, log: Path, *arguments: str) -> None:
        self.log = log
        self.process = tools.start('launch', 'crossinfonet_ros', 'hand.launch.py', *arguments,
                                   log=log)

    def output(self) -> str:
        return self.log.read_text()

    def interrupt(self, timeout: float) -> Tuple[Optional[int], float]:
        """Ctrl-C (:func:`interrupt_group`)."""
        return interrupt_group(self.process, timeout)

    def stop(self) -> None:
        """Ctrl-C if it still runs, then SIGKILL to whatever remains of the group."""
        if self.process.poll() is None:
            self.interrupt(timeout=10.0)
        kill_group(self.process)


def interrupt_group(process: subprocess.Popen, timeout: float) -> Tuple[Optional[int], float]:
    """Ctrl-C: SIGINT to the process group of ``process`` (:meth:`Ros2Tools.start`), as a
    terminal sends it. The exit code and the seconds it took to end; past ``timeout`` s the
    group gets SIGKILL and the code is None."""
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
        kill_group(process)
    return code, time.monotonic() - started


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL to the process group of ``process``, whatever it is doing."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # the whole group has ended
        pass
    process.wait()
