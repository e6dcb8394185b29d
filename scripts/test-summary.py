#!/usr/bin/env python3
"""Adds up meson's testlog.json files (one JSON object per test a line) and prints, as its last line,
`N passed, N failed, N skipped`. Exits 1 when a test failed, a log is missing (its build or setup
failed before any test ran) or nothing passed.

    python3 scripts/test-summary.py native=build/meson-logs/testlog.json aarch64=build-aarch64/meson-logs/testlog.json
"""
import json
import sys

PASSED = {"OK", "EXPECTEDFAIL"}
FAILED = {"FAIL", "UNEXPECTEDPASS", "TIMEOUT", "ERROR"}
SKIPPED = {"SKIP"}


def main(args):
    passed = failed = skipped = 0
    for arg in args:
        label, _, path = arg.rpartition("=")
        label = label or path
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        bad = []
        try:
            with open(path, encoding="utf-8") as log:
                for line in log:
                    if not line.strip():
                        continue
                    test = json.loads(line)
                    result = test.get("result", "ERROR")
                    if result in PASSED:
                        counts["passed"] += 1
                    elif result in SKIPPED:
                        counts["skipped"] += 1
                    else:
                        counts["failed"] += 1
                        bad.append(f"{test.get('name', '?')} ({result})")
        except FileNotFoundError:
            # The build or the configuration failed before meson test ran: that is a failure.
            print(f"{label}: no test log at {path}: its build or setup failed")
            counts["failed"] += 1
        print(f"{label}: OK {counts['passed']}, FAIL {counts['failed']}, SKIP {counts['skipped']}"
              + (f"; failed: {', '.join(bad)}" if bad else ""))
        passed += counts["passed"]
        failed += counts["failed"]
        skipped += counts["skipped"]
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
