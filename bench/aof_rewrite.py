"""What an AOF rewrite alone costs writes under `appendfsync always`, on this machine's disk.

    python bench/aof_rewrite.py [--megabytes 400] [--seconds 20]

Starts a redis-server of its own (the embedded binary, in a temporary directory, configured as
planwatch's embedded server: `appendonly yes`, `appendfsync always`, automatic rewrites off),
fills it with about `--megabytes` of stream entries, then times one XADD a millisecond: first
for 5 s with nothing else going on (the raw limit), then for `--seconds` while BGREWRITEAOF
rewrites the whole dataset. Prints p50/p99/max of each and how long the rewrite took.
`bench/scale.py` saw second-long delays when an automatic rewrite fell in its window
(docs/design/store.md): this separates the rewrite from the worker's own writes.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from services.store.connection import embedded_binary

ENTRY = "x" * 1000  # 1 kB an entry


def start(home: Path) -> redis.Redis:
    socket = home / "redis.sock"
    subprocess.run(
        [
            str(embedded_binary()),
            *("--port", "0", "--unixsocket", str(socket), "--dir", str(home), "--daemonize", "yes"),
            *("--appendonly", "yes", "--appendfsync", "always", "--save", ""),
            *("--auto-aof-rewrite-percentage", "0", "--logfile", str(home / "redis.log")),
        ],
        check=True,
    )
    client = redis.Redis(unix_socket_path=str(socket))
    for _ in range(100):
        try:
            client.ping()
            return client
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("the redis-server did not start")


def fill(client: redis.Redis, megabytes: int) -> None:
    entries = megabytes * 1000
    for start_at in range(0, entries, 2000):
        pipe = client.pipeline(transaction=False)
        for n in range(start_at, min(start_at + 2000, entries)):
            pipe.xadd(f"stream{n % 500}", {"data": ENTRY})
        pipe.execute()
        print(f"\r  filling: {start_at + 2000:,}/{entries:,} entries", end="", flush=True)
    print()


def probe(client: redis.Redis, seconds: float, rewrite_after: float | None = None) -> list[float]:
    """XADD latencies (ms), one a millisecond; BGREWRITEAOF after `rewrite_after` seconds."""
    latencies: list[float] = []
    start = time.perf_counter()
    rewriting = False
    while time.perf_counter() - start < seconds:
        if rewrite_after is not None and not rewriting and time.perf_counter() - start > rewrite_after:
            client.bgrewriteaof()
            rewriting = True
        sent = time.perf_counter()
        client.xadd("probe", {"data": "y"})
        latencies.append((time.perf_counter() - sent) * 1000)
        time.sleep(0.001)
    return sorted(latencies)


def figures(latencies: list[float]) -> str:
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    return f"{len(latencies):,} XADDs: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {latencies[-1]:.1f} ms"


def main(megabytes: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="planwatch-aof-") as directory:
        client = start(Path(directory))
        try:
            fill(client, megabytes)
            print(f"AOF rewrite benchmark: {client.info('memory')['used_memory_human']} in Redis, appendfsync always")
            print(f"  nothing else going on (raw limit): {figures(probe(client, 5))}")
            print(f"  while the AOF is rewritten:        {figures(probe(client, seconds, rewrite_after=1))}")
            while client.info("persistence")["aof_rewrite_in_progress"]:
                time.sleep(0.2)
            print(f"  the rewrite took {client.info('persistence')['aof_last_rewrite_time_sec']} s")
        finally:
            client.shutdown(nosave=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=400, help="data to fill the server with")
    parser.add_argument("--seconds", type=float, default=20, help="how long to probe while rewriting")
    args = parser.parse_args()
    main(args.megabytes, args.seconds)
