"""newsstream: a Faust stream processor that validates, deduplicates and enriches news articles."""

# ONNX Runtime before anything else: imported after usearch (streams.dedup), its native module crashes the process
# (segmentation fault; onnxruntime 1.31.1, usearch 2.26.6); imported first, both work. About 0.2 s.
import onnxruntime  # noqa: F401, E402
