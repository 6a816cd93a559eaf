#!/usr/bin/env python3
"""Where one SMTP session's instructions go, in the runner and in the mock: callgrind, by module.

    benchmarks/session-profile.py [--sessions N] [--bin PATH] [--floor]

Counts instructions with valgrind's callgrind (repeatable on a noisy machine, unlike time) for the same work done
once and N + 1 times (default N = 200), and divides the difference by N: what remains is the cost of one more
session, with start-up, argument parsing and the first session's one-time work (metadata, conformance lookups)
taken out. Two subjects:

  runner  `smtp-scenario run` of the telnet session (EHLO, MAIL, RCPT, DATA, message, QUIT), --jobs 1, against
          Postfix's smtp-sink
  mock    `smtp-scenario serve`, the same session sent by Postfix's smtp-source

Prints each subject's instructions per session grouped by where they are spent (our modules, SwiftNIO, the Swift
runtime's reference counting, concurrency, exclusivity checks and metadata, malloc, the rest of libc) and the
functions that cost the most; then, without valgrind, the user and system CPU time per session of each subject and
of Postfix's tool doing the same work (smtp-source sending, smtp-sink receiving), since the kernel's share (system
calls, TCP) is not in callgrind's counts.

Needs valgrind and the postfix package (scripts/install-test-deps); runs valgrind on a `strip -g` copy of the
binary (valgrind 3.19 cannot read Swift 6.3's debug information). Loopback only. Takes a minute or two.
"""
import argparse
import collections
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # importing run-all.py leaves no __pycache__ in the repository
spec = importlib.util.spec_from_file_location("run_all", os.path.join(HERE, "run-all.py"))
run_all = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_all)

# Swift runtime and C library functions, by what they do. Swift functions go by the module in their mangled name.
RUNTIME_GROUPS = [
    ("reference counting", re.compile(r"swift_(retain|release|bridgeObjectRe)|RefCount|swift_isUniquely|"
                                      r"swift_(unknownObject)?(Retain|Release)")),
    ("Swift allocation", re.compile(r"swift_(allocObject|deallocObject|deallocClassInstance|slowAlloc|slowDealloc|"
                                    r"allocBox|deallocBox|arrayDestroy|arrayInit)|swift_deallocUninitialized")),
    # The access set lives in thread-local storage: SwiftTLSContext::get is part of every check.
    ("exclusivity checks", re.compile(r"swift_beginAccess|swift_endAccess|AccessSet|TLSContext")),
    ("concurrency runtime", re.compile(r"swift_task|swift_job|Task|StackAllocator|withStatusRecordLock|Executor|"
                                       r"swift_continuation|Continuation|AsyncTask|swift_asyncLet|"
                                       r"future_adapter|swift_defaultActor|DefaultActor")),
    ("generic metadata and casts", re.compile(r"Metadata|metadata|conformsToProtocol|dynamicCast|tryCast|getCache|"
                                              r"ConcurrentReadableHashMap|MetadataCacheKey|swift_getWitnessTable|"
                                              r"TypeByMangled|Demangle|WitnessTable")),
    ("malloc", re.compile(r"malloc|_int_free|cfree|free@|/free|arena|unlink_chunk|consolidate|tcache")),
]
OUR_MODULES = {"SMTPWire", "ScenarioLanguage", "ScenarioRunner", "ScenarioResults", "LocatedYAML", "MockServer",
               "Reports", "SMTPAuth", "SMTPScenarioApp", "smtp_scenario"}


def group_of(function):
    """The row a function's instructions are counted in."""
    name = function.split(" [")[0]
    mangled = re.search(r"\$s(s|S|\d+)", name)
    if mangled:
        if mangled.group(1) in ("s", "S"):
            module = "Swift"
        else:
            length = int(mangled.group(1))
            start = mangled.end()
            module = name[start:start + length]
        if module in OUR_MODULES:
            return "ours: " + module
        if module.startswith("NIO") or module.startswith("_NIO") or module in ("DequeModule", "Atomics"):
            return "SwiftNIO (and its collections, atomics)"
        if module == "Swift":
            return "Swift standard library"
        return module
    for label, pattern in RUNTIME_GROUPS:
        if pattern.search(name):
            return label
    if "libc.so" in function or "libpthread" in function:
        return "libc (locks, memcpy, clock, syscall wrappers)"
    if "ld-linux" in function:
        return "dynamic loader"
    return "Swift runtime, other"


def exclusive_costs(out_file):
    """Instructions spent in each function itself (callgrind_annotate, every function listed)."""
    text = subprocess.run(["callgrind_annotate", "--threshold=100", out_file], capture_output=True, text=True,
                          check=True).stdout
    costs = collections.Counter()
    started = False
    for line in text.splitlines():
        if "file:function" in line:
            started = True
            continue
        match = re.match(r"\s*([\d,]+) \([^)]*\)\s+(.*)$", line)
        if started and match:
            costs[match.group(2)] += int(match.group(1).replace(",", ""))
    return costs


def total(out_file):
    with open(out_file) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    return 0


def per_session(small, large, sessions):
    """Cost of one more session: (large - small) / sessions, per function."""
    a, b = exclusive_costs(large), exclusive_costs(small)
    return {k: (a[k] - b.get(k, 0)) / sessions for k in a}


def report(title, costs, top):
    grand = sum(costs.values())
    print(f"\n{title}: {grand:,.0f} instructions per session")
    groups = collections.Counter()
    for function, cost in costs.items():
        groups[group_of(function)] += cost
    for label, cost in groups.most_common():
        if abs(cost) >= grand * 0.002:
            print(f"  {cost:10,.0f}  {100 * cost / grand:5.1f}%  {label}")
    print(f"  top {top} functions:")
    for function, cost in sorted(costs.items(), key=lambda item: -item[1])[:top]:
        name = function.split(" [")[0]
        print(f"  {cost:10,.0f}  {100 * cost / grand:5.1f}%  {name[:110]}")


def callgrind(out, command):
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command]


def profile_runner(binary, sink, work, sessions):
    def command(count):
        scenario = os.path.join(work, f"runner-{count}.yaml")
        run_all.session_scenario(scenario, count)
        return run_all.smtp_scenario_run(binary, scenario, sink, 1)

    return profile_sender("runner", command, work, sessions)


def profile_sender(label, command, work, sessions):
    """A client's cost of one more session; `command(count)` sends `count` sessions and exits."""
    outs = []
    for count in (1, sessions + 1):
        out = os.path.join(work, f"{label.replace(' ', '-')}-{count}.callgrind")
        subprocess.run(callgrind(out, command(count)),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        outs.append(out)
    print(f"{label}: {total(outs[0]):,} instructions for 1 session, {total(outs[1]):,} for {sessions + 1}")
    return per_session(outs[0], outs[1], sessions)


def profile_mock(binary, work, sessions):
    policy = os.path.join(work, "policy.yaml")
    return profile_receiver("mock", lambda port: [binary, "serve", "--listen", f"127.0.0.1:{port}", "--config", policy],
                            work, sessions)


def profile_receiver(label, command, work, sessions):
    """A server's cost of one more session under smtp-source; `command(port)` starts it listening on `port`."""
    outs = []
    for count in (1, sessions + 1):
        port = run_all.free_port()
        out = os.path.join(work, f"{label.replace(' ', '-')}-{count}.callgrind")
        server = subprocess.Popen(callgrind(out, command(port)),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            run_all.wait_for_port(port, timeout=120)
            subprocess.run(run_all.smtp_source(1, count, f"127.0.0.1:{port}"), check=True)
            # wait_for_port's probe connection is one more session in both runs: it cancels out. SIGINT lets a
            # server close what is still open (serve writes its last log lines), in both runs alike.
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=120)
        outs.append(out)
    print(f"{label}: {total(outs[0]):,} instructions for 1 session, {total(outs[1]):,} for {sessions + 1}")
    return per_session(outs[0], outs[1], sessions)


def cpu_seconds(pid):
    """User and system CPU seconds a running process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def child_cpu(command):
    """User and system CPU seconds of one command run to its end."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(command)}")
    return usage.ru_utime, usage.ru_stime


def server_cpu(pid, load):
    """User and system CPU seconds a running server spends while `load` runs."""
    before = cpu_seconds(pid)
    child_cpu(load)
    after = cpu_seconds(pid)
    return after[0] - before[0], after[1] - before[1]


def cpu_per_session(binary, sink_port, sink_pid, work, sessions):
    """CPU microseconds per session, user and system, of ours and of Postfix's tools doing the same work, without
    valgrind. (Instruction counts of the C tools would mislead: smtp-source's event loop clears a large descriptor
    set with wide vector stores each turn, hundreds of thousands of counted instructions that take little time.)"""
    scenario = os.path.join(work, "runner-cpu.yaml")
    run_all.session_scenario(scenario, sessions)
    sink = f"127.0.0.1:{sink_port}"
    rows = [("runner, run --jobs 1", child_cpu(run_all.smtp_scenario_run(binary, scenario, sink, 1))),
            ("smtp-source -s 1", child_cpu(run_all.smtp_source(1, sessions, sink)))]
    policy = os.path.join(work, "policy.yaml")
    port = run_all.free_port()
    mock = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--config", policy],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_all.wait_for_port(port)
        for label, pid, target in [("mock (serve)", mock.pid, f"127.0.0.1:{port}"),
                                   ("smtp-sink", sink_pid, sink)]:
            rows.append((label, server_cpu(pid, run_all.smtp_source(1, sessions, target))))
    finally:
        mock.send_signal(signal.SIGINT)
        mock.wait(timeout=60)
    print(f"\nCPU per session, {sessions} sessions one at a time, no valgrind (user / system, microseconds):")
    for label, (user, system) in rows:
        print(f"  {label:22} {user / sessions * 1e6:7.1f} / {system / sessions * 1e6:7.1f}")


def floor_benchmark():
    """benchmarks/floor.py as a module (imported here, not at the top: it imports this file)."""
    floor_spec = importlib.util.spec_from_file_location("floor", os.path.join(HERE, "floor.py"))
    module = importlib.util.module_from_spec(floor_spec)
    floor_spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--bin", default=os.path.join(os.path.dirname(HERE), ".build/release/smtp-scenario"))
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--floor", action="store_true",
                        help="also profile benchmarks/nio-floor, the least NIO program that sends or answers the "
                             "same session (built on first use): the part of a session any NIO program pays")
    args = parser.parse_args()
    for tool in ["valgrind", "callgrind_annotate", "smtp-sink", "smtp-source"]:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (scripts/install-test-deps installs postfix; valgrind: apt-get install valgrind)")
    if not os.access(args.bin, os.X_OK):
        subprocess.run([os.path.join(os.path.dirname(HERE), "scripts", "build-release")], check=True)
    work = tempfile.mkdtemp(prefix="smtp-profile-")
    sink_process = None
    try:
        with open(os.path.join(work, "policy.yaml"), "w") as f:
            f.write("limits: {max-connections: 1024}\n")
        binary = os.path.join(work, "smtp-scenario")
        shutil.copy(args.bin, binary)
        subprocess.run(["strip", "-g", binary], check=True)
        sink_port = run_all.free_port()
        user = ["-u", "postfix"] if os.getuid() == 0 else []
        sink_process = subprocess.Popen(["smtp-sink", *user, f"127.0.0.1:{sink_port}", "1024"])
        run_all.wait_for_port(sink_port)
        runner = profile_runner(binary, f"127.0.0.1:{sink_port}", work, args.sessions)
        mock = profile_mock(binary, work, args.sessions)
        report("runner (run --jobs 1 against smtp-sink)", runner, args.top)
        report("mock (serve under smtp-source -s 1)", mock, args.top)
        if args.floor:
            floor = os.path.join(work, "nio-floor")
            shutil.copy(floor_benchmark().floor_binary(), floor)
            subprocess.run(["strip", "-g", floor], check=True)
            sender = profile_sender("nio-floor send",
                                    lambda count: [floor, "send", "127.0.0.1", str(sink_port), str(count), "1"],
                                    work, args.sessions)
            receiver = profile_receiver("nio-floor sink", lambda port: [floor, "sink", "127.0.0.1", str(port)], work,
                                        args.sessions)
            report("nio-floor send (against smtp-sink)", sender, args.top)
            report("nio-floor sink (under smtp-source -s 1)", receiver, args.top)
        cpu_per_session(args.bin, sink_port, sink_process.pid, work, 2000)
    finally:
        if sink_process is not None:
            sink_process.terminate()
            sink_process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
