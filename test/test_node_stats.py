"""crossinfonet_ros.node.stats: counters, percentiles, log throttling and the health rule."""

import pytest

from crossinfonet_ros.node.stats import NodeStats, Throttle, health, stamp_age_ms


@pytest.mark.parametrize('active, info, window, ok, message', [
    (False, True, {'input': 30}, False, 'inactive: no model loaded'),
    (True, False, {'input': 30}, False, 'no camera info received yet'),
    (True, True, {'input': 30, 'rejected': 2}, False, '2 rejected, 0 dropped in the last period'),
    (True, True, {'input': 30, 'dropped': 3}, False, '0 rejected, 3 dropped in the last period'),
    (True, True, {}, False, 'no depth images'),
    (True, True, {'input': 30, 'output': 30}, True, 'running'),
])
def test_health_names_the_first_problem(active, info, window, ok, message):
    assert health(active, info, window) == (ok, message)


def test_a_report_counts_its_window_and_keeps_totals():
    stats = NodeStats()
    for _ in range(3):
        stats.count('input')
        stats.count('output')
    stats.count('detected', 2)
    stats.reject('encoding')
    for latency in (10.0, 20.0, 30.0):
        stats.latency(latency, {'network': latency / 2, 'decode': latency / 10})
    pairs, window = dict(stats.report()[0]), stats.report()[1]
    assert window == {}  # the second report starts from an empty window
    assert pairs['detection_rate'] == '0.667' and pairs['latency_p50_ms'] == '20.00'
    assert pairs['network_p50_ms'] == '10.00' and pairs['decode_p50_ms'] == '2.00'
    assert pairs['rejected_encoding'] == '1'
    assert stats.totals()['input'] == 3 and stats.totals()['rejected_encoding'] == 1
    assert health(True, True, {'input': 3, 'rejected': 1})[0] is False


@pytest.mark.parametrize('age_ns, expected', [
    (0, 0.0), (2_500_000, 2.5), (9_999 * 10**6, 9999.0),
    (-1, None),  # stamped in the future: another clock
    (10 * 10**9, None),  # ten seconds old: a replayed bag, simulated time
])
def test_a_stamp_age_counts_only_on_this_clock(age_ns, expected):
    now = 1_764_000_000 * 10**9
    age = stamp_age_ms(now - age_ns, now)
    assert age == (None if expected is None else pytest.approx(expected))


def test_throttle_lets_one_message_per_period_and_counts_the_rest(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr('crossinfonet_ros.node.stats.time.monotonic', lambda: clock[0])
    throttle = Throttle(5.0)
    assert throttle.ready('a') == (True, 0)
    assert throttle.ready('a') == (False, 0) and throttle.ready('a') == (False, 0)
    assert throttle.ready('b') == (True, 0)  # keys are independent
    clock[0] += 5.0
    assert throttle.ready('a') == (True, 2)
