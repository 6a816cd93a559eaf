#!/usr/bin/env bash
# Full SMTP sessions per second: our mock server against Postfix's smtp-sink, side by side, with Postfix's
# smtp-source as the load generator (one message per session, EHLO/MAIL/RCPT/DATA/QUIT). Prints the rates, the
# ratio mock/smtp-sink, and the mock's memory over repeated runs (it should stay flat).
#
#   benchmarks/mock-vs-smtp-sink.sh [MESSAGES] [SESSIONS...]      default: 2000 messages, 1 and 50 sessions
#
# Needs the postfix package (smtp-source, smtp-sink) and a release build (made if missing). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-2000}
shift || true
sessions=("$@")
[ ${#sessions[@]} -gt 0 ] || sessions=(1 50)
bin=${BIN:-.build/release/smtp-scenario}
[ -x "$bin" ] || "$(dirname "$0")/../scripts/build-release" >&2
for tool in smtp-source smtp-sink; do
    command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "$tool not found (apt-get install postfix)" >&2; exit 1; }
done
export PATH=$PATH:/usr/sbin

work=$(mktemp -d)
trap 'kill $sink_pid $mock_pid 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sink_port=$(free_port)
mock_port=$(free_port)

# smtp-sink refuses to run as root without -u.
user_flag=()
[ "$(id -u)" -eq 0 ] && user_flag=(-u postfix)
smtp-sink "${user_flag[@]}" "127.0.0.1:$sink_port" 1024 &
sink_pid=$!
cat >"$work/policy.yaml" <<POLICY
# yaml-language-server: \$schema=../schemas/mock.schema.json
limits: {max-connections: 1024}
POLICY
"$bin" serve --listen "127.0.0.1:$mock_port" --config "$work/policy.yaml" >"$work/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 1 100); do
    grep -q "listening on" "$work/mock.log" 2>/dev/null && break
    sleep 0.05
done

rss() { awk '/VmRSS/ {print $2}' "/proc/$mock_pid/status"; }

# Runs smtp-source and prints sessions per second.
rate() { # port sessions
    local start end
    start=$(date +%s.%N)
    smtp-source -s "$2" -m "$messages" -f bench@example.org -t alice@example.com -M client.example.org "127.0.0.1:$1"
    end=$(date +%s.%N)
    python3 -c "print(f'{$messages / ($end - $start):.0f}')"
}

smtp-source -s 4 -m 200 -f bench@example.org -t alice@example.com "127.0.0.1:$mock_port"   # warm-up
printf '%-10s %10s %14s %14s %10s\n' sessions messages "smtp-sink/s" "mock/s" ratio
for s in "${sessions[@]}"; do
    sink=$(rate "$sink_port" "$s")
    mock=$(rate "$mock_port" "$s")
    printf '%-10s %10s %14s %14s %10s\n' "$s" "$messages" "$sink" "$mock" "$(python3 -c "print(f'{$mock / $sink:.2f}x')")"
done

echo
echo "mock memory (RSS) over repeated runs of $messages messages at ${sessions[-1]} sessions:"
printf '  before: %s KiB\n' "$(rss)"
for round in 1 2 3; do
    smtp-source -s "${sessions[-1]}" -m "$messages" -f bench@example.org -t alice@example.com "127.0.0.1:$mock_port"
    printf '  after round %s: %s KiB\n' "$round" "$(rss)"
done
