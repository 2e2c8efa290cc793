#!/usr/bin/env python3
"""Summarizes load-generator runs for `bench/run.sh`.

`summarize.py one FILE...` prints one line for the runs of one configuration:
median req/s with the spread (min-max), median p50 and p99 latency.

`summarize.py p99-ratio FILE... -- FILE...` prints the median p99 of the first runs
over that of the second (issue 11: the narrow p99 during a sync over idle).

`summarize.py table DIR` reads DIR/<window>.<coding>.<server>.<round>.json (oha's
JSON, or wrk's text with a .txt suffix) and prints, per window and coding, Boxoffice
and nginx side by side with the ratio of their median throughputs.
"""

import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def read_run(path):
    """(req/s, p50 s, p99 s, non-2xx or error count, bytes per response) of one run."""
    text = Path(path).read_text()
    if path.endswith(".json"):
        data = json.loads(text)
        summary = data["summary"]
        percentiles = data.get("latencyPercentiles", {})
        codes = data.get("statusCodeDistribution", {})
        bad = sum(n for code, n in codes.items() if not str(code).startswith(("2", "3")))
        # Requests still in flight when the duration ends are cut off, not failed.
        bad += sum(n for error, n in data.get("errorDistribution", {}).items() if "deadline" not in error)
        return (
            summary["requestsPerSec"],
            percentiles.get("p50") or 0.0,
            percentiles.get("p99") or 0.0,
            bad,
            summary.get("sizePerRequest") or 0,
        )
    # wrk --latency
    def seconds(value, unit):
        return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = {m.group(1): seconds(m.group(2), m.group(3)) for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", text, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return rps, lat.get("50", 0.0), lat.get("99", 0.0), int(bad.group(1)) if bad else 0, 0


def summarize(paths):
    runs = [read_run(str(p)) for p in paths]
    rps = [r[0] for r in runs]
    return {
        "rps": statistics.median(rps),
        "min": min(rps),
        "max": max(rps),
        "p50": statistics.median(r[1] for r in runs),
        "p99": statistics.median(r[2] for r in runs),
        "bad": sum(r[3] for r in runs),
        "bytes": max(r[4] for r in runs),
        "rounds": len(runs),
    }


def line(s):
    bad = f", {s['bad']} non-2xx/errors" if s["bad"] else ""
    size = f", {s['bytes']:,} B" if s["bytes"] else ""
    return (
        f"{s['rps']:>7,.0f} req/s ({s['min']:,.0f}-{s['max']:,.0f}), "
        f"p50 {s['p50'] * 1e3:.2f} ms, p99 {s['p99'] * 1e3:.2f} ms{size}{bad}"
    )


def table(directory):
    groups = defaultdict(list)
    for path in sorted(Path(directory).iterdir()):
        parts = path.name.split(".")
        if len(parts) != 5 or parts[4] not in ("json", "txt"):
            continue
        window, coding, server, _round, _ = parts
        groups[(window, coding, server)].append(path)
    order = {"plain": 0, "gzip": 1, "br": 2}
    keys = sorted({(w, c) for (w, c, _) in groups}, key=lambda k: (k[0] != "narrow", k[0], order.get(k[1], 9)))
    print("median of the rounds (min-max of req/s); B = bytes per response as received")
    print(f"{'window':<8} {'coding':<6} {'Boxoffice':>62} | {'nginx':>62} | ratio")
    for window, coding in keys:
        box = groups.get((window, coding, "boxoffice"))
        ngx = groups.get((window, coding, "nginx"))
        box_s = summarize(box) if box else None
        ngx_s = summarize(ngx) if ngx else None
        ratio = f"{box_s['rps'] / ngx_s['rps']:.2f}" if box_s and ngx_s else "-"
        print(
            f"{window:<8} {coding:<6} {line(box_s) if box_s else '-':>62} | "
            f"{line(ngx_s) if ngx_s else 'not served (no module)':>62} | {ratio}"
        )


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "one":
        print(line(summarize(sys.argv[2:])))
    elif len(sys.argv) >= 5 and sys.argv[1] == "p99-ratio" and "--" in sys.argv:
        cut = sys.argv.index("--")
        during, idle = summarize(sys.argv[2:cut]), summarize(sys.argv[cut + 1 :])
        print(f"narrow p99 during a sync / idle (medians of {during['rounds']} and {idle['rounds']} runs): "
              f"{during['p99'] * 1e3:.2f} ms / {idle['p99'] * 1e3:.2f} ms = {during['p99'] / idle['p99']:.2f}x")
    elif len(sys.argv) == 3 and sys.argv[1] == "table":
        table(sys.argv[2])
    else:
        sys.exit(__doc__)
