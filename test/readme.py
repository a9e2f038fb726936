"""The README's tables, as the tests read them (test helper, not a test module)."""

import re
from typing import List

from conftest import ROOT

README = ROOT / 'README.md'
_ROW = re.compile(r'^\| `([^`]+)` \|')


def table_names(start: str) -> List[str]:
    """The first-column names (``| `name` |`` rows) of the first table after the README line
    that starts with ``start`` (a heading, or the table's own header row).

    :raises AssertionError: no such line, or no table rows after it
    """
    lines = README.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(start)]
    assert starts, f'README.md has no line starting with {start!r}'
    names, in_table = [], False
    for line in lines[starts[0]:]:
        if line.startswith('|'):
            in_table = True
            match = _ROW.match(line)
            if match:
                names.append(match.group(1))
        elif in_table:
            break
    assert names, f'README.md has no table rows after {start!r}'
    return names


def launch_arguments() -> List[str]:
    """The launch arguments the README documents (its "Launch arguments" section)."""
    return table_names('### Launch arguments')


def node_parameters() -> List[str]:
    """The node parameters the README documents (its parameter table)."""
    return table_names('| parameter |')
