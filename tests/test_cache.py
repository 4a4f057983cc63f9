"""The cache: get/set/delete with TTL and counters, on disk and on Redis."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from paissive_income.cache import DiskCache, RedisCache, create_cache


@pytest.fixture(params=["disk", "redis"])
def cache(request, tmp_path):
    if request.param == "disk":
        backend = DiskCache(tmp_path / "cache")
    else:
        url = request.getfixturevalue("redis_url")
        backend = RedisCache(url, prefix=f"test-{uuid.uuid4().hex}:")
    yield backend
    backend.close()


def test_set_get_delete(cache):
    assert cache.get("missing", "default") == "default"
    cache.set("k", {"answer": [42, "x"]})
    assert cache.get("k") == {"answer": [42, "x"]}
    cache.delete("k")
    assert cache.get("k") is None


def test_ttl_expires(cache):
    cache.set("short", "v", ttl=0.2)
    assert cache.get("short") == "v"
    time.sleep(0.4)
    assert cache.get("short") is None


def test_incr_counts_within_a_window(cache):
    assert [cache.incr("hits", ttl=0.3) for _ in range(3)] == [1, 2, 3]
    time.sleep(0.5)
    assert cache.incr("hits", ttl=0.3) == 1


@pytest.mark.parametrize("backend", ["disk", "redis"])
def test_incr_is_atomic_across_workers(backend, tmp_path, request):
    """400 simultaneous increments from 4 workers' caches: none is lost or counted twice."""
    if backend == "disk":
        workers = [DiskCache(tmp_path / "shared") for _ in range(4)]
    else:
        url, prefix = request.getfixturevalue("redis_url"), f"test-{uuid.uuid4().hex}:"
        workers = [RedisCache(url, prefix=prefix) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        counts = list(pool.map(lambda i: workers[i % 4].incr("race", ttl=60), range(400)))
    assert sorted(counts) == list(range(1, 401))
    for worker in workers:
        worker.close()


def test_release_takes_one_back_and_never_creates_a_counter(cache):
    assert [cache.incr("tries", ttl=0.3) for _ in range(3)] == [1, 2, 3]
    cache.release("tries")
    assert cache.incr("tries", ttl=0.3) == 3
    cache.release("never-counted")
    assert cache.get("never-counted") is None
    time.sleep(0.5)
    cache.release("tries")  # expired: releasing must not revive it at -1 with no expiry
    assert cache.get("tries") is None
    assert cache.incr("tries", ttl=0.3) == 1


def test_ping_passes_on_a_working_cache(cache):
    assert cache.ping() is None


@pytest.mark.parametrize("backend", ["disk", "redis"])
def test_ping_raises_when_the_backend_is_broken(backend, tmp_path):
    if backend == "disk":
        broken = DiskCache(tmp_path / "cache")
        broken.close()
        (tmp_path / "cache" / "cache.db").write_bytes(b"not a database" * 512)
    else:
        broken = RedisCache("redis://127.0.0.1:1/0")
    with pytest.raises(Exception, match="(?i)not a database|connect"):
        broken.ping()


def test_create_cache_picks_backend(tmp_path):
    disk = create_cache(redis_url=None, directory=tmp_path)
    assert disk.name == "disk"
    disk.close()
    remote = create_cache(redis_url="redis://127.0.0.1:1/0", directory=tmp_path)
    assert remote.name == "redis"
    with pytest.raises(Exception, match="(?i)connect"):
        remote.ping()
