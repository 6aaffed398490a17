"""Container health check: the worker answers on its Prometheus endpoint. ``python -m streams.healthcheck``; exit 0 or 1.

The worker image has no curl; this reads the same settings as the worker, so it probes the address the worker serves.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from streams.settings import Settings

# A wildcard bind serves loopback too; probe loopback then.
_WILDCARD_TO_LOOPBACK = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}


def metrics_url(settings: Settings) -> str:
    host = _WILDCARD_TO_LOOPBACK.get(settings.metrics_bind, settings.metrics_bind)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.metrics_port}/metrics"


def check(settings: Settings, timeout_s: float = 5.0) -> str | None:
    """None when the metrics endpoint answers 200, else what went wrong."""
    if not settings.metrics_enabled:
        return "metrics are disabled (NEWSSTREAM_METRICS_ENABLED=false): nothing to probe"
    url = metrics_url(settings)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"


def main() -> None:
    problem = check(Settings())
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
