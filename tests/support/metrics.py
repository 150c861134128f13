"""Scraping a test server's /metrics: the samples, looked up by name and labels."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Scrape:
    """One scrape: every sample as (name, labels, value), and the declared family names."""

    samples: list[tuple[str, dict[str, str], float]]
    families: dict[str, str]  # family name -> type

    def total(self, name: str, **labels: str) -> float:
        """The sum of the samples named `name` whose labels include `labels` (0 if none)."""
        return sum(
            value
            for sample, have, value in self.samples
            if sample == name and all(have.get(k) == v for k, v in labels.items())
        )

    def label_values(self, name: str, label: str) -> set[str]:
        return {have[label] for sample, have, _ in self.samples if sample == name and label in have}

    def exports(self, name: str) -> bool:
        """A sample or family of this name (histogram and counter suffixes included)."""
        if any(sample == name for sample, _, _ in self.samples):
            return True
        for family, kind in self.families.items():
            suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}.get(kind, ())
            if name == family or name in {family + s for s in suffixes}:
                return True
        return False


def scrape(address: str) -> Scrape:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples: list[tuple[str, dict[str, str], float]] = []
    families: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = family.type
        samples.extend((s.name, dict(s.labels), s.value) for s in family.samples)
    return Scrape(samples, families)


def scrape_until(address: str, ready: Callable[[Scrape], bool], timeout: float = 20.0) -> Scrape:
    """Scrape until `ready` holds (bounded): for what the server records after it answers."""
    deadline = time.monotonic() + timeout
    while True:
        got = scrape(address)
        if ready(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)
