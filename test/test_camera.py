"""crossinfonet_ros.camera: intrinsics matched to images by stamp."""

import threading

import pytest

from crossinfonet_ros.camera import D435_640X480, Intrinsics, IntrinsicsByStamp

OTHER = Intrinsics(fx=600.0, fy=600.0, cx=160.0, cy=120.0, width=320, height=240)


def test_an_image_gets_the_info_of_its_stamp_else_the_newest():
    infos = IntrinsicsByStamp(size=4)
    assert infos.for_stamp((1, 0)) is None and infos.newest is None
    infos.add((1, 0), D435_640X480)
    infos.add((2, 0), OTHER)
    assert infos.for_stamp((1, 0)) == D435_640X480  # its own, though another came later
    assert infos.for_stamp((2, 0)) == OTHER
    assert infos.for_stamp((9, 9)) == OTHER == infos.newest  # no info of its own


def test_only_the_last_size_stamps_are_remembered():
    infos = IntrinsicsByStamp(size=2)
    infos.add((1, 0), D435_640X480)
    infos.add((2, 0), OTHER)
    infos.add((1, 0), D435_640X480)  # re-sent: now the most recent, so (2, 0) is the oldest
    infos.add((3, 0), D435_640X480)
    assert infos.for_stamp((1, 0)) == D435_640X480
    assert infos.for_stamp((2, 0)) == D435_640X480  # forgotten: falls back to the newest
    with pytest.raises(ValueError, match='size must be at least 1'):
        IntrinsicsByStamp(size=0)


def test_adding_and_reading_from_two_threads_keeps_the_bound():
    infos = IntrinsicsByStamp(size=8)
    misses = []

    def read():
        for stamp in range(5000):
            if infos.for_stamp((stamp, 0)) is None and stamp > 0:
                misses.append(stamp)

    reader = threading.Thread(target=read)
    infos.add((0, 0), OTHER)
    reader.start()
    for stamp in range(5000):
        infos.add((stamp, 0), D435_640X480 if stamp % 2 else OTHER)
    reader.join()
    assert not misses and len(infos._by_stamp) == 8
