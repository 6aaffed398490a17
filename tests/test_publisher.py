"""The publisher against a local HTTP server on 127.0.0.1: encodings, conditional GET, state across restarts,
back-off, full-text extraction, and the counts it reports."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from rich.progress import Progress

from models import RawArticle
from streams.feeds import parse_feed
from streams.fulltext import FullTextExtractor
from streams.kafka_clients import producer
from streams.publisher import (
    Document,
    Follower,
    KafkaSink,
    PublishError,
    Publisher,
    PublisherState,
    SourceError,
    expand_sources,
    fetch,
    http_client,
    publish_once,
)
from streams.settings import Settings
from tests.datasets import dataset_dir


def rss(*items: tuple[str, str, str], encoding: str = "utf-8") -> bytes:
    """A small RSS 2.0 document of (guid, title, description) items, written for these tests."""
    body = "".join(
        f"<item><guid isPermaLink='false'>{guid}</guid><title>{title}</title><link>/news/{guid}</link>"
        f"<pubDate>Mon, 16 Nov 2026 09:00:00 +0100</pubDate><description>{text}</description></item>"
        for guid, title, text in items
    )
    document = (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>Harbour Gazette</title>'
        f"<link>https://gazette.example.org/</link><language>en</language>{body}</channel></rss>"
    )
    return document.encode(encoding)


FERRY = ("n1", "Ferry returns to the harbour", "The ferry service resumed on Monday after repairs.")
MARKET = ("n2", "Fish market moves indoors", "The Saturday fish market moves into the old warehouse.")
BRIDGE = ("n3", "Bridge painting starts", "Painters begin work on the swing bridge next week.")
GALLERY = ("n4", "Photo gallery", "&lt;img src='/p.jpg'/&gt;")

ARTICLE_PAGE = (
    "<html><head><title>Ferry returns</title></head><body><nav>Home | Sport | Weather</nav><article>"
    "<h1>Ferry returns to the harbour</h1>"
    + "".join(
        f"<p>{sentence}</p>"
        for sentence in (
            "The ferry service across the harbour resumed on Monday after three weeks of repairs to the landing stage.",
            "Commuters said the crossing saved them forty minutes each way compared with the coast road.",
            "The operator plans to add an early sailing at six in the morning from the first of December.",
            "Repairs cost less than expected because the old timber piles could be reused in the new structure.",
        )
    )
    + "</article><footer>Contact the newsroom</footer></body></html>"
)


@dataclass
class Resource:
    body: bytes
    content_type: str = "application/rss+xml"
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FeedServer:
    """Serves resources by path; answers conditional GETs; fails with ``failures`` statuses first, if any."""

    resources: dict[str, Resource] = field(default_factory=dict)
    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    state = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            headers = {key.lower(): value for key, value in self.headers.items()}
            state.requests.append((self.path, headers))
            if state.failures:
                status, extra = state.failures.pop(0)
                self._answer(status, b"unavailable", "text/plain", extra)
                return
            resource = state.resources.get(self.path)
            if resource is None:
                self._answer(404, b"not here", "text/plain")
                return
            fresh = (resource.etag and headers.get("if-none-match") == resource.etag) or (
                resource.last_modified and headers.get("if-modified-since") == resource.last_modified
            )
            if fresh:
                self._answer(304, b"", resource.content_type)
                return
            validators = {"ETag": resource.etag, "Last-Modified": resource.last_modified}
            self._answer(200, resource.body, resource.content_type, {k: v for k, v in validators.items() if v})

        def _answer(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


class ListSink:
    def __init__(self, fail: bool = False) -> None:
        self.messages: list[tuple[bytes, bytes]] = []
        self.fail = fail

    def send(self, key: bytes, value: bytes) -> None:
        self.messages.append((key, value))

    def flush(self) -> None:
        if self.fail:
            raise PublishError("1 of 1 messages not acknowledged: broker down")

    def articles(self) -> list[RawArticle]:
        return [RawArticle.model_validate_json(value) for _, value in self.messages]


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with http_client(timeout_s=5) as http:
        yield http


def make_publisher(sink: ListSink, state: PublisherState | None = None, **kwargs: object) -> Publisher:
    return Publisher(sink, max_message_bytes=1_048_576, max_body_chars=200_000, state=state, **kwargs)  # type: ignore[arg-type]


def test_url_feed_is_published_with_links_resolved_and_counts(server: FeedServer, client: httpx.Client) -> None:
    server.resources["/feed.xml"] = Resource(rss(FERRY, MARKET, FERRY, GALLERY))
    sink = ListSink()
    (report,) = publish_once(make_publisher(sink), [server.url("/feed.xml")], client, stdin=None)
    assert (report.published, report.skipped, len(report.invalid)) == (2, 1, 1)  # FERRY twice; GALLERY has no text
    assert report.invalid[0].startswith("entry 4 (Photo gallery): no text")
    ferry, market = sink.articles()
    assert str(ferry.url) == server.url("/news/n1")  # relative link resolved against the feed's URL
    assert (ferry.title, ferry.source, ferry.language) == ("Ferry returns to the harbour", "Harbour Gazette", "en")
    assert [key.decode() for key, _ in sink.messages] == [ferry.id, market.id]


def test_encoding_from_the_declaration_or_from_http(server: FeedServer, client: httpx.Client) -> None:
    title = "Café reopens on the quay – «finally»"
    declared = rss(("c1", title, "Coffee is back."), encoding="cp1252")
    server.resources["/declared.xml"] = Resource(declared, "text/xml")  # no charset: the XML declaration decides
    # A server that names the charset while the document declares another: HTTP wins (RFC 7303).
    mislabelled = rss(("c2", title, "Coffee is back."), encoding="cp1252").replace(b"cp1252", b"utf-8")
    server.resources["/http.xml"] = Resource(mislabelled, "application/rss+xml; charset=windows-1252")
    sink = ListSink()
    reports = publish_once(make_publisher(sink), [server.url("/declared.xml"), server.url("/http.xml")], client, None)
    assert [report.published for report in reports] == [1, 1]
    assert [article.title for article in sink.articles()] == [title, title]


def test_gb2312_feed_over_http(server: FeedServer, client: httpx.Client) -> None:
    document = (dataset_dir("rss_atom_feeds") / "rsparser" / "kc0011.rss").read_bytes()
    expected = [entry.title for entry in parse_feed(document).entries]
    for path, content_type in (("/plain.rss", "text/xml"), ("/named.rss", "text/xml; charset=gb2312")):
        server.resources[path] = Resource(document, content_type)
        sink = ListSink()
        (report,) = publish_once(make_publisher(sink), [server.url(path)], client, stdin=None)
        assert report.problem is None and report.published == len(expected) == 20
        assert [article.title for article in sink.articles()] == expected


def test_follow_uses_conditional_get_and_remembers_across_a_restart(
    server: FeedServer, client: httpx.Client, tmp_path: Path
) -> None:
    url = server.url("/feed.xml")
    server.resources["/feed.xml"] = Resource(rss(FERRY, MARKET), etag='"v1"', last_modified="Mon, 16 Nov 2026 09:00:00 GMT")
    state_path = tmp_path / "state" / "publisher.json"
    sink = ListSink()
    now = [0.0]
    follower = Follower(
        make_publisher(sink, PublisherState.load(state_path)), [url], client, interval_s=60, max_backoff_s=600,
        clock=lambda: now[0],
    )
    (first,) = follower.poll_due()
    assert first.published == 2
    assert follower.poll_due() == []  # not due yet
    now[0] = 60
    (second,) = follower.poll_due()
    assert second.not_modified and second.published == 0
    assert server.requests[-1][1]["if-none-match"] == '"v1"'
    assert server.requests[-1][1]["if-modified-since"] == "Mon, 16 Nov 2026 09:00:00 GMT"

    server.resources["/feed.xml"] = Resource(rss(BRIDGE, FERRY, MARKET), etag='"v2"')
    now[0] = 120
    (third,) = follower.poll_due()
    assert (third.published, third.skipped) == (1, 2)
    assert [article.title for article in sink.articles()][-1] == "Bridge painting starts"

    saved = json.loads(state_path.read_text())
    assert saved["sources"][url]["etag"] == '"v2"' and len(saved["sources"][url]["published"]) == 3

    # A restart: a new publisher and follower from the saved state republish nothing.
    server.resources["/feed.xml"] = Resource(rss(BRIDGE, FERRY, MARKET), etag='"v3"')
    restarted_sink = ListSink()
    restarted = Follower(
        make_publisher(restarted_sink, PublisherState.load(state_path)), [url], client, interval_s=60,
        max_backoff_s=600, clock=lambda: now[0],
    )
    (after_restart,) = restarted.poll_due()
    assert server.requests[-1][1]["if-none-match"] == '"v2"'
    assert (after_restart.published, after_restart.skipped) == (0, 3)
    assert restarted_sink.messages == []


def test_follow_backs_off_on_errors_and_honours_retry_after(server: FeedServer, client: httpx.Client) -> None:
    url = server.url("/feed.xml")
    server.resources["/feed.xml"] = Resource(rss(FERRY))
    server.failures = [(503, {}), (500, {}), (503, {}), (429, {"Retry-After": "900"})]
    now = [0.0]
    follower = Follower(
        make_publisher(ListSink()), [url], client, interval_s=10, max_backoff_s=60, clock=lambda: now[0]
    )
    delays = []
    for _ in range(5):
        (report,) = follower.poll_due()
        delays.append(report.retry_in_s)
        if report.readable:
            break
        assert "HTTP 5" in (report.problem or "") or "HTTP 429" in (report.problem or "")
        now[0] += (report.retry_in_s or 0) - 1
        assert follower.poll_due() == []  # not before its time
        now[0] += 1
    assert delays == [20, 40, 60, 900, 10]  # doubling up to the ceiling; Retry-After wins; success resets
    assert report.published == 1


def test_a_broker_failure_is_retried_and_nothing_is_remembered(
    server: FeedServer, client: httpx.Client, tmp_path: Path
) -> None:
    url = server.url("/feed.xml")
    server.resources["/feed.xml"] = Resource(rss(FERRY), etag='"v1"')
    state = PublisherState.load(tmp_path / "state.json")
    now = [0.0]
    follower = Follower(
        make_publisher(ListSink(fail=True), state), [url], client, interval_s=10, max_backoff_s=60, clock=lambda: now[0]
    )
    (report,) = follower.poll_due()
    assert not report.readable and "not acknowledged" in (report.problem or "")
    assert report.retry_in_s == 20
    assert not (tmp_path / "state.json").exists() and state.source(url).published == []


def test_unreadable_sources_say_why(server: FeedServer, client: httpx.Client, tmp_path: Path) -> None:
    server.resources["/page.html"] = Resource(b"<html><body>Hello</body></html>", "text/html")
    closed = httpx.URL(server.url("/")).copy_with(port=1)
    (tmp_path / "empty").mkdir()
    reports = publish_once(
        make_publisher(ListSink()),
        [server.url("/missing.xml"), server.url("/page.html"), str(closed), str(tmp_path / "nope.xml")],
        client,
        stdin=None,
    )
    problems = [report.problem or "" for report in reports]
    assert not any(report.readable for report in reports)
    assert problems[0].endswith("/missing.xml: HTTP 404 Not Found")
    assert "not an RSS or Atom feed" in problems[1]
    assert "ConnectError" in problems[2]
    assert problems[3].endswith("nope.xml: No such file or directory")
    with pytest.raises(SourceError, match="no feed or JSON Lines files"):
        list(expand_sources([str(tmp_path / "empty")]))


def test_stdin_json_lines_are_published_unchanged() -> None:
    lines = b'{"id": "a1", "source": "Gazette", "body": "Text one."}\n{"id": "a1", "source": "Gazette", "body": "x"}\n[1]\n'
    sink = ListSink()
    (report,) = publish_once(make_publisher(sink), ["-"], None, stdin=io.BytesIO(lines))
    assert (report.published, report.skipped, report.invalid) == (1, 1, ["line 3: not_an_object: expected a JSON object, got list"])
    assert sink.messages == [(b"a1", lines.splitlines()[0])]


def test_full_text_replaces_a_summary_but_not_content(server: FeedServer, client: httpx.Client) -> None:
    server.resources["/news/n1"] = Resource(ARTICLE_PAGE.encode(), "text/html; charset=utf-8")
    with_content = rss(MARKET).replace(
        b"</description>", b"</description><content:encoded>Full market story here.</content:encoded>"
    ).replace(b'<rss version="2.0">', b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">')
    server.resources["/summary.xml"] = Resource(rss(FERRY))
    server.resources["/content.xml"] = Resource(with_content)
    sink = ListSink()
    publisher = make_publisher(sink, full_text=FullTextExtractor(client))
    publish_once(publisher, [server.url("/summary.xml"), server.url("/content.xml")], client, stdin=None)
    ferry, market = sink.articles()
    assert "forty minutes each way" in ferry.body and "landing stage" in ferry.body
    assert "Home | Sport" not in ferry.body and "Contact the newsroom" not in ferry.body
    assert market.body == "Full market story here."
    assert [path for path, _ in server.requests].count("/news/n2") == 0  # entries with content are not fetched


def test_full_text_falls_back_to_the_summary_when_the_page_fails(server: FeedServer, client: httpx.Client) -> None:
    server.resources["/summary.xml"] = Resource(rss(FERRY))  # /news/n1 is missing: 404
    sink = ListSink()
    publish_once(make_publisher(sink, full_text=FullTextExtractor(client)), [server.url("/summary.xml")], client, None)
    assert sink.articles()[0].body == FERRY[2]


def test_progress_covers_every_entry() -> None:
    progress = Progress(console=Console(file=io.StringIO()))
    with progress:
        document = Document("inline.xml", rss(FERRY, MARKET, BRIDGE), fetched_at=datetime(2026, 11, 16, tzinfo=UTC))
        make_publisher(ListSink(), progress=progress).publish_document(document)
    (task,) = progress.tasks
    assert (task.description, task.total, task.completed) == ("inline.xml", 3, 3)


def test_a_corrupt_state_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="move it away to start afresh"):
        PublisherState.load(path)


def test_fetch_sends_validators(server: FeedServer, client: httpx.Client) -> None:
    server.resources["/feed.xml"] = Resource(rss(FERRY), etag='"e"')
    assert fetch(client, server.url("/feed.xml"), etag='"e"') is None
    document = fetch(client, server.url("/feed.xml"), etag='"old"')
    assert document is not None and document.etag == '"e"' and document.content == rss(FERRY)


def test_ids_do_not_depend_on_where_the_feed_was_read(server: FeedServer, client: httpx.Client) -> None:
    # A GUID without isPermaLink="false" is a permalink by default, even when it is not a URL.
    document = rss(FERRY).replace(b"<guid isPermaLink='false'>", b"<guid>")
    document = document.replace(b"<link>/news/", b"<link>https://gazette.example.org/news/")
    server.resources["/feed.xml"] = Resource(document)
    from_url = ListSink()
    publish_once(make_publisher(from_url), [server.url("/feed.xml")], client, stdin=None)
    from_stdin = ListSink()
    publish_once(make_publisher(from_stdin), ["-"], None, stdin=io.BytesIO(document))
    assert from_url.messages[0][0] == from_stdin.messages[0][0]
    assert from_url.articles() and from_url.articles()[0].url == from_stdin.articles()[0].url


@pytest.mark.integration
def test_a_message_the_producer_refuses_is_a_publish_error_not_a_crash(settings: Settings) -> None:
    """kafka-python raises some failures from send() itself (too large, metadata wait timed out, denied): the
    publisher reports them as failed publishing, so --follow backs off instead of dying."""
    sink = KafkaSink(producer(settings), settings.topic_raw)
    try:
        with pytest.raises(PublishError, match="MessageSizeTooLargeError"):
            sink.send(b"big", b"x" * (17 * 1024 * 1024))
        sink.send(b"small", b'{"id": "small", "source": "Gazette", "body": "Still works."}')
        sink.flush()
    finally:
        sink.close()
