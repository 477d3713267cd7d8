"""Exercise solutions: collapsed markdown cells tagged ``solution``, turned into code cells for the tests
(part of :mod:`facelib.series`)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import nbformat

#: The tag of an exercise's solution cell (a collapsed markdown cell holding one fenced Python block).
SOLUTION_TAG = "solution"


# ------------------------------------------------------------------------------------------- solutions
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def is_solution(cell: Mapping[str, Any]) -> bool:
    """A cell tagged :data:`SOLUTION_TAG`."""
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def solution_code(cell: Mapping[str, Any]) -> str:
    """The Python of a solution cell: the one fenced ```python block of a markdown cell starting
    ``**Solution**``.

    Raises:
        ValueError: not a markdown cell, no ``**Solution**`` heading, or not exactly one ```python block.
    """
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    if cell.get("cell_type") != "markdown" or not source.lstrip().startswith("**Solution**"):
        raise ValueError(f"a solution is a markdown cell starting with **Solution**, got: {source[:60]!r}")
    blocks = _FENCE.findall(source)
    if len(blocks) != 1:
        raise ValueError(f"a solution cell holds exactly one ```python block, found {len(blocks)}: {source[:60]!r}")
    return blocks[0].rstrip("\n")


def solutions_to_code(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Turn every solution markdown cell into a (collapsed, tagged) code cell holding its Python, in place."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and is_solution(cell):
            metadata = dict(cell.metadata)
            nb.cells[i] = nbformat.v4.new_code_cell(solution_code(cell), metadata=metadata)
            if "id" in cell:
                nb.cells[i]["id"] = cell["id"]
    return nb
