#!/usr/bin/env python3
"""Runs `boxoffice ... sync` (the arguments); prints its wall time, the peak RSS of the
process and the counts of its JSON report. Shared by bench/run.sh and bench/json.sh."""
import json, resource, subprocess, sys, time
started = time.monotonic()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
elapsed = time.monotonic() - started
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
if done.returncode != 0:
    print(done.stderr, file=sys.stderr)
    sys.exit(done.returncode)
report = json.loads(done.stdout)
print(f"{elapsed:6.2f} s  peak RSS {rss:6.1f} MB  inserted {report['inserted']} updated {report['updated']} unchanged {report['unchanged']} rejected {report['rejected']}")
