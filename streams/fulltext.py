"""Full text of a linked article page, for feed entries that carry only a summary (trafilatura does the extraction)."""

from __future__ import annotations

import logging

import httpx
import trafilatura

log = logging.getLogger(__name__)


class FullTextExtractor:
    """Fetches a page and extracts its main text; ``None`` when the page cannot be fetched or holds no article."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def extract(self, url: str) -> str | None:
        try:
            response = self.client.get(url)
            response.raise_for_status()
        except httpx.HTTPError as error:
            log.warning("full text of %s not fetched: %s", url, error)
            return None
        text = trafilatura.extract(
            response.text, url=str(response.url), include_comments=False, include_tables=False, favor_precision=True
        )
        return text.strip() if text and text.strip() else None
