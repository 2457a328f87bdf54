#!/usr/bin/env python3
"""Send one message to Spiegel's plain webhook, signed: the reference client of docs/plain-protocol.md.

    SPIEGEL_PLAIN_SECRET=... deploy/spiegel-plain-send.py URL USER ROOM TEXT [--id ID]
    deploy/spiegel-plain-send.py --dry-run ...   prints the headers and the body instead of sending

Only the Python standard library; a bridge for any chat can start from this.
"""
import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid


def signed(secret: bytes, body: bytes, timestamp: int) -> dict:
    """The two headers of the protocol for `body` sent at `timestamp` (Unix seconds)."""
    ts = str(timestamp)
    mac = hmac.new(secret, b"v1:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Spiegel-Timestamp": ts, "X-Spiegel-Signature": "v1=" + mac}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="Spiegel's inbound URL, such as http://127.0.0.1:8080/hooks/plain")
    parser.add_argument("user", help="the teacher's user id in the chat")
    parser.add_argument("room", help="the room (direct chat) the message was written in")
    parser.add_argument("text", help="what the teacher wrote")
    parser.add_argument("--id", default=None, help="the message id (default: a new UUID); a retry must reuse it")
    parser.add_argument("--timestamp", type=int, default=None, help="Unix seconds (default: now)")
    parser.add_argument("--dry-run", action="store_true", help="print the request instead of sending it")
    args = parser.parse_args()

    secret = os.environ.get("SPIEGEL_PLAIN_SECRET", "").encode()
    if len(secret) < 16:
        print("spiegel-plain-send: set SPIEGEL_PLAIN_SECRET to the shared secret (16 bytes or more)", file=sys.stderr)
        return 2
    timestamp = args.timestamp if args.timestamp is not None else int(time.time())
    message = {"id": args.id or str(uuid.uuid4()), "user": args.user, "room": args.room, "text": args.text, "ts": timestamp}
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", **signed(secret, body, timestamp)}
    if args.dry_run:
        for name, value in headers.items():
            print(f"{name}: {value}")
        print()
        sys.stdout.flush()
        sys.stdout.buffer.write(body + b"\n")
        return 0
    request = urllib.request.Request(args.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            print(response.status, response.read().decode(errors="replace"))
            return 0
    except urllib.error.HTTPError as error:
        print(error.code, error.read().decode(errors="replace"), file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"spiegel-plain-send: {error.reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
