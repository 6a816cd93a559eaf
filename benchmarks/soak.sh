#!/usr/bin/env bash
# Soak: 100,000 SMTP sessions against the mock (`serve`, driven by Postfix's smtp-source) and 100,000 scenarios
# through the runner (against smtp-sink), printing each process's RSS and open file descriptors at intervals.
# Both must stay flat: no growth with the number of sessions or scenarios (beyond the runner's compiled plan).
#
#   benchmarks/soak.sh [SESSIONS] [SCENARIOS]      default: 100000 and 100000
#
# Needs the postfix package (smtp-source, smtp-sink) and a release build (made if missing). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
sessions=${1:-100000}
scenarios=${2:-100000}
bin=${BIN:-.build/release/smtp-scenario}
[ -x "$bin" ] || "$(dirname "$0")/../scripts/build-release" >&2
export PATH=$PATH:/usr/sbin
for tool in smtp-source smtp-sink; do
    command -v $tool >/dev/null || { echo "$tool not found (apt-get install postfix)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'kill $sink_pid $mock_pid $watch_pid 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
user_flag=()
[ "$(id -u)" -eq 0 ] && user_flag=(-u postfix)

# Prints "seconds  RSS-KiB  open-fds" for process $1 every $2 seconds until it exits.
watch_process() {
    local pid=$1 every=$2 start=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        local rss fds
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo -)
        fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
        printf '  %6ds  %8s KiB  %5s fds\n' $((SECONDS - start)) "$rss" "$fds"
        sleep "$every"
    done
}

echo "== the mock under $sessions sessions (smtp-source -s 20, one message each)"
mock_port=$(free_port)
printf 'limits: {max-connections: 1024}\n' >"$work/policy.yaml"
"$bin" serve --listen "127.0.0.1:$mock_port" --config "$work/policy.yaml" >"$work/mock.log" 2>&1 &
mock_pid=$!
until grep -q "listening on" "$work/mock.log" 2>/dev/null; do sleep 0.1; done
watch_process "$mock_pid" 5 &
watch_pid=$!
started=$SECONDS
smtp-source -s 20 -m "$sessions" -l 1000 -f soak@example.org -t alice@example.com "127.0.0.1:$mock_port"
echo "  $sessions sessions in $((SECONDS - started)) s; after them:"
sleep 1
printf '  RSS %s KiB, %s open fds (the listener, the event loops and standard streams)\n' \
    "$(awk '/VmRSS/ {print $2}' /proc/$mock_pid/status)" "$(ls /proc/$mock_pid/fd | wc -l)"
kill $watch_pid 2>/dev/null || true
kill $mock_pid

echo "== the runner through $scenarios scenarios (against smtp-sink, --jobs 16, JUnit and JSON written)"
sink_port=$(free_port)
smtp-sink "${user_flag[@]}" "127.0.0.1:$sink_port" 1024 &
sink_pid=$!
python3 - "$work/soak.yaml" "$scenarios" <<'PY'
import sys
path, count = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("suite: soak\nscenarios:\n")
    for i in range(count):
        f.write(f"  - name: s{i}\n    steps:\n      - send: EHLO soak.example\n      - send: MAIL FROM:<s@example.org>\n"
                "      - send: RCPT TO:<r@example.com>\n      - send: DATA\n      - data: \"Subject: soak\\n\\nbody\\n\"\n")
PY
"$bin" run "$work/soak.yaml" --server "127.0.0.1:$sink_port" --jobs 16 --color never \
    --junit "$work/soak.xml" --json "$work/soak.json" >"$work/run.log" &
run_pid=$!
watch_process "$run_pid" 5 &
watch_pid=$!
wait $run_pid || true
kill $watch_pid 2>/dev/null || true
tail -1 "$work/run.log"
