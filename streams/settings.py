"""One settings object for every component: environment variables prefixed ``NEWSSTREAM_`` and an optional env file.

Components receive it as an argument; nothing deeper in the code reads the environment.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.dedup import DedupConfig
from streams.embedding import OnnxBackend

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
EmbedBackend = Literal[OnnxBackend, "torch"]
WorkerRole = Literal["all", "analyze", "decide"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSSTREAM_",
        env_file=".env",
        env_file_encoding="utf-8",
        frozen=True,
        extra="ignore",
        # A validation error must not echo its input: that input holds the SASL password.
        hide_input_in_errors=True,
    )

    # Kafka
    broker: str | None = Field(
        default=None,
        description="Bootstrap servers, host:port[,host:port]. Unset: commands that need one start the embedded broker.",
    )
    app_id: str = Field(default="newsstream", description="Faust app id: the consumer group and table prefix.")
    topic_raw: str = "articles.raw"
    topic_enriched: str = "articles.enriched"
    topic_duplicates: str = "articles.duplicates"
    topic_events: str = "events"
    topic_deadletter: str = "articles.deadletter"
    topic_analyzed: str = Field(
        default="newsstream.articles.analyzed",
        description="Internal: analysed articles on their way to the single-partition dedup decision.",
    )
    partitions: int = Field(default=4, ge=1, description="Partitions of the raw and output topics.")
    replication_factor: int = Field(default=1, ge=1)
    session_timeout_s: float = Field(default=6.0, gt=0, description="Consumer group session timeout.")
    # Tansu answers a waiting fetch only when the wait ends (streams/kafka_transport.py), so each pipeline hop waits
    # up to this long there (Faust fixes 1,500 ms; 100 cuts raw-to-enriched p95 to under half a second). Apache Kafka
    # answers at once; there 100 means at most ten empty fetches a second from an idle worker.
    fetch_max_wait_ms: int = Field(default=100, ge=1, le=1500, description="Longest wait of a worker's fetch for data.")
    # Faust's default of 0 sends the records of each event-loop turn as a produce request of their own: an article's
    # ~12 output records went out in many small requests. Waiting 10 ms to fill a batch cut the workers' event loops
    # from 5.7 to 4.6 ms an article and the broker's CPU by a third, and (c) ran 2-5% faster for about 0.05 s more
    # raw-to-enriched p95 (README "Speed").
    producer_linger_ms: int = Field(
        default=10, ge=0, le=1000, description="How long a worker's producer waits to fill a batch of output records."
    )
    # A crash replays what was processed since the last commit: after a SIGKILL, 10 and 183 enriched records were
    # repeated at 1 s, 36-626 at Faust's 2.8 s (4 runs). A commit a second per worker is nothing to a broker.
    commit_interval_s: float = Field(
        default=1.0, gt=0, description="How often a worker commits its processed offsets (a crash replays up to this much)."
    )

    # Kafka connection security, for every client (Faust/aiokafka and kafka-python). Secrets are SecretStr: masked in
    # repr, str and dumps, so they never reach a log line.
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS)."
    )
    sasl_mechanism: SaslMechanism = Field(default="PLAIN", description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.")
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = Field(default=None, description="CA bundle for the brokers' certificates; unset: system CAs.")
    ssl_certfile: Path | None = Field(default=None, description="Client certificate (PEM) for mutual TLS.")
    ssl_keyfile: Path | None = Field(default=None, description="Client private key (PEM); unset: read from ssl_certfile.")
    ssl_key_password: SecretStr | None = Field(default=None, description="Password of an encrypted ssl_keyfile.")
    ssl_check_hostname: bool = Field(default=True, description="Check that a broker's certificate names its host.")

    # Processing
    batch_size: int = Field(default=16, ge=1, description="Articles per model batch (stream.take size).")
    # Short: under load the fetched backlog fills a batch at once, so the wait only delays a lone article (raw to
    # enriched p50 0.75 s at a 0.5 s wait, 0.20 s at 0.05 s, 3 BBC articles a second on 2 cores).
    batch_timeout_s: float = Field(default=0.05, gt=0, description="Longest wait to fill a batch (stream.take within).")
    max_message_bytes: int = Field(default=1_048_576, ge=1024, description="Larger raw messages are dead-lettered unread.")
    max_body_chars: int = Field(default=200_000, ge=1)
    # An analysis runs to up to about 6.4 bytes a character of body (199,000 characters of BBC News: 1.28 MB), over
    # the 1 MB that Kafka takes by default. newsstream creates the analysed and enriched topics with this limit; a
    # record over it would be refused by the broker after its input was committed, so it is dead-lettered instead.
    max_output_bytes: int = Field(
        default=8 * 1024 * 1024, ge=64 * 1024, le=16 * 1024 * 1024,
        description="Largest analysed or enriched record a worker sends; a larger one is dead-lettered (too_large).",
    )
    # 128: the model was trained on windows of 128 word pieces, `make eval-dedup` gave the same figures as at 256 (the
    # lead of a news article carries its story), and the embedding takes half the time.
    embed_max_tokens: int = Field(default=128, ge=16, le=512, description="Embedding window, in tokens.")
    # int8 in the matrix products where it keeps the cosine to fp32 at 0.9946 or more (480 BBC articles; 1.16-1.21 times
    # fp32's speed). int8 everywhere is faster still, but its cosine falls to 0.979. Either way the activations are
    # quantized per batch, so a text's vector moves a little with its batch mates (0.9955 at worst one at a time).
    embed_backend: EmbedBackend = Field(
        default="onnx-int8-partial",
        description="onnx-int8-partial (int8 in the attention's query/key/value and first feed-forward products), onnx "
        "(ONNX Runtime fp32), onnx-int8 (int8 everywhere) or torch (the reference).",
    )
    # One: the embedding runs beside spaCy, which takes the other core (1 thread beat 2 there, on 2 cores).
    embed_threads: int = Field(default=1, ge=0, description="ONNX Runtime threads for the embedding; 0: one per core.")
    # In the environment the models were installed in, so `make install` and the image build fill it.
    model_cache: Path = Field(
        default=Path(sys.prefix) / "share" / "newsstream" / "models", description="Built ONNX model files."
    )

    # Deduplication (see streams/dedup.py and `make eval-dedup` for how the defaults were chosen)
    dedup_window_hours: float = Field(default=168.0, gt=0, description="Articles older than this are forgotten.")
    # The window follows the newest article's date: one article dated years ahead by its feed (a typo, 9999-12-31,
    # local time labelled UTC) would move it past every stored article and evict them all.
    dedup_max_ahead_s: float = Field(
        default=3600.0, ge=0,
        description="An article dated further ahead of its Kafka timestamp counts, in the dedup window, as that timestamp plus this.",
    )
    near_duplicate_containment: float = Field(
        default=0.6, ge=0, le=1, description="Share of the shorter body's shingles found in the other: a copy."
    )
    near_duplicate_cosine: float = Field(default=0.97, ge=0, le=1, description="Embedding cosine at or above: a copy.")
    same_story_threshold: float = Field(default=0.5, ge=0, le=1, description="Same-story score at or above: same story.")
    # One: the index rebuilt from the changelog then has the very graph the decisions had built, one article at a time,
    # so an article decided again after a crash (its table record lost with the worker) gets the same neighbours and
    # verdict. More threads restore faster (100,000 articles: 20 s on 2 threads, 34 s on 1) but build another graph.
    dedup_restore_threads: int = Field(
        default=1, ge=0, description="Threads that rebuild the dedup index on a restore; 0: one per core (not repeatable)."
    )
    dedup_graph_snapshots: bool = Field(
        default=True,
        description="Keep a snapshot of the dedup index's HNSW graph in data_dir, written every dedup_graph_epoch "
        "articles: a restart on the same machine loads it instead of inserting every article again.",
    )
    dedup_graph_epoch: int = Field(
        default=50_000, ge=1,
        description="Articles indexed between two snapshots (and reloads) of the dedup graph. Change it only with the "
        "table emptied: graphs reloaded at other points differ.",
    )

    # Monitoring
    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics from each worker.")
    metrics_bind: str = Field(default="127.0.0.1", description="Metrics address; 0.0.0.0 in containers.")
    metrics_port: int = Field(default=9464, ge=0, le=65535, description="Metrics port; 0 picks a free one.")
    health_max_heartbeat_age_s: float = Field(
        default=30.0, gt=0, description="/healthz fails when the event loop's heartbeat (every 2 s) is older than this."
    )
    health_max_stall_s: float = Field(
        default=120.0, gt=0,
        description="/healthz fails when an assigned partition has records waiting and its read position has not moved for this long.",
    )

    # Worker
    # Decide-only workers keep the dedup table's memory, which grows with the window, off the model workers and need
    # no models; on one 2-core machine they were no faster than workers of both roles (README "Speed").
    worker_role: WorkerRole = Field(
        default="all",
        description="all: both agents; analyze: the models only (raw partitions); decide: the dedup decision only "
        "(no models loaded). Workers of any roles share one app id.",
    )
    log_level: str = "warning"
    web_enabled: bool = Field(default=False, description="Serve Faust's web endpoints.")
    web_bind: str = "127.0.0.1"
    web_port: int = 6066
    data_dir: Path = Field(default=Path(".newsstream"), description="Faust's local data directory.")

    @model_validator(mode="after")
    def _security_is_consistent(self) -> Self:
        """Refuse half-configured security: a setting that would be silently ignored hides a misconfiguration."""
        protocol = self.security_protocol
        if protocol.startswith("SASL_"):
            if not self.sasl_username or self.sasl_password is None:
                raise ValueError(f"security_protocol {protocol} needs sasl_username and sasl_password")
        elif self.sasl_username or self.sasl_password is not None:
            raise ValueError(f"SASL credentials are set but security_protocol is {protocol}: use SASL_PLAINTEXT or SASL_SSL")
        tls_files = [self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile, self.ssl_key_password]
        if not protocol.endswith("SSL") and any(value is not None for value in tls_files):
            raise ValueError(f"TLS files are set but security_protocol is {protocol}: use SSL or SASL_SSL")
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ValueError("ssl_keyfile needs ssl_certfile")
        return self

    def dedup_config(self) -> DedupConfig:
        return DedupConfig(
            near_duplicate_containment=self.near_duplicate_containment,
            near_duplicate_cosine=self.near_duplicate_cosine,
            story_threshold=self.same_story_threshold,
            window_s=self.dedup_window_hours * 3600.0,
            max_ahead_s=self.dedup_max_ahead_s,
            restore_threads=self.dedup_restore_threads,
            graph_epoch=self.dedup_graph_epoch,
        )

    @property
    def broker_url(self) -> str:
        if not self.broker:
            raise ValueError("no broker configured: set NEWSSTREAM_BROKER or start the embedded broker")
        return self.broker

    def to_env(self) -> dict[str, str]:
        """These settings as the environment of a child process (a worker started by the demo or a test)."""
        prefix = self.model_config["env_prefix"]
        return {
            f"{prefix}{name.upper()}": value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            for name, value in self.model_dump().items()
            if value is not None
        }
