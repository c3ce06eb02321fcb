#!/usr/bin/env python3
"""Loads a page in headless Chromium through chromedriver (the WebDriver protocol, standard
library only), waits until an element's text reads as wanted, then saves a PNG screenshot.

usage: page-screenshot.py URL OUT.png [--wait-id status --wait-text ok --timeout 30]
                          [--print-id ID]   (prints that element's text once done)
Env: CHROMIUM, CHROMEDRIVER (paths), PROFILE_DIR (a fresh Chromium profile directory).
"""
import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["value"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--wait-id", default="status")
    parser.add_argument("--wait-text", default="ok")
    parser.add_argument("--fail-text", default="failed")
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--size", default="1100,620")
    parser.add_argument("--print-id", default=None)
    args = parser.parse_args()

    port = free_port()
    driver = subprocess.Popen([os.environ.get("CHROMEDRIVER", "chromedriver"), f"--port={port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                call(base, "GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        width, height = args.size.split(",")
        capabilities = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
                     f"--window-size={width},{height}",
                     f"--user-data-dir={os.environ['PROFILE_DIR']}"]}}}}
        session = call(base, "POST", "/session", capabilities)["sessionId"]
        try:
            call(base, "POST", f"/session/{session}/url", {"url": args.url})
            script = f"const e = document.getElementById({json.dumps(args.wait_id)}); return e ? e.textContent : null;"
            deadline = time.monotonic() + args.timeout
            text = None
            while time.monotonic() < deadline:
                text = call(base, "POST", f"/session/{session}/execute/sync", {"script": script, "args": []})
                if text in (args.wait_text, args.fail_text):
                    break
                time.sleep(0.2)
            png = base64.b64decode(call(base, "GET", f"/session/{session}/screenshot"))
            with open(args.out, "wb") as f:
                f.write(png)
            if args.print_id:
                shown = f"const e = document.getElementById({json.dumps(args.print_id)}); return e ? e.textContent : null;"
                print(call(base, "POST", f"/session/{session}/execute/sync", {"script": shown, "args": []}))
            if text != args.wait_text:
                log = "const e = document.getElementById('log'); return e ? e.textContent : null;"
                print(call(base, "POST", f"/session/{session}/execute/sync", {"script": log, "args": []}), file=sys.stderr)
                print(f"error: #{args.wait_id} reads {text!r}, not {args.wait_text!r}", file=sys.stderr)
                return 1
            return 0
        finally:
            call(base, "DELETE", f"/session/{session}")
    finally:
        driver.terminate()
        driver.wait()


if __name__ == "__main__":
    sys.exit(main())
