#!/usr/bin/env python3
"""The demo page (GET /demo/) in headless Chromium against a real `hotdeal serve`.

It checks what a visitor sees: the countdown before the opening (server clock from /v1/time),
`remaining` falling as other users claim (only the event stream tells the page that), and the
claim button winning a coupon. Chromium is driven over its DevTools pipe (fds 3 and 4, JSON
messages ending in NUL), so nothing beyond the standard library is needed. Exit 77 (skipped)
without chromium. `--screenshot FILE` also writes what the page shows at the end.

    demo_page_test.py --hotdeal build/release/app/hotdeal [--screenshot docs/demo-page.png]
"""
import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(port, method, path, body=None, token=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode())
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class Chromium:
    """One headless browser and one page, over --remote-debugging-pipe."""

    def __init__(self, binary, profile):
        to_chrome_read, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_write = os.pipe()

        def wire_fds():
            os.dup2(to_chrome_read, 3)
            os.dup2(from_chrome_write, 4)

        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--user-data-dir=" + profile, "--window-size=720,560", "--hide-scrollbars"],
            # Kept open in the child: the wired 3 and 4 (and their sources, until dup2 ran).
            preexec_fn=wire_fds, pass_fds=(3, 4, to_chrome_read, from_chrome_write),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        self.next_id = 0
        self.pending = b""
        self.session = None

    def call(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.pending:
                chunk = os.read(self.from_chrome, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed its pipe")
                self.pending += chunk
            raw, self.pending = self.pending.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def open(self, url):
        target = self.call("Target.createTarget", {"url": url}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]

    def text(self, element_id):
        result = self.call("Runtime.evaluate", {
            "expression": f"(document.getElementById({json.dumps(element_id)}) || {{}}).textContent",
            "returnByValue": True})
        return result["result"].get("value")

    def wait_for(self, what, check, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def close(self):
        try:
            self.call("Browser.close", session=False)
            self.process.wait(timeout=5)
        except Exception:
            self.process.kill()
            self.process.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hotdeal", required=True)
    parser.add_argument("--screenshot")
    args = parser.parse_args()
    browser_binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser_binary:
        print("no chromium: skipped (scripts/setup installs it)")
        return 77

    port = free_port()
    work = tempfile.mkdtemp(prefix="hotdeal-demo-")
    server = subprocess.Popen(
        [args.hotdeal, "serve", "--listen", f"127.0.0.1:{port}", "--admin-token", "T",
         "--log", "none", "--persister", "off", "--data-dir", os.path.join(work, "data")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser = None
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if http(port, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("hotdeal did not become ready")
            time.sleep(0.05)
        opens_at = time.time() + 3
        starts_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(opens_at) + 1))
        status, body = http(port, "POST", "/v1/campaigns", {
            "id": "bf-coupon", "kind": "coupon", "name": "Black Friday: 10% off", "stock": 100,
            "starts_at": starts_at}, token="T")
        assert status == 201, body

        browser = Chromium(browser_binary, os.path.join(work, "profile"))
        browser.open(f"http://127.0.0.1:{port}/demo/?campaign=bf-coupon&user=u-visitor")
        # Before the opening: a countdown on the server's clock, claims not yet possible.
        browser.wait_for("the countdown", lambda: (browser.text("countdown") or "").endswith(" s"))
        assert browser.text("status") == "scheduled", browser.text("status")
        assert browser.text("remaining") == "100"
        browser.wait_for("the stream", lambda: browser.text("live") == "(live)")
        # Opened: other users claim; only the stream can tell the page.
        browser.wait_for("the opening", lambda: browser.text("countdown") == "open", timeout=8)
        for user in range(37):
            status, body = http(port, "POST", "/v1/campaigns/bf-coupon/claims", {"user_id": f"u{user}"})
            assert status == 201, body
        browser.wait_for("remaining from the stream", lambda: browser.text("remaining") == "63")
        assert browser.text("status") == "live"
        # The visitor's own claim.
        browser.call("Runtime.evaluate", {"expression": "document.getElementById('claim').click()"})
        browser.wait_for("the claim's answer",
                         lambda: (browser.text("result") or "").startswith("Yours: coupon"))
        browser.wait_for("the visitor's unit gone", lambda: browser.text("remaining") == "62")
        if args.screenshot:
            shot = browser.call("Page.captureScreenshot", {"format": "png"})
            with open(args.screenshot, "wb") as out:
                out.write(base64.b64decode(shot["data"]))
        print("demo page: countdown, stream, claim: OK")
        return 0
    finally:
        if browser:
            browser.close()
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
