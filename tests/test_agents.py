"""The agents in Faust's test context: no broker; the models are small stand-ins injected through create_app."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from unittest.mock import AsyncMock, patch

import orjson
import pytest

from models import AnalyzedArticle, DeadLetter, RawArticle
from streams.analyze import Analyzer, ReceivedArticle
from streams.app import NewsApp, create_app
from streams.metrics import Metrics
from streams.settings import Settings
from tests.stand_ins import BlankParser, WordHashEmbedder


AGENT_SETTINGS = Settings(_env_file=None, broker="127.0.0.1:1", batch_size=4, batch_timeout_s=0.05)


@pytest.fixture
def news_app() -> NewsApp:
    return create_app(AGENT_SETTINGS, Analyzer(WordHashEmbedder(), BlankParser(fail_on="POISON")))


async def until_called(mock: AsyncMock, times: int, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while mock.await_count < times:
            await asyncio.sleep(0.01)


def article(article_id: str, body: str) -> bytes:
    return orjson.dumps({"id": article_id, "source": "Test", "title": "T", "body": body})


async def test_analyze_agent_forwards_good_articles_and_dead_letters_bad_ones(news_app: NewsApp) -> None:
    topics = news_app.topics
    with (
        patch.object(topics.analyzed, "send", AsyncMock()) as analyzed,
        patch.object(topics.deadletter, "send", AsyncMock()) as deadletter,
    ):
        async with news_app.analyze.test_context() as agent:
            await agent.put(article("a1", "Ships were diverted to Antwerp."), key=b"a1", wait=False)
            await agent.put(b"{broken", wait=False)
            await agent.put(article("a2", "POISON pill for the model"), key=b"a2", wait=False)
            await agent.put(article("a3", "The bank raised rates."), key=b"a3", wait=False)
            await until_called(analyzed, 2)
            await until_called(deadletter, 2)

    forwarded = [AnalyzedArticle.model_validate_json(call.kwargs["value"]) for call in analyzed.await_args_list]
    assert [a.article.id for a in forwarded] == ["a1", "a3"]
    assert forwarded[0].model_versions == {"embedding": "word-hash-test", "spacy": "blank-en-test"}
    letters = [DeadLetter.model_validate_json(call.kwargs["value"]) for call in deadletter.await_args_list]
    assert {(letter.reason, letter.stage) for letter in letters} == {("invalid_json", "decode"), ("model_error", "spacy")}
    poisoned = next(letter for letter in letters if letter.reason == "model_error")
    assert orjson.loads(poisoned.original)["id"] == "a2" and "model stage failed" in poisoned.detail


async def test_analyze_agent_waits_for_models_still_loading_then_processes_what_arrived() -> None:
    loading: Future[Analyzer] = Future()  # a worker loads its models while it joins the group
    news_app = create_app(AGENT_SETTINGS, loading)
    with patch.object(news_app.topics.analyzed, "send", AsyncMock()) as analyzed:
        async with news_app.analyze.test_context() as agent:
            await agent.put(article("early", "Ferries stopped for the storm."), key=b"early", wait=False)
            await asyncio.sleep(0.3)
            assert analyzed.await_count == 0
            loading.set_result(Analyzer(WordHashEmbedder(), BlankParser()))
            await until_called(analyzed, 1)
    assert AnalyzedArticle.model_validate_json(analyzed.await_args.kwargs["value"]).article.id == "early"


async def test_a_worker_whose_models_fail_to_load_crashes_rather_than_holding_its_partitions() -> None:
    failed: Future[Analyzer] = Future()
    failed.set_exception(OSError("model files missing"))
    news_app = create_app(AGENT_SETTINGS, failed)
    with patch.object(news_app.app, "crash", AsyncMock()) as crash:
        async with news_app.analyze.test_context():
            await until_called(crash, 1)
    assert isinstance(crash.await_args.args[0], OSError)


STAND_IN_ANALYZER = Analyzer(WordHashEmbedder(), BlankParser())


def analyzed_record(article_id: str, body: str, url: str | None = None) -> bytes:
    raw = RawArticle(id=article_id, source="Test", title="T", body=body, url=url)
    (analyzed,) = STAND_IN_ANALYZER.analyze([ReceivedArticle(raw, 1_700_000_000.0)])
    assert isinstance(analyzed, AnalyzedArticle)
    return analyzed.to_bytes()


async def test_decide_agent_routes_originals_and_copies_and_replays_identically() -> None:
    metrics = Metrics()
    news_app = create_app(AGENT_SETTINGS, STAND_IN_ANALYZER, metrics)
    topics = news_app.topics
    with (
        patch.object(topics.enriched, "send", AsyncMock()) as enriched,
        patch.object(topics.duplicates, "send", AsyncMock()) as duplicates,
        patch.object(topics.events, "send", AsyncMock()),
    ):
        async with news_app.decide.test_context() as agent:
            first = analyzed_record("o1", "dock workers strike at the port of rotterdam over pay", "https://a.example/x")
            await agent.put(first, key=b"o1")
            await agent.put(analyzed_record("c1", "dock workers strike at the port of rotterdam over pay today"), key=b"c1")
            await agent.put(analyzed_record("c2", "totally different words", "https://www.a.example/x?utm_source=rss"), key=b"c2")
            await agent.put(first, key=b"o1")  # a replay after a crash

    assert [call.kwargs["key"] for call in enriched.await_args_list] == [b"o1", b"o1"]
    assert enriched.await_args_list[0].kwargs["value"] == enriched.await_args_list[1].kwargs["value"]
    notices = [orjson.loads(call.kwargs["value"]) for call in duplicates.await_args_list]
    assert [(n["id"], n["duplicate_of"], n["tier"]) for n in notices] == [
        ("c1", "o1", "near_duplicate"),
        ("c2", "o1", "exact"),
    ]
    assert list(news_app.index.key_of) == ["o1"]
    verdicts = {tier: metrics.registry.get_sample_value("newsstream_duplicates_total", {"tier": tier}) for tier in ("unique", "near_duplicate", "exact")}
    assert verdicts == {"unique": 2.0, "near_duplicate": 1.0, "exact": 1.0}  # the replay counted as its verdict again


def test_the_app_takes_its_group_commit_and_linger_timing_from_the_settings() -> None:
    settings = AGENT_SETTINGS.model_copy(
        update={"commit_interval_s": 0.5, "session_timeout_s": 9.0, "producer_linger_ms": 25}
    )
    conf = create_app(settings, Analyzer(WordHashEmbedder(), BlankParser())).app.conf
    assert conf.producer_linger == 0.025
    assert conf.broker_commit_interval == 0.5
    assert conf.broker_session_timeout == 9.0
    assert conf.broker_heartbeat_interval == 3.0


async def test_an_article_whose_output_record_is_over_the_limit_is_dead_lettered_not_sent() -> None:
    limit = 64 * 1024
    settings = AGENT_SETTINGS.model_copy(update={"max_output_bytes": limit})
    news_app = create_app(settings, Analyzer(WordHashEmbedder(), BlankParser()))
    long_body = "The ferry left the harbour on time. " * 2_500  # 90,000 characters: an analysis of over 64 KiB
    topics = news_app.topics
    with (
        patch.object(topics.analyzed, "send", AsyncMock()) as analyzed,
        patch.object(topics.enriched, "send", AsyncMock()) as enriched,
        patch.object(topics.events, "send", AsyncMock()) as events,
        patch.object(topics.deadletter, "send", AsyncMock()) as deadletter,
    ):
        async with news_app.analyze.test_context() as agent:
            await agent.put(article("short", "The ferry left the harbour on time."), key=b"short", wait=False)
            await agent.put(article("long", long_body), key=b"long", wait=False)
            await until_called(analyzed, 1)
            await until_called(deadletter, 1)
        # A record on the analysed topic whose enriched form is too large (e.g. sent by a worker with a higher limit).
        async with news_app.decide.test_context() as agent:
            await agent.put(analyzed_record("long-analysed", long_body), key=b"long-analysed")

    assert [call.kwargs["key"] for call in analyzed.await_args_list] == [b"short"]
    assert not enriched.await_args_list and not events.await_args_list
    letters = [DeadLetter.model_validate_json(call.kwargs["value"]) for call in deadletter.await_args_list]
    assert [(letter.reason, letter.stage) for letter in letters] == [("too_large", "analyze"), ("too_large", "decide")]
    assert orjson.loads(letters[0].original)["id"] == "long"  # the raw message, byte for byte
    assert AnalyzedArticle.model_validate_json(letters[1].original).article.id == "long-analysed"
    assert all("NEWSSTREAM_MAX_OUTPUT_BYTES" in letter.detail for letter in letters)


def test_each_role_builds_only_its_own_agents_and_state() -> None:
    analyze_only = create_app(AGENT_SETTINGS.model_copy(update={"worker_role": "analyze"}), STAND_IN_ANALYZER)
    # No table: a worker of the analyze role neither restores nor stands by for the dedup changelog.
    assert (analyze_only.decide, analyze_only.index, list(analyze_only.app.tables)) == (None, None, [])
    assert [agent.name for agent in analyze_only.app.agents.values()] == ["analyze"]

    decide_only = create_app(AGENT_SETTINGS.model_copy(update={"worker_role": "decide"}), None)
    assert decide_only.analyze is None and decide_only.index is not None
    assert list(decide_only.app.tables) == ["dedup"]
    assert [agent.name for agent in decide_only.app.agents.values()] == ["decide"]

    with pytest.raises(ValueError, match="needs an analyzer"):
        create_app(AGENT_SETTINGS.model_copy(update={"worker_role": "all"}), None)
