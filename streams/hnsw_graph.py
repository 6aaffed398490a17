"""usearch HNSW graphs with a chosen number of links on the base level.

usearch gives every node of the base level twice the links of the levels above (``connectivity_base``, HNSW's M0)
and its Python API cannot change that. Its allocator rounds each node up to 64 bytes, so at 8 links the base node
(key, level, count and 16 links: 78 bytes) takes 128 bytes; at 12 base links it takes 62, so 64. The serialised
form does carry ``connectivity_base``, and a loaded graph keeps it: a graph is created by loading a one-node graph
written with the base links wanted, then emptied.

Serialised layout (usearch 2.x, ``index_dense_gt::save_to_stream``): the vectors as a matrix (rows and columns as
two uint32, then rows x columns bytes), the 64-byte dense header, the graph header (size, connectivity,
connectivity_base, max_level, entry_slot as uint64), each node's level (int16), then each node: key (uint64), level
(int16), and per level a neighbour count (uint32) and its neighbour slots (uint32).
"""

from __future__ import annotations

import functools
import struct

import numpy as np
from usearch.index import Index, MetricKind, ScalarKind

MATRIX_SHAPE = struct.Struct("<2I")
DENSE_HEADER_BYTES = 64
GRAPH_HEADER = struct.Struct("<5Q")
NODE_HEAD = struct.Struct("<Qh")
LEVEL = struct.Struct("<h")
SLOT = struct.Struct("<I")


def _graph_header_offset(serialized: bytes | bytearray | memoryview) -> int:
    rows, columns = MATRIX_SHAPE.unpack_from(serialized, 0)
    return MATRIX_SHAPE.size + rows * columns + DENSE_HEADER_BYTES


def links(serialized: bytes | bytearray | memoryview) -> tuple[int, int]:
    """(links a node has on the levels above the base, links on the base level) of a serialised graph; ValueError if
    the bytes are too short to hold its header."""
    try:
        _, connectivity, connectivity_base, _, _ = GRAPH_HEADER.unpack_from(serialized, _graph_header_offset(serialized))
    except struct.error as exc:
        raise ValueError(f"not a usearch graph: {exc}") from exc
    return connectivity, connectivity_base


@functools.cache
def _one_node_graph(
    ndim: int, metric: str | MetricKind, dtype: str | ScalarKind, connectivity: int, connectivity_base: int
) -> bytes:
    """A serialised graph of one node at level 0, written with the links asked for; made and checked once."""
    seed = Index(ndim=ndim, metric=metric, dtype=dtype, connectivity=connectivity)
    seed.add(0, np.eye(1, ndim, dtype=np.float32)[0])
    serialized = bytes(seed.save())
    header_at = _graph_header_offset(serialized)
    size, _, _, _, _ = GRAPH_HEADER.unpack_from(serialized, header_at)
    node_at = header_at + GRAPH_HEADER.size + size * LEVEL.size
    key, _ = NODE_HEAD.unpack_from(serialized, node_at)
    # The one node at level 0 with no neighbours, sized for the base links wanted.
    node = NODE_HEAD.pack(key, 0) + SLOT.pack(0) + bytes(SLOT.size * connectivity_base)
    crafted = (
        serialized[:header_at]
        + GRAPH_HEADER.pack(1, connectivity, connectivity_base, 0, 0)
        + LEVEL.pack(0)
        + node
    )
    graph = Index.restore(crafted)
    if graph is None or links(bytes(graph.save())) != (connectivity, connectivity_base):
        raise RuntimeError(f"usearch did not keep {connectivity_base} base links; its format changed?")
    return crafted


def new_graph(
    ndim: int, metric: str | MetricKind, dtype: str | ScalarKind, connectivity: int, connectivity_base: int
) -> Index:
    """An empty graph with ``connectivity`` links a node above the base level and ``connectivity_base`` on it."""
    graph = Index.restore(_one_node_graph(ndim, metric, dtype, connectivity, connectivity_base))
    graph.clear()
    return graph


def load(serialized: bytes | bytearray | memoryview) -> Index:
    """A serialised graph loaded with its links: usearch keeps them from the bytes only when the graph has a node."""
    graph = Index.restore(serialized)
    if graph is None:
        raise ValueError("not a usearch graph")
    if len(graph) == 0:
        return new_graph(graph.ndim, graph.metric_kind, graph.dtype, *links(serialized))
    return graph
