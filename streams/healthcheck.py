"""Container health check: the worker's ``/healthz`` answers 200 (agents started, event loop responsive).
``python -m streams.healthcheck``; exit 0 or 1.

The worker image has no curl; this reads the same settings as the worker, so it probes the address the worker serves.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from streams.settings import Settings

# A wildcard bind serves loopback too; probe loopback then.
_WILDCARD_TO_LOOPBACK = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}


def health_url(settings: Settings) -> str:
    host = _WILDCARD_TO_LOOPBACK.get(settings.metrics_bind, settings.metrics_bind)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.metrics_port}/healthz"


def check(settings: Settings, timeout_s: float = 5.0) -> str | None:
    """None when the health endpoint answers 200, else what went wrong (with the worker's own explanation)."""
    if not settings.metrics_enabled:
        return "metrics are disabled (NEWSSTREAM_METRICS_ENABLED=false): nothing to probe"
    url = health_url(settings)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}: {exc.read().decode(errors='replace').strip()}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"


def main() -> None:
    problem = check(Settings())
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
