import numpy as np
import pytest
from usearch.index import Index

from streams import hnsw_graph


def unit_vectors(count: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, 16)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_a_new_graph_is_empty_and_has_the_links_asked_for() -> None:
    graph = hnsw_graph.new_graph(16, "cos", "i8", 8, 12)

    assert len(graph) == 0
    assert hnsw_graph.links(graph.save()) == (8, 12)
    assert hnsw_graph.links(Index(ndim=16, metric="cos", dtype="i8", connectivity=8).save()) == (8, 16)


def test_its_base_nodes_hold_the_fewer_links() -> None:
    vectors, keys = unit_vectors(500), np.arange(500, dtype=np.uint64)
    usual = Index(ndim=16, metric="cos", dtype="i8", connectivity=8)
    fewer = hnsw_graph.new_graph(16, "cos", "i8", 8, 12)
    usual.add(keys, vectors, threads=1)
    fewer.add(keys, vectors, threads=1)

    # Every node has a base level: 4 links of 4 bytes less each, the upper levels alike.
    assert usual.serialized_length - fewer.serialized_length == 500 * 4 * 4
    assert fewer.search(vectors[:50], 1, threads=1).keys[:, 0].tolist() == list(range(50))


def test_a_loaded_graph_keeps_its_links_and_articles() -> None:
    graph = hnsw_graph.new_graph(16, "cos", "i8", 8, 12)
    graph.add(np.arange(100, dtype=np.uint64), unit_vectors(100), threads=1)

    loaded = hnsw_graph.load(graph.save())
    emptied = hnsw_graph.load(hnsw_graph.new_graph(16, "cos", "i8", 8, 12).save())

    assert hnsw_graph.links(loaded.save()) == (8, 12)
    assert loaded.save() == graph.save()
    # usearch takes the links from the bytes only when the graph has a node: an empty one is made again.
    assert len(emptied) == 0 and hnsw_graph.links(emptied.save()) == (8, 12)
    assert (emptied.ndim, emptied.dtype, emptied.metric_kind) == (graph.ndim, graph.dtype, graph.metric_kind)


def test_bytes_too_short_for_a_header_are_no_graph() -> None:
    with pytest.raises(ValueError, match="not a usearch graph"):
        hnsw_graph.links(bytes(40))
