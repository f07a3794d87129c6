# Shell helpers the shell tests share (tests/jmeter, tests/bench); sourced, so `wait` reaps
# the caller's own children.

# end_pid PID: TERM to a child of this shell (if PID is set), then reap it.
end_pid() {
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# stop_pid PID SECONDS: TERM, up to SECONDS for it to leave (a server drains), then KILL; reaped.
stop_pid() {
  local pid=$1 seconds=$2
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq $((seconds * 5))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
