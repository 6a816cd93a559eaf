#!/usr/bin/env bash
# Scripted SMTP sessions per second: smtp-scenario against swaks, side by side, both talking to Postfix's smtp-sink
# (so the server is never the bottleneck). Each session is the telnet troubleshooting session: EHLO, MAIL, RCPT,
# DATA, message, QUIT. Prints sessions per second for each tool and the ratio.
#
#   benchmarks/runner-vs-swaks.sh [SESSIONS] [PARALLEL]      default: 200 sessions, 1 and 4 at a time
#
# Needs swaks and the postfix package (smtp-sink), and a release build (made if missing). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-200}
parallel=${2:-4}
bin=${BIN:-.build/release/smtp-scenario}
[ -x "$bin" ] || "$(dirname "$0")/../scripts/build-release" >&2
command -v swaks >/dev/null || { echo "swaks not found (apt-get install swaks)" >&2; exit 1; }
export PATH=$PATH:/usr/sbin

work=$(mktemp -d)
trap 'kill $sink_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user_flag=()
[ "$(id -u)" -eq 0 ] && user_flag=(-u postfix)
smtp-sink "${user_flag[@]}" "127.0.0.1:$port" 1024 &
sink_pid=$!
for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" 2>/dev/null && break
    sleep 0.05
done

# One scenario per session, from a matrix of $count entries.
{
    echo 'name: telnet session'
    echo 'matrix:'
    echo "  n: [$(seq -s, 1 "$count")]"
    echo 'steps:'
    echo '  - {send: EHLO bench.example.org, expect: 250}'
    echo '  - {send: "MAIL FROM:<bench@example.org>", expect: 250}'
    echo '  - {send: "RCPT TO:<alice@example.com>", expect: 250}'
    echo '  - {send: DATA, expect: 354}'
    echo '  - {data: "Subject: bench ${n}\n\nHello.\n", expect: 250}'
    echo '  - {send: QUIT, expect: 221}'
} >"$work/bench.yaml"

elapsed() { python3 -c "print($2 - $1)"; }
now() { date +%s.%N; }

swaks_one() { swaks --server "127.0.0.1:$port" --from bench@example.org --to alice@example.com \
    --helo bench.example.org --header "Subject: bench $1" --body "Hello." --silent 3 >/dev/null; }
export -f swaks_one
export port

printf '%-10s %10s %16s %16s %10s\n' parallel sessions "swaks/s" "smtp-scenario/s" ratio
for jobs in 1 "$parallel"; do
    start=$(now)
    seq 1 "$count" | xargs -P "$jobs" -I{} bash -c 'swaks_one {}'
    swaks_time=$(elapsed "$start" "$(now)")
    start=$(now)
    "$bin" run "$work/bench.yaml" --server "127.0.0.1:$port" --jobs "$jobs" --color never >"$work/out.txt" \
        || { tail -20 "$work/out.txt"; exit 1; }
    ours_time=$(elapsed "$start" "$(now)")
    python3 -c "
s = $count / $swaks_time; o = $count / $ours_time
print(f'{$jobs:<10} {$count:>10} {s:>16.0f} {o:>16.0f} {o / s:>9.1f}x')"
done
