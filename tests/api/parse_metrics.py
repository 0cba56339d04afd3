#!/usr/bin/python3
"""Reads a /metrics reply on stdin and parses it with Python's
prometheus_client (Debian: python3-prometheus-client), the parser most
scrapers' tooling shares.  Fails when a family appears twice (its samples
split), when a family has no TYPE ("unknown": its samples came apart from
their HELP and TYPE), or when a family the test names is missing (a
labelled counter with no sample yet is fine).  Prints what it finds wrong."""
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as e:
    print(f"# cannot import prometheus_client ({e}): install python3-prometheus-client")
    sys.exit(2)

want = set(sys.argv[1:])
seen = {}
bad = []
for family in text_string_to_metric_families(sys.stdin.read()):
    if family.name in seen:
        bad.append(f"{family.name} appears twice")
    seen[family.name] = family
    if family.type == "unknown":
        bad.append(f"{family.name} has no TYPE before its samples")
for name in sorted(want - set(seen)):
    bad.append(f"{name} is missing")
for b in bad:
    print(f"# {b}")
if not bad:
    print(f"# prometheus_client read {len(seen)} families, each whole and typed")
sys.exit(1 if bad else 0)
