"""A stand-in for Prometheus: ``python -m benchmarks._scraper URL INTERVAL|xCOUNT``.

Runs in its own process, as Prometheus would, so its client-side work (HTTP parsing,
un-gzipping) is not billed to the event loop being measured. It keeps one HTTP/1.1
connection alive and asks for what Prometheus asks for (OpenMetrics first, gzip).

- ``INTERVAL`` (seconds, e.g. ``0.05``): scrape, print ``ready`` after the first scrape,
  then scrape every INTERVAL until stdin closes; then print one JSON line.
- ``xCOUNT`` (e.g. ``x15``): COUNT scrapes back to back, then print one JSON line.

The JSON line holds ``scrapes`` and ``ms`` (each GET's wall time, client side: request,
server collect + encode + gzip, transfer, read and un-gzip of the body) and ``bytes`` (the
last body, uncompressed).
"""

from __future__ import annotations

import gzip
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit

# What Prometheus 2.x sends (scrape_protocols default).
ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


class Scraper:
    """One kept-alive connection to the endpoint."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, 10)
        self.path = parts.path or "/"
        self.times_ms: list[float] = []
        self.last_bytes = 0

    def scrape(self) -> None:
        start = time.perf_counter()
        self.conn.request("GET", self.path, headers={"Accept": ACCEPT, "Accept-Encoding": "gzip"})
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"scrape answered {response.status}")
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.times_ms.append((time.perf_counter() - start) * 1000)
        self.last_bytes = len(body)

    def report(self) -> None:
        figures = {"scrapes": len(self.times_ms), "ms": self.times_ms, "bytes": self.last_bytes}
        print(json.dumps(figures), flush=True)


def main(argv: list[str]) -> int:
    """Scrape as the arguments say, then report."""
    url, mode = argv[0], argv[1]
    scraper = Scraper(url)
    if mode.startswith("x"):
        for _ in range(int(mode[1:])):
            scraper.scrape()
        scraper.report()
        return 0
    interval = float(mode)
    stop = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    scraper.scrape()
    print("ready", flush=True)
    while not stop.wait(interval):
        scraper.scrape()
    scraper.report()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
