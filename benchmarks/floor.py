#!/usr/bin/env python3
"""How much of the gap to Postfix's C tools is ours: the runner and the mock beside nio-floor.

    benchmarks/floor.py [--rounds N] [--sessions N] [--bin PATH] [--floor PATH]

benchmarks/nio-floor is the least SwiftNIO program that plays either side of the benchmarks' SMTP session: one
channel handler, a switch on the first byte of each line, no parsing, checks, logging or async/await. It is the
floor under any client or server built on SwiftNIO and the Swift runtime on this machine, which the project's
dependency rules prescribe.

Two tables, each from alternating rounds in one run (medians), whole command wall clock, 2,000 sessions:

  sending    smtp-scenario run (the telnet session of run-all.py), nio-floor send and smtp-source, each against
             Postfix's smtp-sink, one session at a time and 50 at a time; ratios against smtp-source
  receiving  smtp-scenario serve, nio-floor sink and smtp-sink, each driven by smtp-source -s 1 and -s 50; ratios
             against smtp-sink

Then the CPU time per session (user and system) of each sender and each receiver, at one session at a time.

Builds nio-floor with scripts/build-release (the runner's flags) when --floor is not given, or brings it up to date.
Needs the postfix package (scripts/install-test-deps). Loopback only.
"""
import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # importing the other scripts leaves no __pycache__ in the repository
spec = importlib.util.spec_from_file_location("session_profile", os.path.join(HERE, "session-profile.py"))
session_profile = importlib.util.module_from_spec(spec)
spec.loader.exec_module(session_profile)
run_all = session_profile.run_all

def floor_binary(path=None):
    """The nio-floor executable: `path` if given, else benchmarks/nio-floor's release build, brought up to date.

    Built every time, not only when missing: a build left from before a change to the floor's source would measure
    the old floor. SwiftPM does nothing when the build is current (about a second)."""
    if path:
        return path
    package = os.path.join(HERE, "nio-floor")
    # The runner's own build script and flags, so that the floor is built as the runner is.
    subprocess.run([os.path.join(run_all.ROOT, "scripts", "build-release"), "--package-path", package], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(package, ".build", "release", "nio-floor")


def medians(rounds, commands):
    """Median wall seconds of each command, the commands run in turn in every round."""
    times = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            times[name].append(run_all.run(command)[0])
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--bin", default=os.path.join(run_all.ROOT, ".build/release/smtp-scenario"))
    parser.add_argument("--floor")
    args = parser.parse_args()
    for tool in ["smtp-source", "smtp-sink"]:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (scripts/install-test-deps installs postfix)")
    if not os.access(args.bin, os.X_OK):
        subprocess.run([os.path.join(run_all.ROOT, "scripts", "build-release")], check=True)
    floor = floor_binary(args.floor)
    n = args.sessions
    work = tempfile.mkdtemp(prefix="smtp-floor-")
    children = []
    try:
        def serve(command, port):
            child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            children.append(child)
            run_all.wait_for_port(port)
            return child

        user = ["-u", "postfix"] if os.getuid() == 0 else []
        ports = {name: run_all.free_port() for name in ["smtp-sink", "nio-floor sink", "smtp-scenario serve"]}
        policy = os.path.join(work, "policy.yaml")
        with open(policy, "w") as f:
            f.write("limits: {max-connections: 1024}\n")
        servers = {
            "smtp-sink": serve(["smtp-sink", *user, f"127.0.0.1:{ports['smtp-sink']}", "1024"], ports["smtp-sink"]),
            "nio-floor sink": serve([floor, "sink", "127.0.0.1", str(ports["nio-floor sink"])],
                                    ports["nio-floor sink"]),
            "smtp-scenario serve": serve([args.bin, "serve", "--listen", f"127.0.0.1:{ports['smtp-scenario serve']}",
                                          "--config", policy], ports["smtp-scenario serve"]),
        }
        sink = f"127.0.0.1:{ports['smtp-sink']}"
        bench = os.path.join(work, "bench.yaml")
        run_all.session_scenario(bench, n)
        print(f"{os.cpu_count()} cores; {n} sessions; medians of {args.rounds} alternating rounds")

        def senders(jobs):
            return {
                "smtp-source": run_all.smtp_source(jobs, n, sink),
                "nio-floor send": [floor, "send", "127.0.0.1", str(ports["smtp-sink"]), str(n), str(jobs)],
                "smtp-scenario run": run_all.smtp_scenario_run(args.bin, bench, sink, jobs),
            }

        rows = []
        for jobs in [1, 50]:
            result = medians(args.rounds, senders(jobs))
            for name, seconds in result.items():
                rows.append([f"{name}, {jobs} at a time", f"{n / seconds:.0f}",
                             f"{result['smtp-source'] / seconds:.2f}x"])
        run_all.table("sending, against smtp-sink", ["", "sessions/s", "vs smtp-source"], rows)

        rows = []
        for jobs in [1, 50]:
            result = medians(args.rounds, {
                name: run_all.smtp_source(jobs, n, f"127.0.0.1:{port}")
                for name, port in ports.items()
            })
            for name, seconds in result.items():
                rows.append([f"{name}, {jobs} at a time", f"{n / seconds:.0f}",
                             f"{result['smtp-sink'] / seconds:.2f}x"])
        run_all.table("receiving, under smtp-source", ["", "sessions/s", "vs smtp-sink"], rows)

        rows = []
        for name, command in senders(1).items():
            cpu = session_profile.child_cpu(command)
            rows.append([f"{name} (sending)", f"{cpu[0] / n * 1e6:.1f}", f"{cpu[1] / n * 1e6:.1f}"])
        for name, port in ports.items():
            cpu = session_profile.server_cpu(servers[name].pid, run_all.smtp_source(1, n, f"127.0.0.1:{port}"))
            rows.append([f"{name} (receiving)", f"{cpu[0] / n * 1e6:.1f}", f"{cpu[1] / n * 1e6:.1f}"])
        run_all.table("CPU per session, one at a time (microseconds)", ["", "user", "system"], rows)
    finally:
        run_all.stop(children, work)


if __name__ == "__main__":
    main()
