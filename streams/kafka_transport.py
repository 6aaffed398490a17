"""Faust's aiokafka transport with the consumer's fetch wait taken from the settings.

Faust fixes the worker consumer's ``fetch_max_wait_ms`` at 1,500 ms. Apache Kafka answers a waiting fetch as soon
as data arrives, but Tansu, the embedded broker, holds aiokafka's fetch for the whole wait: each hop of the
pipeline (raw -> analyze, analyzed -> decide) waited up to 1.5 s, and a message published every 0.37 s arrived
0.38 s late every time (aiokafka alone on Tansu; 0.01 s with a 100 ms wait).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TransportT


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: _Transport) -> Any:  # type: ignore[override]
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start(), which builds its fetcher: the consumer is not started yet here.
        consumer._fetch_max_wait_ms = transport.fetch_max_wait_ms
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer

    def __init__(self, *args: Any, fetch_max_wait_ms: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetch_max_wait_ms = fetch_max_wait_ms


class App(faust.App):
    """A Faust app whose worker consumer waits at most ``fetch_max_wait_ms`` for a fetch."""

    def __init__(self, *args: Any, fetch_max_wait_ms: int, **kwargs: Any) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> TransportT:
        return _Transport(self.conf.broker_consumer, self, fetch_max_wait_ms=self.fetch_max_wait_ms)
