"""Collectors read at scrape time: readiness as gauges, cached so scrapes spare the dependency."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from paissive_income.observability.metrics import CachedCollector, ReadinessCollector


def _scrape(collector) -> dict[tuple, float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_readiness_checks_become_gauges_read_once_per_ttl():
    calls = {"database": 0, "cache": 0}
    now = [100.0]

    def database() -> None:
        calls["database"] += 1

    def cache() -> None:
        calls["cache"] += 1
        raise ConnectionError("redis is gone\nsecond line")

    collector = ReadinessCollector(
        {"database": database, "cache": cache}, ttl=10, clock=lambda: now[0]
    )
    expected = {
        ("paissive_readiness_check_ok", (("check", "database"),)): 1.0,
        ("paissive_readiness_check_ok", (("check", "cache"),)): 0.0,
    }
    assert _scrape(collector) == expected
    now[0] = 109.9
    assert _scrape(collector) == expected and calls == {"database": 1, "cache": 1}
    now[0] = 110.0
    assert _scrape(collector) == expected and calls == {"database": 2, "cache": 2}


def test_concurrent_scrapes_wait_for_the_one_read():
    reads = []

    class Slow(CachedCollector):
        def read(self):
            reads.append(threading.get_ident())
            time.sleep(0.3)
            return []

    collector = Slow(ttl=60)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: list(collector.collect()), range(8)))
    assert len(reads) == 1


def test_a_failing_read_answers_the_scrape_without_samples_and_is_retried_after_ttl(caplog):
    now = [0.0]
    attempts = []

    class Broken(CachedCollector):
        def read(self):
            attempts.append(now[0])
            raise RuntimeError("boom")

    collector = Broken(ttl=5, clock=lambda: now[0])
    assert _scrape(collector) == {} and _scrape(collector) == {}
    assert attempts == [0.0] and "Broken failed" in caplog.text
    now[0] = 5.0
    assert _scrape(collector) == {} and attempts == [0.0, 5.0]


def test_a_hanging_read_never_holds_the_scrape_past_its_wait():
    release = threading.Event()
    values = iter([1.0, 2.0])

    class Hanging(CachedCollector):
        def read(self):
            value = next(values)
            if value == 2.0:
                release.wait(10)  # a dependency that does not answer
            yield GaugeMetricFamily("paissive_test_value", "A value.", value=value)

    now = [0.0]
    collector = Hanging(ttl=5, wait=0.2, clock=lambda: now[0])
    assert _scrape(collector) == {("paissive_test_value", ()): 1.0}
    now[0] = 5.0
    began = time.monotonic()
    assert _scrape(collector) == {("paissive_test_value", ()): 1.0}  # the previous answer
    assert _scrape(collector) == {("paissive_test_value", ()): 1.0}  # no second read started
    assert time.monotonic() - began < 1.0
    release.set()
    time.sleep(0.2)
    assert _scrape(collector) == {("paissive_test_value", ()): 2.0}
