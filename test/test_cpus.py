"""usable_cores: the cores of this process's affinity, not the host's."""

import os

import pytest

from crossinfonet_ros.cpus import usable_cores


@pytest.mark.skipif(not hasattr(os, 'sched_setaffinity'), reason='no CPU affinity API (not Linux)')
def test_usable_cores_follow_the_affinity_mask():
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert usable_cores() == 1
    finally:
        os.sched_setaffinity(0, before)
    assert 1 <= usable_cores() <= len(before)
