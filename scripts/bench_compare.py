#!/usr/bin/env python3
"""`make bench-compare REF=<commit>`: today's webhook, coaching and vault benchmarks against a reference.

Builds `spiegel-bench` at REF in a git worktree under .build-ref/ (ignored by git; kept, so a
second comparison with the same REF does not build again), builds today's, then runs the two
side by side: reference, today, reference, today, ... (ROUNDS rounds), each with its own Prompts,
so the noise of the machine hits both alike. Prints each run and the ratios of the medians
(today / reference): above 1 is faster for messages/s, below 1 is faster for p50 and p99. The vault's
figure is its appends per second as a multiple of the disk's raw fsync rate measured in the same
run, which takes out most of the disk's own drift.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(command, cwd=ROOT, capture=False):
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, cwd=cwd, text=True, capture_output=capture)
    if result.returncode != 0:
        if capture:
            sys.stderr.write(result.stdout + result.stderr)
        sys.exit(f"bench-compare: {' '.join(command)} failed ({result.returncode})")
    return result.stdout if capture else None


def build(tree, scratch):
    run(["swift", "build", "-c", "release", "--product", "spiegel-bench", "--scratch-path", scratch], cwd=tree)
    path = run(["swift", "build", "-c", "release", "--show-bin-path", "--scratch-path", scratch], cwd=tree, capture=True)
    return os.path.join(path.strip(), "spiegel-bench")


def rows(output):
    """The rows of a benchmark's Markdown tables, each a dict by its table's header; rows of a
    ceiling (a route other than Spiegel's) left out."""
    table, header = [], None
    for line in output.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|---"):
            continue
        if header is None:
            header = cells
            continue
        row = dict(zip(header, cells))
        if row.get("route", "Spiegel").startswith("Spiegel"):
            table.append(row)
    return table


def number(cell):
    return float(re.sub(r"[^0-9.]", "", cell))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ref", help="the reference commit (any git revision)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--teachers", default="16,1000", help="webhook runs: teachers at once, comma-separated")
    parser.add_argument("--coachees", default="16", help="coaching runs: coachees at once, comma-separated")
    parser.add_argument("--writers", default="16,256", help="vault runs: the writer counts to compare (the bench runs 1, 16 and 256); empty for none")
    args = parser.parse_args()

    sha = run(["git", "rev-parse", "--short=10", args.ref], capture=True).strip()
    tree = os.path.join(ROOT, ".build-ref", sha)
    if not os.path.isdir(tree):
        os.makedirs(os.path.dirname(tree), exist_ok=True)
        run(["git", "worktree", "add", "--detach", tree, sha])
    builds = {
        "ref " + sha: (build(tree, os.path.join(tree, ".build")), tree),
        "today": (build(ROOT, os.path.join(ROOT, ".build")), ROOT),
    }
    data = os.path.join(ROOT, ".build")
    # Builds from before 2026-12-04 send one round of teachers (coachees) only; a newer build
    # repeats rounds up to a minimum of messages. Both sides run alike: the minimum only when
    # every build has it.
    def supports(binary, cwd, command, flag):
        return flag in run([binary, "help", command], cwd=cwd, capture=True)
    extra = {"webhook": {}, "coach": {}}
    for command, flag in (("webhook", "--minimum-messages"), ("coach", "--messages")):
        if not all(supports(binary, cwd, command, flag) for binary, cwd in builds.values()):
            extra[command] = {name: [flag, "0"] if supports(binary, cwd, command, flag) else [] for name, (binary, cwd) in builds.items()}
    def flags(command, name):
        return extra[command].get(name, [])
    results = {}  # (benchmark, load, build) -> [(messages/s, p50 ms)]
    for round_ in range(args.rounds):
        for teachers in args.teachers.split(","):
            for name, (binary, cwd) in builds.items():
                output = run([binary, "webhook", "--directory", data, "--teachers", teachers, "--prompts", "Prompts"] + flags("webhook", name), cwd=cwd, capture=True)
                # Newer builds also print a row "Spiegel, to the 200": the first reply is compared
                # (builds before the ceiling print no route column, and only that row).
                row = next(row for row in rows(output) if row.get("route", "Spiegel, to the first reply") == "Spiegel, to the first reply")
                results.setdefault(("webhook", teachers, name), []).append((number(row["messages/s"]), number(row["p50"]), number(row["p99"])))
                print(f"round {round_ + 1} webhook {teachers} teachers {name}: {row['messages/s']} messages/s, p50 {row['p50']}, p99 {row['p99']}", flush=True)
        for name, (binary, cwd) in builds.items():
            output = run([binary, "coach", "--directory", data, "--coachees", args.coachees, "--prompts", "Prompts"] + flags("coach", name), cwd=cwd, capture=True)
            for row in rows(output):
                load = row.get("coachees at once")
                if load in args.coachees.split(","):
                    results.setdefault(("coach", load, name), []).append((number(row["messages/s"]), number(row["p50"]), number(row["p99"])))
                    print(f"round {round_ + 1} coach {load} coachees {name}: {row['messages/s']} messages/s, p50 {row['p50']}, p99 {row['p99']}", flush=True)

        if args.writers:
            for name, (binary, cwd) in builds.items():
                output = run([binary, "vault", "--directory", data], cwd=cwd, capture=True)
                for row in rows(output):
                    load = row.get("writers")
                    if load in args.writers.split(","):
                        results.setdefault(("vault", load, name), []).append((number(row["× raw fsync rate"]), number(row["p99"])))
                        print(f"round {round_ + 1} vault {load} writers {name}: {row['appends/s']} appends/s, {row['× raw fsync rate']}× raw, p99 {row['p99']}", flush=True)

    print()
    print(f"Medians of {args.rounds} interleaved rounds; ratio = today / ref {sha}")
    print()
    print("| benchmark | at once | ref messages/s | today messages/s | ratio | ref p50 ms | today p50 ms | ratio | ref p99 ms | today p99 ms | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    names = list(builds)
    for (benchmark, load) in sorted({(b, l) for (b, l, _) in results if b != "vault"}, key=lambda k: (k[0], int(k[1]))):
        ref = results.get((benchmark, load, names[0]), [])
        today = results.get((benchmark, load, names[1]), [])
        if not ref or not today:
            continue
        rate = (statistics.median(r[0] for r in ref), statistics.median(r[0] for r in today))
        p50 = (statistics.median(r[1] for r in ref), statistics.median(r[1] for r in today))
        p99 = (statistics.median(r[2] for r in ref), statistics.median(r[2] for r in today))
        print(f"| {benchmark} | {load} | {rate[0]:.0f} | {rate[1]:.0f} | {rate[1] / rate[0]:.2f} | {p50[0]:.1f} | {p50[1]:.1f} | {p50[1] / p50[0]:.2f} "
              f"| {p99[0]:.1f} | {p99[1]:.1f} | {p99[1] / p99[0]:.2f} |")
    vault = sorted({l for (b, l, _) in results if b == "vault"}, key=int)
    if vault:
        print()
        print("| vault writers | ref × raw fsync | today × raw fsync | ratio | ref p99 ms | today p99 ms | ratio |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for load in vault:
            ref = results.get(("vault", load, names[0]), [])
            today = results.get(("vault", load, names[1]), [])
            if not ref or not today:
                continue
            times = (statistics.median(r for r, _ in ref), statistics.median(r for r, _ in today))
            p99 = (statistics.median(p for _, p in ref), statistics.median(p for _, p in today))
            print(f"| {load} | {times[0]:.1f} | {times[1]:.1f} | {times[1] / times[0]:.2f} | {p99[0]:.2f} | {p99[1]:.2f} | {p99[1] / p99[0]:.2f} |")


if __name__ == "__main__":
    main()
