#!/usr/bin/env python3
"""The contract, tested from outside: schemathesis against a real `hotdeal serve --log none`.

schemathesis reads api/openapi.yaml, sends what it generates from it (valid and invalid
requests, and chains of them through the spec's links), and checks every answer against the
spec: status codes, content types, headers, bodies. The run is bounded in examples and time and
must end with no failure and no error. Skips (exit 77) when the scripts/setup venv lacks it.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ADMIN_TOKEN = "contract-admin-token"
SERVICE_TOKEN = "contract-service-token"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(port, server, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"hotdeal exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("hotdeal did not become ready")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hotdeal", required=True)
    parser.add_argument("--python", required=True, help="the venv's python, with schemathesis")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--config", required=True, help="schemathesis.toml")
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--timeout", type=int, default=110, help="seconds, a backstop")
    args = parser.parse_args()
    # schemathesis runs in a scratch folder (its reports land there).
    for name in ("hotdeal", "python", "spec", "config"):
        setattr(args, name, os.path.abspath(getattr(args, name)))

    schemathesis = os.path.join(os.path.dirname(args.python), "schemathesis")
    if not os.access(schemathesis, os.X_OK):
        print("no schemathesis in the venv: skipped (run scripts/setup)")
        return 77

    port = free_port()
    work = tempfile.mkdtemp(prefix="hotdeal-contract-")
    server_log = open(os.path.join(work, "server.log"), "w")
    # A small --stock-max: a generated creation of millions of units answers 409 capacity at
    # once instead of building gigabytes of tables for seconds.
    result = 1
    server = subprocess.Popen(
        [args.hotdeal, "serve", "--listen", f"127.0.0.1:{port}", "--admin-token", ADMIN_TOKEN,
         "--service-token", SERVICE_TOKEN, "--log", "none", "--persister", "off",
         "--data-dir", os.path.join(work, "data"), "--stock-max", "10000"],
        stdout=subprocess.DEVNULL, stderr=server_log)
    try:
        wait_ready(port, server, 10)
        env = dict(os.environ, HOTDEAL_CONTRACT_ADMIN_TOKEN=ADMIN_TOKEN,
                   HOTDEAL_CONTRACT_SERVICE_TOKEN=SERVICE_TOKEN)
        # Bounded by --max-examples per operation (--max-time would repeat the phases until
        # it is spent); the timeout is a backstop should anything hang.
        command = [schemathesis, "--config-file", args.config, "run", args.spec,
                   "--url", f"http://127.0.0.1:{port}", "--checks", "all",
                   "--max-examples", str(args.max_examples),
                   "--request-timeout", "5", "--workers", "1", "--no-color",
                   "--generation-database", "none"]
        print(" ".join(command), flush=True)
        result = subprocess.run(command, env=env, cwd=work, timeout=args.timeout).returncode
        if server.poll() is not None:
            print(f"hotdeal exited with {server.returncode} during the run", file=sys.stderr)
            result = 1
    finally:
        # Stopped by its pid, as it was started.
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server_log.close()
    if result == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        with open(server_log.name) as log:
            print(log.read()[-2000:], file=sys.stderr)
        print(f"the server's data and log are kept in {work}", file=sys.stderr)
    return result


if __name__ == "__main__":
    sys.exit(main())
