"""Shared file handling of the dataset loaders: errors, text and image readers, intrinsics files.

Every message names the file (and line) and what is wrong with it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence, Union

import cv2
import numpy as np

from crossinfonet_ros.camera import Intrinsics

PathLike = Union[str, os.PathLike]
INTRINSICS_FILE = 'intrinsics.json'  # override file written next to a label file (renderer)
INTRINSICS_KEYS = ('fx', 'fy', 'cx', 'cy', 'width', 'height')


class DatasetError(ValueError):
    """A dataset file is malformed; the message names the file (and line) and the problem."""


class MissingFileError(DatasetError, FileNotFoundError):
    """A file the dataset needs does not exist; the message names it."""


def require_file(path: PathLike, what: str) -> Path:
    """Return ``path`` as a Path, or raise :class:`MissingFileError` naming it.

    :param path: file that must exist
    :param what: what the file is, for the message (e.g. 'ICVL label file')
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f'{path}: {what} not found')
    return path


def require_dir(path: PathLike, what: str) -> Path:
    """Return ``path`` as a Path, or raise :class:`MissingFileError` naming it.

    :param path: directory that must exist
    :param what: what the directory is, for the message
    """
    path = Path(path)
    if not path.is_dir():
        raise MissingFileError(f'{path}: {what} (a directory) not found')
    return path


def read_lines(path: PathLike, what: str) -> list[str]:
    """Read a text file's lines (newlines stripped), raising a clear error when missing.

    :param path: the text file
    :param what: what the file is, for the message
    """
    path = require_file(path, what)
    try:
        with open(path, encoding='utf-8') as stream:
            return stream.read().splitlines()
    except UnicodeDecodeError as error:
        raise DatasetError(f'{path}: {what} is not a text file ({error})') from None


def read_named_rows(path: PathLike, what: str, expected: int,
                    chunk: int = 65536) -> tuple[list[str], np.ndarray]:
    """Parse a label file of ``name n1 n2 ... n<expected>`` lines (ICVL, HANDS2017).

    Streams the file and stores the numbers as float32 chunk by chunk, so a million-line
    annotation never sits in memory as text or as per-line float64 arrays. Blank lines are
    skipped; tabs and spaces both separate.

    :param path: the label file
    :param what: what the file is, for messages
    :param expected: numbers per line after the name
    :param chunk: lines converted to float32 at a time
    :return: names, (N, expected) float32 values
    :raises DatasetError: naming the first malformed line, or an empty file
    """
    path = require_file(path, what)
    names, blocks, rows = [], [], []
    try:
        with open(path, encoding='utf-8') as stream:
            for number, line in enumerate(stream, start=1):
                tokens = line.split()
                if not tokens:
                    continue
                names.append(tokens[0])
                rows.append(parse_numbers(tokens[1:], expected, path, number))
                if len(rows) == chunk:
                    blocks.append(np.array(rows, dtype=np.float32))
                    rows = []
    except UnicodeDecodeError as error:
        raise DatasetError(f'{path}: {what} is not a text file ({error})') from None
    if not names:
        raise DatasetError(f'{path}: {what} holds no frames')
    blocks.append(np.array(rows, dtype=np.float32).reshape(-1, expected))
    return names, np.concatenate(blocks)


def parse_numbers(tokens: Sequence[str], expected: int, path: PathLike,
                  line_number: int) -> np.ndarray:
    """Parse ``expected`` numbers from one line's tokens.

    :param tokens: the line's number tokens (label columns already removed)
    :param expected: how many numbers the format puts on this line
    :param path: the file, for the message
    :param line_number: 1-based line number, for the message
    :raises DatasetError: e.g. ``joint.txt line 3: expected 63 numbers, got 60``
    """
    where = f'{path} line {line_number}'
    if len(tokens) != expected:
        raise DatasetError(f'{where}: expected {expected} numbers, got {len(tokens)}')
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(token for token in tokens if not _is_number(token))
        raise DatasetError(f'{where}: {bad!r} is not a number') from None
    if not np.all(np.isfinite(values)):
        raise DatasetError(f'{where}: numbers must be finite')
    return values


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_png_depth16(path: PathLike) -> np.ndarray:
    """Read a single-channel 16-bit PNG of depth in mm (ICVL, HANDS2017) as float32 mm.

    :param path: the PNG file
    :raises DatasetError: when the file is missing, unreadable or not 16-bit single channel
    """
    return read_png_uint16(require_file(path, 'depth image')).astype(np.float32)


def read_png_uint16(path: PathLike) -> np.ndarray:
    """The raw values of a single-channel 16-bit PNG.

    :raises DatasetError: unreadable, or not 16-bit single channel (names both)
    """
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError(f'{path}: cannot decode the depth image')
    if image.ndim != 2 or image.dtype != np.uint16:
        channels = 1 if image.ndim == 2 else image.shape[2]
        raise DatasetError(f'{path}: expected a 16-bit single-channel depth PNG, got a '
                           f'{image.dtype} PNG with {channels} channel(s)')
    return image


def check_image_size(depth: np.ndarray, intrinsics: Intrinsics, path: PathLike) -> None:
    """Raise :class:`DatasetError` when a depth image does not match the camera's size.

    :param depth: (H, W) depth image
    :param intrinsics: the camera the labels were made with
    :param path: the image file, for the message
    """
    height, width = depth.shape[:2]
    if (width, height) != (intrinsics.width, intrinsics.height):
        raise DatasetError(f'{path}: image is {width}x{height} but the camera is'
                           f' {intrinsics.width}x{intrinsics.height}')


def read_intrinsics_json(path: PathLike) -> Intrinsics:
    """Read camera intrinsics from a JSON object with keys fx, fy, cx, cy, width, height.

    This is the file the synthetic renderer writes next to a HANDS2017-format annotation.

    :param path: the JSON file
    :raises DatasetError: when the file is missing, not JSON, or lacks a key
    """
    path = require_file(path, 'intrinsics file')
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f'{path}: not valid JSON ({error})') from None
    if not isinstance(data, dict):
        raise DatasetError(f'{path}: expected a JSON object with keys'
                           f' {", ".join(INTRINSICS_KEYS)}')
    missing = [key for key in INTRINSICS_KEYS if key not in data]
    if missing:
        raise DatasetError(f'{path}: missing key(s) {", ".join(missing)}')
    try:
        return Intrinsics(float(data['fx']), float(data['fy']), float(data['cx']),
                          float(data['cy']), int(data['width']), int(data['height']))
    except (TypeError, ValueError) as error:
        raise DatasetError(f'{path}: bad intrinsics ({error})') from None


def load_intrinsics_option(intrinsics: Intrinsics | PathLike | None, default_file: Path,
                           fallback: Intrinsics) -> Intrinsics:
    """Pick a loader's camera: an explicit one, a JSON file path, a JSON file found next to the
    labels, or the dataset's published intrinsics, in that order.

    :param intrinsics: an :class:`Intrinsics`, a path to an intrinsics JSON file, or None
    :param default_file: where an override file is looked for when ``intrinsics`` is None
    :param fallback: the dataset's published intrinsics
    """
    if isinstance(intrinsics, Intrinsics):
        return intrinsics
    if intrinsics is not None:
        return read_intrinsics_json(intrinsics)
    if default_file.is_file():
        return read_intrinsics_json(default_file)
    return fallback
