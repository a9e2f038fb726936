"""JSON read from weights files, parsed within bounds (torch-free).

A weights file is downloaded from others, so its JSON (the safetensors header and the metadata
values that are JSON themselves) may be hostile: nested thousands of levels deep (Python's
parser then raises ``RecursionError``, not a decoding error), holding integers too long to
convert, or strings with lone UTF-16 surrogate escapes that cannot be encoded again (the tensor
digest encodes every name). :func:`loads` turns each of those into one :class:`JsonLimitError`.
"""

import json
from typing import Any

# Real weights files nest 3 levels (header -> tensor entry -> shape); metadata values 2-3.
MAX_DEPTH = 32


class JsonLimitError(ValueError):
    """The text is not JSON, or JSON this package does not accept; the message says which."""


def loads(text: str) -> Any:
    """Parse JSON of at most :data:`MAX_DEPTH` levels whose strings are all valid Unicode.

    :param text: the JSON text
    :return: the parsed value
    :raises JsonLimitError: invalid JSON, too deep, or a string with a lone surrogate
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonLimitError(f'it nests deeper than {MAX_DEPTH} levels') from None
    except ValueError as error:  # JSONDecodeError, or an integer of more than 4300 digits
        raise JsonLimitError(str(error)) from None
    _check_tree(value)
    return value


def _check_tree(value: Any) -> None:
    """Depth and Unicode of every container and string, walked without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_string(item)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise JsonLimitError(f'it nests deeper than {MAX_DEPTH} levels')
        if isinstance(item, dict):
            for key in item:
                _check_string(key)
            children = item.values()
        else:
            children = item
        pending.extend((child, depth + 1) for child in children)


def _check_string(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        raise JsonLimitError('a string holds a lone UTF-16 surrogate escape (not valid '
                             'Unicode)') from None
