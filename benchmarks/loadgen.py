"""The serving benchmark's load generator: an asyncio HTTP/1.1 client in Python.

The Python client keeps one keep-alive connection per simulated client, all in
one event loop (far cheaper per request than a thread per client), sends
prebuilt requests and reads each answer before sending the next on that
connection (closed loop). It records each request's latency, status and how
many predictions it was answered.

Traffic goes to loopback only; every run is bounded in requests and seconds.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LoadResult:
    """What a burst measured."""

    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    answered: int = 0  # predictions received in 200 answers
    client: str = "python"

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def summary(self) -> dict:
        return {
            "client": self.client, "requests": self.requests, "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.requests / self.seconds, 1),
            "predictions_per_second": round(self.answered / self.seconds, 1),
            "latency_ms_p50": round(self.percentile(50), 2),
            "latency_ms_p99": round(self.percentile(99), 2),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=str)},
            "answered": self.answered,
        }


def http_request(method: str, path: str, host: str, api_key: str | None,
                 payload: object | None = None) -> bytes:
    """One HTTP/1.1 request as bytes (keep-alive)."""
    body = b"" if payload is None else json.dumps(payload).encode()
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if api_key:
        head.append(f"Authorization: Bearer {api_key}")
    if payload is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _client(host: str, port: int, requests: list[bytes], next_index: list[int],
                  total: int, deadline: float, result: LoadResult) -> None:
    reader = writer = None
    try:
        while next_index[0] < total and time.monotonic() < deadline:
            raw = requests[next_index[0] % len(requests)]
            next_index[0] += 1
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
                writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            began = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            match = re.search(rb"(?i)content-length:\s*(\d+)", head)
            body = await reader.readexactly(int(match.group(1))) if match else b""
            result.latencies_ms.append((time.perf_counter() - began) * 1000)
            status = int(head[9:12])
            result.statuses[status] += 1
            if status == 200:
                result.answered += body.count(b'"prediction_id"')
            if re.search(rb"(?i)connection:\s*close", head):
                writer.close()
                reader = writer = None
    except (OSError, asyncio.IncompleteReadError) as error:
        result.statuses[type(error).__name__] += 1
    finally:
        if writer is not None:
            writer.close()


def python_burst(url: str, requests: list[bytes], total: int, concurrency: int,
                 max_seconds: float) -> LoadResult:
    """Send ``total`` requests (cycling through ``requests``) from ``concurrency`` connections."""
    host, port = url.removeprefix("http://").rsplit(":", 1)

    async def run() -> LoadResult:
        result = LoadResult(seconds=0.0)
        next_index = [0]
        deadline = time.monotonic() + max_seconds
        began = time.perf_counter()
        await asyncio.gather(*(_client(host, int(port), requests, next_index, total, deadline,
                                       result) for _ in range(concurrency)))
        result.seconds = time.perf_counter() - began
        return result

    return asyncio.run(run())


async def _recording_client(host: str, port: int, requests: list[bytes], start: int,
                            deadline: float, records: list[str], errors: Counter) -> None:
    """One connection, closed loop until ``deadline``: a line per request (sent, latency,
    status, model version, prediction id). It stops only after an answer, so every request
    it sent was answered."""
    index = start
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while time.monotonic() < deadline:
            raw = requests[index % len(requests)]
            index += 1
            sent = time.monotonic()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            match = re.search(rb"(?i)content-length:\s*(\d+)", head)
            body = await reader.readexactly(int(match.group(1))) if match else b""
            latency = (time.monotonic() - sent) * 1000
            version = re.search(rb'"model_version": "([0-9a-f]+)"', body)
            ident = re.search(rb'"prediction_id": "([0-9a-f]+)"', body)
            records.append(f"{sent:.6f} {latency:.3f} {int(head[9:12])} "
                           f"{version.group(1).decode() if version else ''} "
                           f"{ident.group(1).decode() if ident else ''}")
            if re.search(rb"(?i)connection:\s*close", head):
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
        writer.close()
    except (OSError, asyncio.IncompleteReadError) as error:
        errors[type(error).__name__] += 1


def record_until(url: str, requests: list[bytes], concurrency: int, deadline: float,
                 out: str) -> None:
    """Drive ``url`` from ``concurrency`` connections until ``deadline`` (CLOCK_MONOTONIC, the
    same clock in every process) and write one line per request to ``out``, then the errors."""
    host, port = url.removeprefix("http://").rsplit(":", 1)

    async def run() -> tuple[list[str], Counter]:
        records: list[str] = []
        errors: Counter = Counter()
        await asyncio.gather(*(_recording_client(host, int(port), requests, n * 7, deadline,
                                                 records, errors) for n in range(concurrency)))
        return records, errors

    records, errors = asyncio.run(run())
    with open(out, "w", encoding="utf-8") as handle:
        handle.write("\n".join(records) + "\n")
        handle.write("# errors " + " ".join(f"{k}={v}" for k, v in errors.items()) + "\n")


if __name__ == "__main__":  # python benchmarks/loadgen.py URL REQUESTS_FILE CONNECTIONS DEADLINE OUT
    import sys

    with open(sys.argv[2], "rb") as source:
        prebuilt = [bytes.fromhex(line.strip().decode()) for line in source if line.strip()]
    record_until(sys.argv[1], prebuilt, int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
