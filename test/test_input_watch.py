"""crossinfonet_ros.node.input_watch: silent inputs, when they are reported, and the words."""

import pytest

from crossinfonet_ros.node.input_watch import InputWatch, Silence, silence_message
from crossinfonet_ros.node.stats import health


def test_an_input_that_never_arrives_is_reported_after_the_timeout_then_every_repeat():
    watch = InputWatch(['image', 'info'], timeout_s=5.0, repeat_s=10.0, now_s=100.0)
    assert watch.due(104.9) == [] and watch.silent(104.9) == []
    first = watch.due(105.0)
    assert [(s.name, s.seconds, s.ever) for s in first] == [('image', 5.0, False),
                                                            ('info', 5.0, False)]
    assert watch.due(106.0) == [] and watch.due(114.9) == []  # reported: quiet until repeat
    assert len(watch.silent(110.0)) == 2  # still silent for /diagnostics
    assert [s.name for s in watch.due(115.0)] == ['image', 'info']


def test_a_stream_that_stops_is_reported_and_its_return_said_once():
    watch = InputWatch(['image', 'info'], timeout_s=2.0, repeat_s=4.0, now_s=0.0)
    assert watch.arrived('image', 1.0) is None and watch.arrived('info', 1.0) is None
    assert watch.due(2.9) == []
    assert watch.due(3.0) == [Silence('image', 2.0, True), Silence('info', 2.0, True)]
    assert watch.arrived('image', 4.5) == pytest.approx(3.5)  # back after a reported silence
    assert watch.arrived('image', 5.5) is None  # said once
    assert [s.name for s in watch.due(7.0)] == ['info']  # the other one is still silent


def test_a_timeout_of_zero_never_reports_and_bad_settings_are_named():
    watch = InputWatch(['image'], timeout_s=0.0, repeat_s=1.0, now_s=0.0)
    assert watch.due(1e6) == [] and watch.silent(1e6) == []
    with pytest.raises(ValueError, match='timeout_s >= 0 and repeat_s > 0'):
        InputWatch(['image'], timeout_s=-1.0, repeat_s=1.0, now_s=0.0)


@pytest.mark.parametrize('silence, publishers, words', [
    (Silence('image', 5.0, False), 0,
     "no depth image on /foo/depth/image since start (5.0 s, 0 publishers): nothing publishes "
     "it: remap it to the camera driver's topic"),
    (Silence('image', 6.25, False), 1,
     'no depth image on /foo/depth/image since start (6.2 s, 1 publisher): is the camera '
     'streaming?'),
    (Silence('image', 7.0, True), 2,
     'no depth image on /foo/depth/image for 7.0 s (2 publishers): the stream stopped'),
])
def test_the_message_names_topic_publishers_and_what_happened(silence, publishers, words):
    assert silence_message(silence, 'depth image', '/foo/depth/image', publishers) == words


def test_health_puts_silent_inputs_before_the_counts():
    lines = ['no depth image on /a (0 publishers)', 'no camera info on /b (0 publishers)']
    assert health(True, False, {}, lines) == (False, '; '.join(lines))
    assert health(False, False, {}, lines) == (False, 'inactive: no model loaded')
    assert health(True, True, {'input': 3}, []) == (True, 'running')
