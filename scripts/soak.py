#!/usr/bin/env python3
"""A fault campaign against a real `spiegel serve` (release build), for `make soak`; not in CI.

Teachers write through the plain webhook, signed, and send a message again (same id) until it
gets 200, as a bridge does; a receiver on loopback takes the replies and goes down and up at random.
Meanwhile `spiegel serve` is killed with SIGKILL at random moments and started again, its data
disk (a small tmpfs in a mount namespace of its own) is filled and freed, and its open-file limit
is pulled below what it uses and given back (EMFILE). Some requests are malformed on purpose
(fuzzing the webhook parser). At the end the receiver stays up until every outbox is empty, and
every teacher's journal is exported.

Figures (printed, and what docs/operations.md reports under "Faults"):
- accepted: messages that got 200; each must be answered: its first reply key reaches the
  receiver (lost = accepted without it);
- duplicates: reply keys that reached the receiver with two different texts (a message
  processed twice);
- corrupt: journals `spiegel export` cannot read, or logs that say a record does not open.

Needs root (mount namespace, prlimit), util-linux and python3; no outside packages.
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SECRET = b"soak-secret-of-the-bridge"
ANSWERS = [
    "hallo", "1", "Rust bij de start van de les", "De overgang naar het groepswerk", "boos",
    "Ze luisterden beter dan ik dacht", "Ik wil kortere instructie geven", "7",
    "Morgen in het derde uur", "weet ik niet", "ja", "nee", "Een vraag stellen voor ik uitleg",
    "Ik voelde me rustig", "De leerlingen waren onrustig na de pauze", "8", "ok", "stop",
]


def sign(body: bytes) -> dict:
    ts = str(int(time.time()))
    mac = hmac.new(SECRET, b"v1:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Spiegel-Timestamp": ts, "X-Spiegel-Signature": "v1=" + mac, "Content-Type": "application/json"}


def tag(user: str) -> str:
    return hashlib.sha256(user.encode()).hexdigest()[:12]


class Receiver(http.server.ThreadingHTTPServer):
    """Takes replies; answers 503 while `down`."""

    daemon_threads = True

    def __init__(self):
        self.lock = threading.Lock()
        self.texts = {}  # key -> set of texts
        self.deliveries = 0
        self.down = False
        super().__init__(("127.0.0.1", 0), ReceiverHandler)


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server = self.server
        if server.down:
            self.send_response(503)
            self.end_headers()
            return
        try:
            message = json.loads(body)
            with server.lock:
                server.texts.setdefault(message["key"], set()).add(message["text"])
                server.deliveries += 1
        except (ValueError, KeyError):
            pass
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Bot:
    """`spiegel serve` in the mount namespace of the small disk."""

    def __init__(self, binary, holder, environment, logs):
        self.binary, self.holder, self.environment, self.logs = binary, holder, environment, logs
        self.process = None
        self.port = None
        self.starts = 0

    def start(self, stats=None):
        """Starts `serve`; a start that fails (a disk still full at the replay) is tried again."""
        for attempt in range(10):
            try:
                return self.start_once()
            except RuntimeError:
                if stats:
                    stats.count("starts that failed and were tried again")
                time.sleep(1)
        return self.start_once()

    def start_once(self):
        self.starts += 1
        log = open(os.path.join(self.logs, f"serve-{self.starts}.log"), "wb")
        self.process = subprocess.Popen(
            ["nsenter", "-t", str(self.holder.pid), "-m", "--", self.binary, "serve"],
            env=self.environment, stdout=subprocess.PIPE, stderr=log,
        )
        line = self.process.stdout.readline().decode()
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if not match:
            raise RuntimeError(f"serve did not start: {line!r}; see {log.name}")
        self.port = int(match.group(1))
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def kill(self, sig=signal.SIGKILL):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
        if self.process:
            self.process.wait()
        return self.process.returncode if self.process else None


def post(port, body, timeout=15):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/hooks/plain", data=body, headers=sign(body), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None, {}


class Teacher(threading.Thread):
    def __init__(self, number, bot, stats, stop, fuzz_share):
        super().__init__(daemon=True)
        self.user = f"@soak{number}:school.example"
        self.bot, self.stats, self.stop, self.fuzz_share = bot, stats, stop, fuzz_share
        self.accepted = []
        self.random = random.Random(number)

    def run(self):
        sequence = 0
        while not self.stop.is_set():
            if self.random.random() < self.fuzz_share:
                self.fuzz()
                continue
            sequence += 1
            message_id = f"m{sequence}"
            body = json.dumps({"id": message_id, "user": self.user, "room": f"!dm-{self.user}",
                               "text": self.random.choice(ANSWERS), "ts": int(time.time())}).encode()
            # Sent again, same id, until accepted: what a bridge does.
            while not self.stop.is_set():
                status, headers = post(self.bot.port, body)
                self.stats.count(f"status {status}")
                if status == 200:
                    self.accepted.append(message_id)
                    break
                wait = float(headers.get("Retry-After", "0.2")) if status == 429 else 0.2
                time.sleep(min(wait, 5))
            time.sleep(self.random.uniform(0, 0.3))

    def fuzz(self):
        """A request the parser must refuse or ignore, never crash on."""
        kind = self.random.randrange(5)
        if kind == 0:
            body = bytes(self.random.randrange(256) for _ in range(self.random.randrange(1, 300)))
        elif kind == 1:
            body = json.dumps({"id": 5, "user": None, "text": ["x"] * 3}).encode()
        elif kind == 2:
            body = b'{"id": "x", "user": "' + b"\xff\xfe" * 20 + b'", "room": "r", "text": "t", "ts": 1}'
        elif kind == 3:
            body = b"[" * self.random.randrange(1, 5000)
        else:
            body = json.dumps({"id": "f", "user": self.user, "room": "r", "text": "x" * 70000, "ts": 1}).encode()
        status, _ = post(self.bot.port, body)
        self.stats.count("fuzz")
        if status is not None and status not in (200, 400, 413, 415, 429, 503):
            self.stats.count(f"fuzz unexpected {status}")


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def count(self, what, by=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + by


def open_files(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


HOLDERS = []


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True, help="the release `spiegel`")
    parser.add_argument("--prompts", default="Prompts")
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--teachers", type=int, default=6)
    parser.add_argument("--fuzz-share", type=float, default=0.1, help="share of requests that are malformed on purpose")
    parser.add_argument("--seed", type=int, default=2026)
    arguments = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("soak: needs root (a tmpfs in a mount namespace, prlimit)")
    rng = random.Random(arguments.seed)
    work = tempfile.mkdtemp(prefix="spiegel-soak-")
    disk = os.path.join(work, "disk")
    logs = os.path.join(work, "logs")
    os.makedirs(disk)
    os.makedirs(logs)
    holder = subprocess.Popen(
        ["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=512m,mode=0700 tmpfs "$1" && echo mounted && exec sleep 86400', "sh", disk],
        stdout=subprocess.PIPE,
    )
    HOLDERS.append(holder)
    if holder.stdout.readline().strip() != b"mounted":
        sys.exit("soak: cannot mount a tmpfs in a mount namespace")
    inside = f"/proc/{holder.pid}/root{disk}"

    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SPIEGEL_")}
    environment.update({
        "SPIEGEL_DATA_DIR": disk + "/data", "SPIEGEL_PROMPTS_DIR": os.path.abspath(arguments.prompts),
        "SPIEGEL_VAULT_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(), "SPIEGEL_SERVER_PORT": "0",
        "SPIEGEL_PLAIN_SECRET": SECRET.decode(), "SPIEGEL_PLAIN_OUTBOUND_URL": f"http://127.0.0.1:{receiver.server_port}/inbox",
        "SPIEGEL_LOG_LEVEL": "notice",
    })
    bot = Bot(os.path.abspath(arguments.binary), holder, environment, logs)
    stats = Stats()
    stop = threading.Event()
    started = time.time()
    bot.start()
    teachers = [Teacher(n, bot, stats, stop, arguments.fuzz_share) for n in range(arguments.teachers)]
    for teacher in teachers:
        teacher.start()

    soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    for cycle in range(1, arguments.cycles + 1):
        receiver.down = rng.random() < 0.3
        episode = None
        if cycle % 10 == 0:
            episode = "disk full"
            try:
                with open(inside + "/filler", "wb") as filler:
                    while True:
                        filler.write(b"." * 65536)
                        filler.flush()
            except OSError:
                pass
        elif cycle % 10 == 5 and bot.process.poll() is None:
            episode = "EMFILE"
            pid = bot.process.pid
            limit = open_files(pid) + 1
            # The soft limit only: raising a hard limit again takes a capability a container may lack.
            subprocess.run(["prlimit", "--pid", str(pid), f"--nofile={limit}:"], check=True)
        time.sleep(rng.uniform(0.2, 1.0))
        if episode == "disk full":
            if os.path.exists(inside + "/filler"):
                os.unlink(inside + "/filler")
            stats.count("disk-full episodes")
        elif episode == "EMFILE":
            subprocess.run(["prlimit", "--pid", str(bot.process.pid), f"--nofile={soft_limit}:"], check=True)
            stats.count("EMFILE episodes")
        time.sleep(rng.uniform(0, 0.3))
        status = bot.process.poll()
        if status is not None:
            stats.count(f"serve exited by itself with {status}")
        bot.kill()
        stats.count("SIGKILL cycles")
        bot.start(stats)
        if cycle % 50 == 0:
            accepted = sum(len(t.accepted) for t in teachers)
            print(f"soak: cycle {cycle}, {accepted} accepted, {receiver.deliveries} deliveries, {time.time() - started:.0f} s", flush=True)

    # The end: the receiver up until every outbox is empty, then a clean stop.
    stop.set()
    for teacher in teachers:
        teacher.join(timeout=30)
    receiver.down = False
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{bot.port}/metrics", timeout=5).read().decode()
            depths = [float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith("spiegel_outbox_depth{")]
            if depths and all(depth == 0 for depth in depths):
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    bot.kill(signal.SIGTERM)

    lost = []
    for teacher in teachers:
        for message_id in teacher.accepted:
            if f"{tag(teacher.user)}/{message_id}#0" not in receiver.texts:
                lost.append((teacher.user, message_id))
    duplicates = sum(1 for texts in receiver.texts.values() if len(texts) > 1)
    corrupt = 0
    for teacher in teachers:
        export = subprocess.run(
            ["nsenter", "-t", str(holder.pid), "-m", "--", bot.binary, "export", "--user", teacher.user],
            env=environment, capture_output=True,
        )
        if export.returncode != 0:
            corrupt += 1
    bad_logs = 0
    for name in os.listdir(logs):
        with open(os.path.join(logs, name), "rb") as log:
            text = log.read()
            if b"does not open" in text or b"replay_failed" in text or b"corrupt" in text:
                bad_logs += 1
    holder.terminate()
    holder.wait()

    accepted = sum(len(t.accepted) for t in teachers)
    figures = {
        "cycles (SIGKILL)": stats.counts.get("SIGKILL cycles", 0),
        "disk-full episodes": stats.counts.get("disk-full episodes", 0),
        "EMFILE episodes": stats.counts.get("EMFILE episodes", 0),
        "accepted (200)": accepted,
        "refused, sent again (503 / no answer / 429)": stats.counts.get("status 503", 0) + stats.counts.get("status None", 0) + stats.counts.get("status 429", 0),
        "malformed requests (fuzz)": stats.counts.get("fuzz", 0),
        "unexpected answers to malformed requests": sum(v for k, v in stats.counts.items() if k.startswith("fuzz unexpected")),
        "replies delivered (distinct keys)": len(receiver.texts),
        "deliveries (with resends)": receiver.deliveries,
        "duplicates (a key with two texts)": duplicates,
        "lost (accepted, never answered)": len(lost),
        "corrupt (export fails)": corrupt,
        "logs naming a damaged record": bad_logs,
        "minutes": round((time.time() - started) / 60, 1),
    }
    for what, value in stats.counts.items():
        if what.startswith("serve exited by itself") or what.startswith("starts that failed"):
            figures[what] = value
    for what, value in figures.items():
        print(f"soak: {what}: {value}")
    if lost:
        print(f"soak: lost, first ones: {lost[:5]}")
    print(f"soak: logs in {logs}")
    failed = lost or duplicates or corrupt or bad_logs or figures["unexpected answers to malformed requests"]
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        # The holder of the mount namespace (and with it the tmpfs) never outlives the campaign.
        for holder in HOLDERS:
            holder.terminate()
