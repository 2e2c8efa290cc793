"""Costs a load generator does not show, measured by `bench/run.sh search`.

  probe.py compression PID BASE_URL [COUNT [HOURS]]
      CPU the server spends per answer of a window nobody asked for before, plain,
      gzip and br: COUNT distinct windows of HOURS (36) per coding, one at a time on
      one connection, CPU from /proc/PID/stat (user + system) over the whole loop.
  probe.py not-found BASE_URL FEED_XML PROVIDER [SAMPLES]
      /events/{id} of an unpublished item (its base event is offline) beside an
      unknown id: SAMPLES interleaved requests each on one connection, medians.
"""

import http.client
import os
import re
import statistics
import sys
import time
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone

# core/src/model/mod.rs ID_NAMESPACE: ids are UUIDv5 of "provider\x1fbase\x1fevent".
ID_NAMESPACE = uuid.UUID(int=0x6B0F4F3E2D1C4A5B9E8F7A6B5C4D3E2F)
TICKS = os.sysconf("SC_CLK_TCK")
# The generated feeds spread sessions over 2021-2023.
FIRST_START = datetime(2021, 1, 1, tzinfo=timezone.utc)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def connect(base):
    url = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=30)


def get(conn, path, coding=None):
    headers = {"Accept-Encoding": coding} if coding else {}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    return response.status, response.getheader("Content-Encoding"), body


def compression(pid, base, count=100, hours=36):
    conn = connect(base)
    # Distinct windows, never asked for before by this probe: each starts a few hours
    # after the last, so every answer is rendered (and compressed) afresh.
    offset = {"plain": 0, "gzip": 10_000, "br": 20_000}
    print(f"{count} distinct windows of {hours} h per coding, one at a time:")
    for coding, first in offset.items():
        sizes, coded = [], 0
        started_cpu, started = cpu_seconds(pid), time.monotonic()
        for k in range(count):
            start = FIRST_START + timedelta(hours=first + 7 * k)
            end = start + timedelta(hours=hours)
            query = urllib.parse.urlencode({"starts_at": f"{start:%Y-%m-%dT%H:%M:%SZ}", "ends_at": f"{end:%Y-%m-%dT%H:%M:%SZ}"})
            status, encoding, body = get(conn, f"/search?{query}", None if coding == "plain" else coding)
            assert status == 200, status
            coded += encoding == coding
            sizes.append(len(body))
        cpu = cpu_seconds(pid) - started_cpu
        wall = time.monotonic() - started
        print(
            f"  {coding:5}: {cpu * 1000 / count:6.2f} ms of server CPU per answer, {count / wall:6.0f} answers/s, "
            f"mean body {statistics.mean(sizes):,.0f} bytes, {coded}/{count} answered in {coding}"
        )


def not_found(base, feed, provider, samples=400):
    # A session of an offline base event of the feed last synced: stored. The store
    # keeps every base event ever seen online (another feed's too): take the first
    # such session the public route does not serve.
    with open(feed, encoding="utf-8") as xml:
        text = xml.read(64 << 20)
    conn = connect(base)
    unpublished = None
    for match in re.finditer(r'base_event_id="(\d+)" sell_mode="offline".*?event_id="(\d+)"', text, re.S):
        candidate = uuid.uuid5(ID_NAMESPACE, f"{provider}\x1f{match[1]}\x1f{match[2]}")
        if get(conn, f"/events/{candidate}")[0] == 404:
            unpublished = candidate
            break
    assert unpublished, "no unpublished session in the first 64 MiB of the feed"
    timings = {"unknown": [], "unpublished": []}
    for _ in range(samples):
        for name in timings:
            item = uuid.uuid4() if name == "unknown" else unpublished
            started = time.perf_counter()
            status, _, _ = get(conn, f"/events/{item}")
            timings[name].append(time.perf_counter() - started)
            assert status == 404, (name, status)
    line = ", ".join(f"{name} {statistics.median(t) * 1e6:.0f} us" for name, t in timings.items())
    print(f"/events/{{id}} 404, medians of {samples} interleaved requests each (client's clock): {line}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "compression":
        compression(int(args[0]), args[1], *(int(a) for a in args[2:]))
    elif command == "not-found":
        not_found(args[0], args[1], args[2], *(int(a) for a in args[3:]))
    else:
        sys.exit(f"unknown command {command}")
