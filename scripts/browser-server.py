"""The server side of the browser tests (scripts/browser-test.sh): runs nats-server with
JetStream and a WebSocket listener, and answers what a page cannot do itself, through the
official Python client nats-py on the server's TCP port:

- ``browser.control.restart``: replies, then stops the server and starts it again on the
  same ports with the same JetStream store (a page's client must reconnect and resume);
- ``browser.control.call-service``: discovers the service named in the payload (a service
  running in the page) with ``$SRV.PING.<name>``, calls its ``<name>.echo`` endpoint, and
  replies with JSON ``{"id": ..., "reply": ...}``: a native client finds and calls it.

Usage: python browser-server.py NATS_SERVER DIR. Writes DIR/ws-url once the server is ready
(the page's URL, ``ws://127.0.0.1:PORT``); runs until terminated.
"""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time

import nats


def config(directory, client_port, ws_port):
    return f"""
listen: "127.0.0.1:{client_port}"
jetstream {{ store_dir: "{directory}/js" }}
websocket {{
    host: "127.0.0.1"
    port: {ws_port}
    no_tls: true
}}
"""


def start(server, directory, client_port, ws_port):
    """Starts nats-server and waits for it to be ready; returns (process, client, ws)."""
    path = os.path.join(directory, "nats-server.conf")
    with open(path, "w") as f:
        f.write(config(directory, client_port, ws_port))
    log_path = os.path.join(directory, "nats-server.log")
    log = open(log_path, "w")
    process = subprocess.Popen([server, "-c", path], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = open(log_path).read()
        ws = re.search(r"websocket clients on [^ ]*:(\d+)", text)
        client = re.search(r"client connections on [^ ]*:(\d+)", text)
        if ws and client and "Server is ready" in text:
            return process, int(client.group(1)), int(ws.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    sys.stderr.write("error: nats-server did not start:\n" + open(log_path).read())
    process.kill()
    sys.exit(1)


async def main(server, directory):
    # Port -1: the server picks free ports; restarts reuse them.
    process, client_port, ws_port = start(server, directory, -1, -1)
    nc = await nats.connect(
        f"nats://127.0.0.1:{client_port}", max_reconnect_attempts=-1, reconnect_time_wait=0.05
    )

    async def restart(msg):
        nonlocal process
        await msg.respond(b"restarting")
        await nc.flush()
        process.send_signal(signal.SIGTERM)
        process.wait()
        process, _, _ = start(server, directory, client_port, ws_port)
        print(f"browser-server: nats-server restarted on the page's request (pid {process.pid})", flush=True)

    async def call_service(msg):
        name = msg.data.decode()
        try:
            ping = await nc.request(f"$SRV.PING.{name}", b"", timeout=5)
            found = json.loads(ping.data)
            reply = await nc.request(f"{name}.echo", b"hello from nats-py", timeout=5)
            answer = {"id": found["id"], "reply": reply.data.decode()}
        except Exception as error:  # the page's assertion shows it
            answer = {"error": repr(error)}
        await msg.respond(json.dumps(answer).encode())

    await nc.subscribe("browser.control.restart", cb=restart)
    await nc.subscribe("browser.control.call-service", cb=call_service)
    await nc.flush()
    with open(os.path.join(directory, "ws-url.tmp"), "w") as f:
        f.write(f"ws://127.0.0.1:{ws_port}")
    os.rename(os.path.join(directory, "ws-url.tmp"), os.path.join(directory, "ws-url"))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await nc.close()
    process.send_signal(signal.SIGTERM)
    process.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
