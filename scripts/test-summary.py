#!/usr/bin/env python3
"""Summarise a meson test run into one countable line: "N passed, N failed, N skipped".

Counts individual checks, not just binaries: doctest's "test cases:" summary, or
"ok - " / "not ok - " lines of the integration scripts (and TAP's numbered "ok 3 - ", which
node --test prints for the page's unit tests). A test binary that failed
without reporting a failed check (a crash, a sanitizer report at exit) counts as one
failure; a skipped test counts as one skip.

    test-summary.py TESTLOG.json [STEP.txt ...]

Each STEP.txt is the output of a step outside meson (scripts/fuzz): its "ok - " /
"not ok - " lines count too, as one row named after the file; a step file without any
such line counts as one failure (the step did not run).
"""
import json
import re
import sys

DOCTEST = re.compile(r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed\s*\|\s*(\d+) skipped")


def main(path: str, steps: list) -> int:
    passed = failed = skipped = 0
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            t = json.loads(line)
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            result = t.get("result", "")
            p = fl = s = 0
            m = DOCTEST.findall(out)
            if m:
                for total, ok, bad, skip in m:
                    p += int(ok); fl += int(bad); s += int(skip)
            else:
                p = len(re.findall(r"^ok (?:\d+ )?- ", out, re.M))
                fl = len(re.findall(r"^not ok (?:\d+ )?- ", out, re.M))
            if result == "SKIP":
                s += 1 if p + fl == 0 else 0
            elif result not in ("OK", "EXPECTEDFAIL") and fl == 0:
                fl += 1
            elif result == "OK" and p + fl == 0:
                p = 1
            passed += p; failed += fl; skipped += s
            rows.append(f"  {t['name']:<28} {result:<8} {p} passed, {fl} failed, {s} skipped")
    for step in steps:
        try:
            with open(step, encoding="utf-8", errors="replace") as f:
                out = f.read()
        except OSError:
            out = ""
        p = len(re.findall(r"^ok - ", out, re.M))
        fl = len(re.findall(r"^not ok - ", out, re.M))
        if p + fl == 0:
            fl = 1
        passed += p; failed += fl
        name = step.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        rows.append(f"  {name:<28} {'OK' if fl == 0 else 'FAIL':<8} {p} passed, {fl} failed, 0 skipped")
    print("\n".join(rows))
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
