#!/usr/bin/env python3
"""Every performance row of issue 12 in one run, side by side with its reference tool, as ratios.

    benchmarks/run-all.py [--rounds N] [--quick] [--bin PATH]

Rows:
  runner    `smtp-scenario run` (2,000 telnet sessions, whole command: start-up and compile included) against
            Postfix's smtp-sink, versus smtp-source sending the same 2,000 sessions, at --jobs 1 and 50
  swaks     200 sequential sessions: smtp-scenario (one process) versus swaks (one process per session), and
            smtp-source sending the same 200 sessions: what Postfix's own C client reaches against swaks here
  compile   `validate` of one file with 10,000 scenarios (time, peak RSS) and of 1,000 files of 10 scenarios;
            the curve at 1k/10k/100k scenarios (six steps each, EHLO to QUIT, one step with a text: /ok/i regex)
  mock      `serve` under smtp-source versus smtp-sink, 2,000 sessions at 1 and 50 sessions, and its RSS
  start-up  one scenario against smtp-sink, whole process, versus `swaks --quit-after EHLO`
  soak      100,000 scenarios through the runner (JUnit and JSON written): RSS sampled as it runs (skipped by --quick)

Each timed pair runs alternately --rounds times (default 5) and the medians are compared, so a noisy moment hits
both sides; in the swaks row each round runs ours, smtp-source and an equal share of swaks's 200 sessions in turn.
Needs the postfix package (smtp-source, smtp-sink) and swaks; builds the release binary if missing. Loopback only.
"""
import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["PATH"] += ":/usr/sbin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    sys.exit(f"nothing listens on 127.0.0.1:{port}")


def run(command, **kwargs):
    """Runs a command; returns (wall seconds, peak RSS KiB of the process)."""
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - start
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(command)}\n{stderr}")
    return elapsed, usage.ru_maxrss


def smtp_source(parallel, messages, server):
    """Postfix's smtp-source sending `messages` sessions of the benchmark's one message, `parallel` at a time."""
    return ["smtp-source", "-s", str(parallel), "-m", str(messages), "-f", "bench@example.org",
            "-t", "alice@example.com", "-M", "bench.example.org", server]


def smtp_scenario_run(binary, scenario, server, jobs=None, *extra):
    """`smtp-scenario run` of `scenario` against `server`, `jobs` at a time (the runner's default when None), with
    plain console output and `extra` arguments after."""
    return [binary, "run", scenario, "--server", server, *(["--jobs", str(jobs)] if jobs is not None else []),
            "--color", "never", *extra]


def alternate(rounds, ours, reference):
    """Median wall times of the two commands, run alternately."""
    times_ours, times_ref = [], []
    for _ in range(rounds):
        times_ref.append(reference())
        times_ours.append(ours())
    return statistics.median(times_ours), statistics.median(times_ref)


def session_scenario(path, count, name="telnet session"):
    with open(path, "w") as f:
        f.write(f"name: {name}\nmatrix:\n  n: [{','.join(str(i) for i in range(1, count + 1))}]\nsteps:\n")
        f.write("  - {send: EHLO bench.example.org, expect: 250}\n")
        f.write('  - {send: "MAIL FROM:<bench@example.org>", expect: 250}\n')
        f.write('  - {send: "RCPT TO:<alice@example.com>", expect: 250}\n')
        f.write("  - {send: DATA, expect: 354}\n")
        f.write('  - {data: "Subject: bench ${n}\\n\\nHello.\\n", expect: 250}\n')
        f.write("  - {send: QUIT, expect: 221}\n")


def compile_suite(path, count, offset=0):
    """`count` scenarios of six steps, EHLO to QUIT, one with a text regex."""
    with open(path, "w") as f:
        f.write(f"suite: compile {offset}\nscenarios:\n")
        for i in range(offset, offset + count):
            f.write(
                f"  - name: scenario {i}\n    tags: [t{i % 7}]\n    steps:\n"
                "      - send: EHLO client.example.org\n"
                "      - send: MAIL FROM:<sender@example.org>\n"
                "        expect: 250\n"
                "      - send: RCPT TO:<alice@example.com>\n"
                "        expect: {code: 250, text: /ok/i}\n"
                "      - send: DATA\n"
                "        expect: 354\n"
                f'      - data: "Subject: {i}\\n\\nHello.\\n"\n'
                "      - send: QUIT\n"
                "        expect: 221\n"
            )


def table(title, header, rows):
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    for row in [header] + rows:
        print("  " + "  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(row, widths))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="skip the 100k soak and the 100k compile point")
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build/release/smtp-scenario"))
    args = parser.parse_args()
    binary = args.bin
    if not os.access(binary, os.X_OK):
        subprocess.run([os.path.join(ROOT, "scripts", "build-release")], cwd=ROOT, check=True)
    for tool in ["smtp-source", "smtp-sink", "swaks"]:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (scripts/install-test-deps installs postfix and swaks)")
    work = tempfile.mkdtemp(prefix="smtp-bench-")
    children = []
    try:
        sink_port = free_port()
        user = ["-u", "postfix"] if os.getuid() == 0 else []
        children.append(subprocess.Popen(["smtp-sink", *user, f"127.0.0.1:{sink_port}", "1024"]))
        wait_for_port(sink_port)
        sink = f"127.0.0.1:{sink_port}"
        print(f"{subprocess.run([binary, '--version'], capture_output=True, text=True).stdout.strip()} "
              f"({binary}); {os.cpu_count()} cores; medians of {args.rounds} alternating rounds")

        # Runner against smtp-sink, versus smtp-source.
        sessions = 2000
        bench = os.path.join(work, "bench.yaml")
        session_scenario(bench, sessions)
        rows = []
        for jobs in [1, 50]:
            ours, ref = alternate(
                args.rounds,
                lambda: run(smtp_scenario_run(binary, bench, sink, jobs))[0],
                lambda: run(smtp_source(jobs, sessions, sink))[0],
            )
            rows.append([f"--jobs {jobs} / -s {jobs}", f"{sessions / ours:.0f}", f"{sessions / ref:.0f}",
                         f"{ref / ours:.2f}x", ">= 0.8x"])
        table(f"runner: {sessions} telnet sessions against smtp-sink (whole command)",
              ["", "smtp-scenario/s", "smtp-source/s", "ratio", "goal"], rows)

        # 200 sequential sessions: swaks is one process per session. The three sides alternate within each round
        # (our 200 sessions, smtp-source's 200, then a share of swaks's 200), so that the machine's phase, which
        # can move a single timing by a third, weighs on all three alike; swaks's time is the sum of its shares.
        small = os.path.join(work, "small.yaml")
        session_scenario(small, 200)
        swaks_rounds = max(args.rounds, 5)
        ours_times, source_times, swaks = [], [], 0.0
        for round_index in range(swaks_rounds):
            ours_times.append(run(smtp_scenario_run(binary, small, sink, 1))[0])
            # What Postfix's own C client reaches on this row on this machine: the same 200 sessions.
            source_times.append(run(smtp_source(1, 200, sink))[0])
            start = time.monotonic()
            for i in range(round_index * 200 // swaks_rounds, (round_index + 1) * 200 // swaks_rounds):
                subprocess.run(["swaks", "--server", sink, "--from", "bench@example.org", "--to",
                                "alice@example.com", "--helo", "bench.example.org", "--header", f"Subject: bench {i}",
                                "--body", "Hello.", "--silent", "3"], check=True, stdout=subprocess.DEVNULL)
            swaks += time.monotonic() - start
        ours = statistics.median(ours_times)
        source = statistics.median(source_times)
        table("200 sequential sessions", ["", "sessions/s", "vs swaks", "goal"],
              [["smtp-scenario", f"{200 / ours:.0f}", f"{swaks / ours:.0f}x", ">= 100x"],
               ["swaks (a process each)", f"{200 / swaks:.1f}", "1x", ""],
               ["smtp-source", f"{200 / source:.0f}", f"{swaks / source:.0f}x", ""]])

        # Compiler.
        rows = []
        points = [1000, 10000] + ([] if args.quick else [100000])
        for count in points:
            path = os.path.join(work, f"compile-{count}.yaml")
            compile_suite(path, count)
            results = [run([binary, "validate", path]) for _ in range(3)]
            wall = statistics.median(r[0] for r in results)
            rss = max(r[1] for r in results)
            goal = "< 0.5 s, < 80 MB" if count == 10000 else ""
            rows.append([f"{count} scenarios, 1 file", f"{wall:.3f} s", f"{rss / 1024:.0f} MB", goal])
        folder = os.path.join(work, "files")
        os.mkdir(folder)
        for i in range(1000):
            compile_suite(os.path.join(folder, f"f{i:04}.yaml"), 10, offset=i * 10)
        results = [run([binary, "validate", folder]) for _ in range(3)]
        rows.append(["1000 files x 10", f"{statistics.median(r[0] for r in results):.3f} s",
                     f"{max(r[1] for r in results) / 1024:.0f} MB", "< 0.3 s"])
        table("compiler (validate, whole process)", ["", "time", "peak RSS", "goal"], rows)

        # Mock under smtp-source, versus smtp-sink.
        mock_port = free_port()
        policy = os.path.join(work, "policy.yaml")
        with open(policy, "w") as f:
            f.write("limits: {max-connections: 1024}\n")
        mock_log = open(os.path.join(work, "mock.log"), "w")
        mock = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{mock_port}", "--config", policy],
                                stdout=mock_log, stderr=subprocess.STDOUT)
        children.append(mock)
        wait_for_port(mock_port)

        def mock_rss():
            with open(f"/proc/{mock.pid}/status") as status:
                return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))

        def source(port, s):
            return run(smtp_source(s, sessions, f"127.0.0.1:{port}"))[0]

        source(mock_port, 4)  # warm-up
        before = mock_rss()
        rows = []
        for s in [1, 50]:
            ours, ref = alternate(args.rounds, lambda: source(mock_port, s), lambda: source(sink_port, s))
            rows.append([f"{s} session{'s' if s > 1 else ''}", f"{sessions / ours:.0f}", f"{sessions / ref:.0f}",
                         f"{ref / ours:.2f}x", ">= 1.0x"])
        table(f"mock (serve) under smtp-source, {sessions} sessions",
              ["", "mock/s", "smtp-sink/s", "ratio", "goal"], rows)
        print(f"  mock RSS: {before} KiB before the timed rounds, {mock_rss()} KiB after them")
        mock.terminate()
        mock.wait()

        # Start-up of one scenario.
        one = os.path.join(work, "one.yaml")
        with open(one, "w") as f:
            f.write("name: one\nsteps:\n  - {send: EHLO bench.example.org, expect: 250}\n")
        ours, ref = alternate(
            max(args.rounds, 15),
            lambda: run(smtp_scenario_run(binary, one, sink))[0],
            lambda: run(["swaks", "--server", sink, "--quit-after", "EHLO", "--silent", "3"])[0],
        )
        table("one scenario, whole process", ["", "smtp-scenario", "swaks --quit-after EHLO", "goal"],
              [["start-up", f"{ours * 1000:.1f} ms", f"{ref * 1000:.1f} ms", "< 15 ms"]])

        if not args.quick:
            soak(binary, sink, work)
    finally:
        stop(children, work)


def stop(children, work):
    """Ends the servers a script started and removes its scratch folder."""
    for child in children:
        if child.poll() is None:
            child.terminate()
            child.wait()
    shutil.rmtree(work, ignore_errors=True)


def soak(binary, sink, work):
    """100,000 scenarios through the runner, JUnit and JSON written: RSS as it goes."""
    count = 100000
    path = os.path.join(work, "soak.yaml")
    compile_suite(path, count)
    junit, json_report = os.path.join(work, "soak.xml"), os.path.join(work, "soak.json")
    process = subprocess.Popen(smtp_scenario_run(binary, path, sink, 16, "--junit", junit, "--json", json_report),
                               stdout=subprocess.DEVNULL)
    samples = []
    start = time.monotonic()
    while process.poll() is None:
        try:
            with open(f"/proc/{process.pid}/status") as status:
                rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
            samples.append((time.monotonic() - start, rss))
        except (FileNotFoundError, StopIteration):
            break
        time.sleep(1)
    process.wait()
    elapsed = time.monotonic() - start
    print(f"\nsoak: {count} scenarios (--jobs 16, JUnit and JSON written) in {elapsed:.0f} s, exit {process.returncode}")
    step = max(1, len(samples) // 10)
    for t, rss in samples[::step]:
        print(f"  {t:6.0f} s  {rss / 1024:7.1f} MB")
    if len(samples) > 4:
        settled = [rss for _, rss in samples[len(samples) // 4:]]
        print(f"  after the first quarter: {min(settled) / 1024:.1f} - {max(settled) / 1024:.1f} MB "
              f"(flat means no growth with the number of scenarios run)")


if __name__ == "__main__":
    main()
