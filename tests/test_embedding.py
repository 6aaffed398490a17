"""The worker's embedding backends against their reference, sentence-transformers on torch fp32, and the build of
the ONNX model ahead of the first worker. Real models."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import pytest

from models import AnalyzedArticle, RawArticle
from streams.analyze import Analyzer, ModelFailure, ReceivedArticle
from streams.embedding import Embedder, OnnxEmbedder, load_embedder
from streams.onnx_export import PARTIAL_INT8_NODES, ensure_onnx_model
from streams.settings import Settings
from tests.deployment_files import DOCKERFILE, ROOT
from tests.stand_ins import BlankParser, WordHashEmbedder

# Short news texts written for this test.
TEXTS = [
    "The central bank raised interest rates by half a point on Thursday, its third increase this year.",
    "Flooding closed the main road between Dorsk and Arvena after two days of heavy rain.",
    "Striking dock workers marched through the port city, demanding higher wages and safer cranes.",
    "The striker scored twice in the second half as the home side won the cup final 3-1.",
    "Health officials reported forty new cases of measles in the northern province this week.",
    "A new rail link will cut the journey from the coast to the capital to under two hours, the minister said.",
    "Shares in the mining company fell sharply after it warned that profits would halve.",
    "Rescue teams pulled eleven people from the rubble of a collapsed school after the earthquake.",
]
LONG_TEXT = " ".join(TEXTS * 4)  # well over 64 tokens


def cosines(left: npt.NDArray[np.float32], right: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.sum(left * right, axis=1)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(_env_file=None)


@pytest.fixture(scope="module")
def reference(settings: Settings) -> npt.NDArray[np.float32]:
    return Embedder(max_tokens=settings.embed_max_tokens).embed(TEXTS)


@pytest.fixture(scope="module")
def int8(settings: Settings) -> OnnxEmbedder:
    embedder = load_embedder(settings.model_copy(update={"embed_backend": "onnx-int8"}))
    assert isinstance(embedder, OnnxEmbedder)
    return embedder


def test_fp32_onnx_matches_torch_and_records_say_so(settings: Settings, reference: npt.NDArray[np.float32]) -> None:
    """The export, tokenizer set-up and pooling reproduce sentence-transformers; the int8 backends only add
    quantization."""
    fp32 = load_embedder(settings.model_copy(update={"embed_backend": "onnx"}))
    assert isinstance(fp32, OnnxEmbedder) and fp32.version.endswith("+onnx")
    assert cosines(fp32.embed(TEXTS), reference).min() >= 0.9999


def test_the_default_backend_is_int8_in_the_attention_inputs_and_first_feed_forward_only(settings: Settings) -> None:
    assert settings.embed_backend == "onnx-int8-partial"
    graph = onnx.load(str(ensure_onnx_model(settings.model_cache, settings.embed_backend)), load_external_data=False).graph
    integer = [node for node in graph.node if node.op_type == "MatMulInteger"]
    # 6 layers: query, key, value and the first feed-forward product in int8; the attention scores, the attention
    # output and the second feed-forward product in fp32
    assert len(integer) == 24 and sum(node.op_type == "MatMul" for node in graph.node) == 24
    assert all(PARTIAL_INT8_NODES.search(node.name.removesuffix("_quant")) for node in integer), [n.name for n in integer]


@pytest.mark.parametrize("backend", ["onnx-int8-partial", "onnx-int8"])
def test_int8_embeddings_agree_with_torch_fp32_on_short_news(
    settings: Settings, reference: npt.NDArray[np.float32], backend: str
) -> None:
    # On these texts >= 0.99 for both. On 480 long BBC articles the partial model's minimum was 0.9946 and full int8's
    # 0.979, which is why full int8 is not the default.
    embedder = load_embedder(settings.model_copy(update={"embed_backend": backend}))
    assert embedder.version.endswith(f"+{backend}")
    agreement = cosines(embedder.embed(TEXTS), reference)
    assert agreement.min() >= 0.99, agreement


def test_embeddings_are_unit_length_and_empty_input_gives_no_rows(int8: OnnxEmbedder) -> None:
    vectors = int8.embed([*TEXTS, LONG_TEXT])
    assert vectors.shape == (len(TEXTS) + 1, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert int8.embed([]).shape == (0, 384)


def test_rows_follow_the_input_order_whatever_the_batching(int8: OnnxEmbedder) -> None:
    """Texts are grouped by length inside ``embed``; each row must still be its own text's."""
    together = int8.embed([LONG_TEXT, *TEXTS])
    alone = np.vstack([int8.embed([text]) for text in [LONG_TEXT, *TEXTS]])
    # int8 activations are quantized per run (dynamic quantization), so batch mates move a vector a little (cosine
    # 0.987 at worst here), never towards another text's
    assert cosines(together, alone).min() >= 0.98
    assert (np.argmax(together @ alone.T, axis=1) == np.arange(len(alone))).all()


def test_the_window_is_honoured_a_longer_text_embeds_as_its_first_max_tokens(settings: Settings) -> None:
    model_file = ensure_onnx_model(settings.model_cache, "onnx")
    window = OnnxEmbedder(model_file, "onnx", max_tokens=64)
    encoding = window.tokenizer.encode(LONG_TEXT)
    assert len(encoding.ids) == 64  # [CLS], 62 word pieces, [SEP]
    kept = LONG_TEXT[: encoding.offsets[-2][1]]
    assert kept != LONG_TEXT
    full, first_part = window.embed([LONG_TEXT, kept])
    assert float(full @ first_part) >= 0.99999
    wider = OnnxEmbedder(model_file, "onnx", max_tokens=256).embed([LONG_TEXT])[0]
    assert float(full @ wider) < 0.999  # the rest of the text counts when the window is wider


def test_install_and_image_build_the_embedding_model_ahead_of_the_first_worker() -> None:
    build = "python -m streams.onnx_export"
    makefile = (ROOT / "Makefile").read_text()
    assert f"$(BIN)/{build}" in makefile.split("\ndemo:")[0]  # in the install recipe
    assert f"/opt/venv/bin/{build}" in Path(DOCKERFILE).read_text()


def test_a_failing_embedding_is_named_while_spacy_runs_beside_it() -> None:
    class BrokenEmbedder(WordHashEmbedder):
        def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            if any("POISON" in text for text in texts):
                raise ValueError("no vector")
            return super().embed(texts)

    analyzer = Analyzer(BrokenEmbedder(), BlankParser())
    good, bad = (
        ReceivedArticle(RawArticle(id=name, source="Test", title=name, body=body), 0.0)
        for name, body in (("good", TEXTS[0]), ("bad", "POISON " + TEXTS[1]))
    )
    first, second = analyzer.analyze([good, bad])
    assert isinstance(first, AnalyzedArticle)
    assert isinstance(second, ModelFailure) and second.stage == "embedding" and "no vector" in second.detail
