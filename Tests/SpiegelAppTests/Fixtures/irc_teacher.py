"""A raw-socket IRC client playing a teacher or a team member in Spiegel's tests (standard library only).

Driven over JSON lines: one command per line on stdin, exactly one reply line per command on
stdout ({"ok": true, ...} or {"ok": false, "error": "..."}, with the command's "id" echoed when it
had one). Logs go to stderr, every line sent (">>") and received ("<<"), SASL payloads left out.

A background thread reads the server's lines: it answers PING at once and records every line with
its parsed tags, source, command and parameters and the time it arrived. The record is kept across
connections (a reconnect after a server restart adds to it). Every wait has a timeout.

Commands (see the cmd_ methods):
  ping
  connect       {host, port, nick, user?, sasl_account?, sasl_password?, caps?, timeout?}
                CAP LS 302 / CAP REQ / AUTHENTICATE PLAIN / CAP END when caps or SASL are asked
                for, then waits for 001. Replies {nick, caps (acknowledged), offered, account}.
  send          {target, text}                      PRIVMSG target :text
  raw           {line, newline?}                    the line as is (CRLF added unless newline is false)
  join          {channel, timeout?}                 waits for our own JOIN
  wait_privmsg  {from, target?, count?, timeout?}   the PRIVMSGs from a nick, once count arrived
  received      {commands?}                         every PRIVMSG and NOTICE (or those commands) so far
  quit          {message?, timeout?}                QUIT, waits for the server to close; the script stays
  exit                                              closes the connection and ends the script
"""

import argparse
import base64
import json
import logging
import select
import signal
import socket
import sys
import threading
import time

log = logging.getLogger("irc_teacher")

# SASL outcomes (IRCv3 sasl-3.1): 903 success, the others failure.
SASL_FAILURES = {"902", "904", "905", "906", "907", "908"}
# Registration failures before 001.
REGISTRATION_FAILURES = {"431", "432", "433", "436", "437", "451", "461", "465"}
# JOIN failures (the channel is their second parameter).
JOIN_FAILURES = {"403", "405", "471", "473", "474", "475", "476", "477", "489"}


class CommandError(Exception):
    """A command that failed: its message is the reply's "error"."""


def irc_lower(text):
    """RFC 1459 case folding, the default CASEMAPPING of both test servers."""
    return text.lower().replace("[", "{").replace("]", "}").replace("\\", "|").replace("~", "^")


def unescape_tag_value(value):
    """An IRCv3 message tag value with its escapes undone."""
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append({":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}.get(nxt, nxt))
            i += 2
        elif c == "\\":
            i += 1  # a trailing backslash is dropped
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_line(raw):
    """{tags, source, command, params} of one IRC line (without CRLF)."""
    rest = raw
    tags = {}
    if rest.startswith("@"):
        tag_text, _, rest = rest[1:].partition(" ")
        for item in tag_text.split(";"):
            if item:
                key, _, value = item.partition("=")
                tags[key] = unescape_tag_value(value)
        rest = rest.lstrip(" ")
    source = None
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    params = []
    while rest:
        if rest.startswith(":"):
            params.append(rest[1:])
            break
        word, _, rest = rest.partition(" ")
        params.append(word)
        rest = rest.lstrip(" ")
    command = params.pop(0).upper() if params else ""
    return {"tags": tags, "source": source, "command": command, "params": params}


def nick_of(source):
    """The nick of a source such as nick!user@host (a server name stays as it is)."""
    return (source or "").split("!", 1)[0]


def describe(line):
    """A recorded line as the replies report it."""
    params = line["params"]
    return {"tags": line["tags"], "source": line["source"], "command": line["command"],
            "target": params[0] if len(params) >= 2 else "",
            "text": params[-1] if params else "",
            "received_at": line["received_at"]}


class Connection:
    """One TCP connection to the server and the thread that reads it."""

    def __init__(self, number, host, port, timeout, client):
        self.number = number
        self.client = client
        self.sock = socket.create_connection((host, port), timeout=timeout)
        # Sends time out (a server that stops reading must not hang a command); the reader
        # selects before each recv, so recv never waits for this long.
        self.sock.settimeout(10)
        self.send_lock = threading.Lock()
        self.closed = False
        self.close_reason = None
        self.reader = threading.Thread(target=self.read_loop, name=f"reader-{number}", daemon=True)

    def start(self):
        self.reader.start()

    def send_line(self, line):
        """Sends one line (CRLF added unless it ends in a newline already)."""
        data = line.encode("utf-8", "surrogateescape")
        if not data.endswith(b"\n"):
            data += b"\r\n"
        shown = line if not line.upper().startswith("AUTHENTICATE ") or line.upper() in (
            "AUTHENTICATE PLAIN", "AUTHENTICATE *") else "AUTHENTICATE <payload left out>"
        log.info(">> %s", shown if len(shown) <= 600 else f"{shown[:590]}... ({len(data)} bytes)")
        with self.send_lock:
            if self.closed:
                raise CommandError(f"not connected ({self.close_reason})")
            try:
                self.sock.sendall(data)
            except OSError as error:
                raise CommandError(f"sending failed: {error}") from error

    def read_loop(self):
        buffer = b""
        reason = "closed by us"
        try:
            while not self.closed:
                ready, _, _ = select.select([self.sock], [], [], 0.5)
                if not ready:
                    continue
                data = self.sock.recv(65536)
                if not data:
                    reason = "the server closed the connection"
                    break
                buffer += data
                while b"\n" in buffer:
                    raw, buffer = buffer.split(b"\n", 1)
                    text = raw.rstrip(b"\r").decode("utf-8", "replace")
                    if text:
                        self.received(text)
        except (OSError, ValueError) as error:
            if not self.closed:
                reason = f"read failed: {error}"
        self.client.connection_closed(self, reason)

    def received(self, text):
        log.info("<< %s", text if len(text) <= 600 else f"{text[:590]}... ({len(text)} chars)")
        line = parse_line(text)
        line["received_at"] = time.time()
        line["connection"] = self.number
        if line["command"] == "PING":
            try:
                self.send_line("PONG :" + (line["params"][-1] if line["params"] else ""))
            except CommandError:
                pass
        self.client.record(line)

    def close(self):
        with self.send_lock:
            self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self.reader.is_alive() and self.reader is not threading.current_thread():
            self.reader.join(2)


class Client:
    def __init__(self):
        self.changed = threading.Condition()
        self.lines = []  # every line received, all connections, oldest first
        self.connection = None
        self.connections = 0
        self.nick = None

    # -- The reader's side -----------------------------------------------------------------

    def record(self, line):
        with self.changed:
            self.lines.append(line)
            self.changed.notify_all()

    def connection_closed(self, connection, reason):
        with self.changed:
            if connection.close_reason is None:
                connection.close_reason = reason
            connection.closed = True
            self.changed.notify_all()
        log.info("connection %d ended: %s", connection.number, reason)

    # -- Waiting ---------------------------------------------------------------------------

    def wait_for(self, find, timeout, what, connection=None):
        """Waits until find(lines) returns something other than None and returns it.
        CommandError after timeout seconds, or when `connection` closes first."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = find(self.lines)
                if found is not None:
                    return found
                if connection is not None and connection.closed:
                    raise CommandError(f"the connection ended ({connection.close_reason}) while waiting for {what}"
                                       f"{self.last_error(connection)}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CommandError(f"timed out after {timeout} s waiting for {what}")
                self.changed.wait(min(left, 0.5))

    def last_error(self, connection):
        errors = [line for line in self.lines if line["connection"] == connection.number and line["command"] == "ERROR"]
        return f"; ERROR {errors[-1]['params'][-1]!r}" if errors and errors[-1]["params"] else ""

    def first(self, connection, start, predicate):
        """A finder: the first line of `connection` from index `start` that satisfies predicate."""
        def find(lines):
            found = self.first_at(lines, connection, start, predicate)
            return None if found is None else found[1]
        return find

    @staticmethod
    def first_at(lines, connection, start, predicate):
        """(index, line) of the first line of `connection` from `start` that satisfies predicate."""
        for index in range(start, len(lines)):
            line = lines[index]
            if line["connection"] == connection.number and predicate(line):
                return index, line
        return None

    def connected(self):
        if self.connection is None or self.connection.closed:
            reason = self.connection.close_reason if self.connection else "never connected"
            raise CommandError(f"not connected ({reason})")
        return self.connection

    # -- Commands --------------------------------------------------------------------------

    def cmd_ping(self, cmd):
        return {}

    def cmd_connect(self, cmd):
        host, port, nick = cmd["host"], int(cmd["port"]), cmd["nick"]
        user = cmd.get("user") or nick
        account, password = cmd.get("sasl_account"), cmd.get("sasl_password")
        wanted = list(cmd.get("caps") or [])
        timeout = float(cmd.get("timeout", 15))
        deadline = time.monotonic() + timeout

        def left():
            return max(0.05, deadline - time.monotonic())

        if self.connection is not None:  # a dead connection (or a live one) makes way
            self.connection.close()
        self.connections += 1
        try:
            connection = Connection(self.connections, host, port, left(), self)
        except OSError as error:
            raise CommandError(f"cannot connect to {host}:{port}: {error}") from error
        with self.changed:
            start = len(self.lines)
        self.connection = connection
        connection.start()
        try:
            return self.register(connection, start, nick, user, account, password, wanted, left)
        except Exception:
            connection.close()
            raise

    def register(self, connection, start, nick, user, account, password, wanted, left):
        negotiate = bool(wanted) or account is not None
        if negotiate:
            connection.send_line("CAP LS 302")
        connection.send_line(f"NICK {nick}")
        connection.send_line(f"USER {user} 0 * :{user}")
        offered, acknowledged, logged_in = {}, [], None
        if negotiate:
            index = start
            while True:  # CAP LS 302 may come in several lines: "CAP * LS * :..." until the last
                position, line = self.wait_for(
                    lambda lines: self.first_at(lines, connection, index, lambda l: l["command"] == "CAP"
                                                and len(l["params"]) >= 3 and l["params"][1].upper() == "LS"),
                    left(), "CAP LS", connection)
                index = position + 1
                for item in line["params"][-1].split():
                    name, _, value = item.partition("=")
                    offered[name] = value
                if not (len(line["params"]) >= 4 and line["params"][2] == "*"):
                    break
            request = [cap for cap in wanted if cap in offered]
            if account is not None:
                if "sasl" not in offered:
                    connection.send_line("QUIT :no SASL")
                    raise CommandError(f"the server does not offer sasl (CAP LS: {' '.join(sorted(offered))})")
                if "sasl" not in request:
                    request.append("sasl")
            if request:
                with self.changed:
                    index = len(self.lines)
                connection.send_line("CAP REQ :" + " ".join(request))
                line = self.wait_for(self.first(connection, index, lambda l: l["command"] == "CAP"
                                                and len(l["params"]) >= 3 and l["params"][1].upper() in ("ACK", "NAK")),
                                     left(), "CAP ACK or NAK", connection)
                if line["params"][1].upper() == "NAK":
                    connection.send_line("QUIT :CAP NAK")
                    raise CommandError(f"the server refused CAP REQ :{' '.join(request)}")
                acknowledged = line["params"][-1].split()
            if account is not None:
                logged_in = self.authenticate(connection, account, password or "", left)
            connection.send_line("CAP END")
        welcome = self.wait_for(self.first(connection, start, lambda l: l["command"] == "001"
                                           or l["command"] in REGISTRATION_FAILURES),
                                left(), "001 (registration)", connection)
        if welcome["command"] != "001":
            connection.send_line("QUIT")
            raise CommandError(f"registration failed: {welcome['command']} {' '.join(welcome['params'][1:])}")
        self.nick = welcome["params"][0]
        return {"nick": self.nick, "caps": acknowledged, "offered": sorted(offered), "account": logged_in}

    def authenticate(self, connection, account, password, left):
        """SASL PLAIN; the account name (from 900) on 903, CommandError on a failure numeric."""
        with self.changed:
            index = len(self.lines)
        connection.send_line("AUTHENTICATE PLAIN")
        line = self.wait_for(self.first(connection, index, lambda l: l["command"] == "AUTHENTICATE"
                                        or l["command"] in SASL_FAILURES),
                             left(), "AUTHENTICATE +", connection)
        if line["command"] != "AUTHENTICATE":
            connection.send_line("QUIT")
            raise CommandError(f"SASL PLAIN refused: {line['command']} {line['params'][-1] if line['params'] else ''}")
        payload = base64.b64encode(f"{account}\0{account}\0{password}".encode()).decode()
        with self.changed:
            index = len(self.lines)
        chunks = [payload[i:i + 400] for i in range(0, len(payload), 400)]
        for chunk in chunks:
            connection.send_line(f"AUTHENTICATE {chunk}")
        if len(chunks[-1]) == 400:
            connection.send_line("AUTHENTICATE +")
        outcome = self.wait_for(self.first(connection, index, lambda l: l["command"] == "903"
                                           or l["command"] in SASL_FAILURES),
                                left(), "the SASL outcome (903)", connection)
        if outcome["command"] != "903":
            connection.send_line("QUIT")
            raise CommandError(f"SASL authentication failed: {outcome['command']} "
                               f"{outcome['params'][-1] if outcome['params'] else ''}")
        with self.changed:
            logged = [l for l in self.lines[index:] if l["connection"] == connection.number and l["command"] == "900"]
        return logged[-1]["params"][2] if logged and len(logged[-1]["params"]) >= 3 else account

    def cmd_send(self, cmd):
        target, text = cmd["target"], cmd["text"]
        if any(c in target + text for c in "\r\n\0") or not target or " " in target:
            raise CommandError("send: target and text must not hold CR, LF or NUL (use raw)")
        self.connected().send_line(f"PRIVMSG {target} :{text}")
        return {}

    def cmd_raw(self, cmd):
        line = cmd["line"]
        if cmd.get("newline", True) and not line.endswith("\n"):
            line += "\r\n"
        self.connected().send_line(line)
        return {}

    def cmd_join(self, cmd):
        channel = cmd["channel"]
        connection = self.connected()
        with self.changed:
            index = len(self.lines)
        connection.send_line(f"JOIN {channel}")
        folded = irc_lower(channel)

        def joined(line):
            params = line["params"]
            if line["command"] == "JOIN":
                return bool(params) and irc_lower(params[0]) == folded and irc_lower(nick_of(line["source"])) == irc_lower(self.nick)
            return line["command"] in JOIN_FAILURES and len(params) >= 2 and irc_lower(params[1]) == folded

        line = self.wait_for(self.first(connection, index, joined), float(cmd.get("timeout", 10)),
                             f"our JOIN of {channel}", connection)
        if line["command"] != "JOIN":
            raise CommandError(f"JOIN {channel} failed: {line['command']} {line['params'][-1]}")
        return {}

    def cmd_wait_privmsg(self, cmd):
        sender, target = irc_lower(cmd["from"]), cmd.get("target")
        count, timeout = int(cmd.get("count", 1)), float(cmd.get("timeout", 10))
        folded_target = irc_lower(target) if target else None

        def matches(line):
            return (line["command"] == "PRIVMSG" and len(line["params"]) >= 2
                    and irc_lower(nick_of(line["source"])) == sender
                    and (folded_target is None or irc_lower(line["params"][0]) == folded_target))

        def find(lines):
            found = [describe(line) for line in lines if matches(line)]
            return found if len(found) >= count else None

        try:
            return {"messages": self.wait_for(find, timeout, f"{count} PRIVMSG from {cmd['from']}")}
        except CommandError as error:
            with self.changed:
                so_far = [describe(line) for line in self.lines if matches(line)]
            raise CommandError(f"{error}: {len(so_far)} arrived: {json.dumps(so_far, ensure_ascii=False)}") from None

    def cmd_received(self, cmd):
        wanted = cmd.get("commands")
        commands = {c.upper() for c in (["PRIVMSG", "NOTICE"] if wanted is None else wanted)}
        with self.changed:
            lines = [describe(line) for line in self.lines if line["command"] in commands]
        connected = self.connection is not None and not self.connection.closed
        return {"lines": lines, "connected": connected}

    def cmd_quit(self, cmd):
        connection = self.connection
        if connection is None or connection.closed:
            return {"was_connected": False}
        message = cmd.get("message")
        try:
            connection.send_line("QUIT" + (f" :{message}" if message else ""))
            deadline = time.monotonic() + float(cmd.get("timeout", 3))
            with self.changed:
                while not connection.closed and time.monotonic() < deadline:
                    self.changed.wait(0.1)
        except CommandError:
            pass
        connection.close()
        return {"was_connected": True}

    # -- Main loop -------------------------------------------------------------------------

    def run(self):
        while True:
            line = sys.stdin.buffer.readline()
            if not line:
                break
            if not line.strip():
                continue
            reply, exit_ = self.handle(line)
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
            if exit_:
                break
        if self.connection is not None:
            self.connection.close()

    def handle(self, line):
        cmd_id = None
        try:
            cmd = json.loads(line)
            cmd_id = cmd.get("id")
            name = cmd.get("cmd")
            if name == "exit":
                reply, exit_ = {"ok": True}, True
            else:
                handler = getattr(self, f"cmd_{name}", None)
                if handler is None:
                    raise CommandError(f"unknown command {name!r}")
                reply, exit_ = {"ok": True, **handler(cmd)}, False
        except Exception as error:  # every failure is a reply, never a dead process
            if not isinstance(error, CommandError):
                log.exception("command failed: %s", line.strip())
            reply, exit_ = {"ok": False, "error": f"{error}" or type(error).__name__}, False
        if cmd_id is not None:
            reply["id"] = cmd_id
        return reply, exit_


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="irc_teacher", help="the logger's name")
    args = parser.parse_args()
    # A child inherits the blocked signals of the thread that spawned it (Swift's block SIGTERM).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signal.valid_signals())
    global log
    log = logging.getLogger(args.name)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    Client().run()


if __name__ == "__main__":
    main()
