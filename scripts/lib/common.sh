# shellcheck shell=bash
# shellcheck disable=SC2034  # the HD_ variables are used by the scripts that source this file
# Shared helpers for scripts/setup and scripts/stack: where things live, which ports the local
# stack uses, logging, and the bounded wait loops. Sourced, never run; it defines names and
# starts nothing, so sourcing it twice is harmless.
#
# Every port and path the stack uses is decided here, once, so `stack up`, `stack env` and
# docs/operations.md cannot drift apart.

# The checkout this file belongs to, whatever the caller's working directory.
HD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Downloaded artifacts (Kafka jars), kept across `stack reset`; ignored by git.
HD_CACHE_DIR="$HD_ROOT/.cache"
# Everything the running stack writes: data, logs, pid files; ignored by git.
HD_STACK_DIR="$HD_ROOT/var/stack"

# Loopback only, and ports well away from the system defaults (3306, 9092, 9090) so a
# distribution-started service or another project's can keep its own.
HD_HOST=127.0.0.1
HD_MARIADB_PORT=${HOTDEAL_STACK_MARIADB_PORT:-13306}
HD_KAFKA_PORT=${HOTDEAL_STACK_KAFKA_PORT:-19092}
HD_KAFKA_CONTROLLER_PORT=${HOTDEAL_STACK_KAFKA_CONTROLLER_PORT:-19093}
HD_PROMETHEUS_PORT=${HOTDEAL_STACK_PROMETHEUS_PORT:-19090}
# What Prometheus scrapes: where `hotdeal serve` listens by default.
HD_SCRAPE_TARGET=${HOTDEAL_STACK_SCRAPE_TARGET:-127.0.0.1:8080}
# How long `stack up` waits for one service to become ready before it gives up.
HD_READY_TIMEOUT_SECONDS=${HOTDEAL_STACK_TIMEOUT:-120}

# The accounts `stack up` creates; the app's defaults match them.
HD_MYSQL_USER=hotdeal
HD_MYSQL_PASSWORD=hotdeal
HD_MYSQL_DATABASE=hotdeal

# The one Kafka release the project runs, read from the pom that fetches it so the version
# is written down in exactly one place.
HD_KAFKA_POM="$HD_ROOT/scripts/kafka/pom.xml"
hd_kafka_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HD_KAFKA_POM"
}
hd_kafka_libs_dir() {
  printf '%s/kafka/%s/libs\n' "$HD_CACHE_DIR" "$(hd_kafka_version)"
}

# Messages go to stderr so that stdout stays clean for output meant for `eval` (stack env).
# The prefix is the script's name, so a line in a long CI log says who printed it.
hd_log() {
  printf '%s: %s\n' "${HD_SCRIPT:-hotdeal}" "$*" >&2
}
hd_die() {
  printf '%s: error: %s\n' "${HD_SCRIPT:-hotdeal}" "$*" >&2
  exit 1
}

# Prints a script's header comment (after the #! line, up to the first line that is not a
# comment) as its usage text, so the help and the header cannot disagree.
hd_usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$1"
}

# Seconds since the epoch with millisecond precision, for "ready in 4.2s" lines.
hd_now() {
  date +%s.%N
}
hd_elapsed() {
  awk -v start="$1" -v end="$(hd_now)" 'BEGIN { printf "%.1fs", end - start }'
}

# True when something accepts TCP connections on HOST PORT. Uses bash's /dev/tcp so it needs
# no extra tool; the subshell closes the socket again at once.
hd_port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# The one-letter scheduler state of PID (R, S, D, T for stopped, Z for zombie, ...), or nothing
# when there is no such process. The command name may hold spaces and parentheses, so the
# state is read after the last ") ".
hd_pid_state() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  printf '%s\n' "${stat%% *}"
}

# True while PID is a live process; a zombie (exited, not yet reaped) counts as dead.
hd_pid_alive() {
  case "$(hd_pid_state "$1")" in
    Z | X | "") return 1 ;;
  esac
}

# hd_wait_until TIMEOUT_SECONDS PID COMMAND...: run COMMAND every 0.2s until it succeeds.
# Fails early when process PID has died (no point waiting for a crashed server) and when the
# time is up, so no caller can hang forever.
hd_wait_until() {
  local timeout_seconds=$1 pid=$2
  shift 2
  local deadline=$((SECONDS + timeout_seconds))
  until "$@" >/dev/null 2>&1; do
    if ! hd_pid_alive "$pid"; then
      return 2
    fi
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.2
  done
}

# The last lines of a log, indented, for error messages that must say why a service failed.
hd_log_tail() {
  local file=$1 lines=${2:-40}
  if [ -s "$file" ]; then
    printf '%s: --- last %s lines of %s ---\n' "${HD_SCRIPT:-hotdeal}" "$lines" "$file" >&2
    tail -n "$lines" "$file" | sed 's/^/  /' >&2
  else
    printf '%s: (%s is empty or missing)\n' "${HD_SCRIPT:-hotdeal}" "$file" >&2
  fi
}
