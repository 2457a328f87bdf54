"""An end-to-end-encrypting Matrix client playing a teacher in Spiegel's tests (matrix-nio[e2e]).

Driven over JSON lines: one command per line on stdin, exactly one reply line per command on
stdout ({"ok": true, ...} or {"ok": false, "error": "..."}, with the command's "id" echoed when it
had one). Logs go to stderr. It syncs in the background, trusts every device on first use and keeps
its Olm/Megolm store in --store, so a restarted process on the same device continues.

Commands: ping, create_dm, join, wait_joined, send, wait_messages, wait_reply, devices, new_session,
quit (see handlers).
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time

from nio import AsyncClient, AsyncClientConfig, MegolmEvent, RedactedEvent, RoomPreset, SyncError
from nio.responses import ErrorResponse

log = logging.getLogger("e2ee_teacher")


class CommandError(Exception):
    """A command that failed: its message is the reply's "error"."""


def checked(response):
    """The response, or a CommandError when nio answered with an error."""
    if isinstance(response, ErrorResponse):
        raise CommandError(f"{type(response).__name__}: {response.message} ({response.status_code})")
    return response


class Teacher:
    def __init__(self, args):
        os.makedirs(args.store, exist_ok=True)
        config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
        self.client = AsyncClient(args.homeserver, args.user_id, device_id=args.device_id,
                                  store_path=args.store, config=config)
        # Loads (or creates) the Olm account of this device from the store.
        self.client.restore_login(args.user_id, args.device_id, args.access_token)
        self.synced = asyncio.Condition()  # notified after every sync
        self.crypto_lock = asyncio.Lock()  # key upload/query/claim: one at a time

    # -- Background sync -------------------------------------------------------------------

    async def sync_loop(self):
        """Long-polls /sync (a full initial sync first: nio keeps no room state across restarts),
        then does the crypto chores sync_forever would do."""
        while True:
            response = await self.client.sync(timeout=10_000 if self.client.next_batch else 0)
            if isinstance(response, SyncError):
                log.warning("sync failed: %s", response.message)
                await asyncio.sleep(1)
                continue
            await self.client.send_to_device_messages()
            await self.crypto_chores()
            async with self.synced:
                self.synced.notify_all()

    async def crypto_chores(self):
        """Uploads our keys, queries changed device lists, trusts new devices, claims one-time keys."""
        client = self.client
        async with self.crypto_lock:
            if client.should_upload_keys:
                checked(await client.keys_upload())
            if client.should_query_keys:
                checked(await client.keys_query())
            self.trust_new_devices()
            if client.should_claim_keys:
                checked(await client.keys_claim(client.get_users_for_key_claiming()))

    def trust_new_devices(self):
        """Trust on first use: every device nio knows and has not blacklisted becomes verified."""
        for device in list(self.client.device_store):
            if not (device.deleted or device.verified or device.blacklisted or device.id == self.client.device_id):
                self.client.verify_device(device)

    async def wait_for(self, predicate, timeout, what):
        """Waits (sync by sync) until predicate() is true; CommandError after timeout seconds."""
        deadline = time.monotonic() + timeout
        async with self.synced:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CommandError(f"timed out after {timeout} s waiting for {what}")
                try:
                    await asyncio.wait_for(self.synced.wait(), min(left, 1.0))
                except asyncio.TimeoutError:
                    pass

    def joined(self, room_id, user_id):
        room = self.client.rooms.get(room_id)
        return room is not None and user_id in room.users and user_id not in room.invited_users

    # -- Commands --------------------------------------------------------------------------

    async def cmd_ping(self, cmd):
        return {"user_id": self.client.user_id, "device_id": self.client.device_id}

    async def cmd_create_dm(self, cmd):
        encrypted = cmd.get("encrypted", True)
        initial_state = [{"type": "m.room.encryption", "state_key": "",
                          "content": {"algorithm": "m.megolm.v1.aes-sha2"}}] if encrypted else []
        response = checked(await self.client.room_create(
            is_direct=True, preset=RoomPreset.trusted_private_chat,
            invite=[cmd["invite"]], initial_state=initial_state))
        room_id = response.room_id
        # Until the room with its encryption and the invite comes down /sync, nio cannot send to
        # it, or would not share the room key with the invitee (the room can come down before it).
        await self.wait_for(lambda: room_id in self.client.rooms
                            and self.client.rooms[room_id].encrypted == encrypted
                            and cmd["invite"] in self.client.rooms[room_id].users,
                            cmd.get("timeout", 30), f"room {room_id} and the invite in /sync")
        return {"room": room_id}

    async def cmd_join(self, cmd):
        room_id = checked(await self.client.join(cmd["room"])).room_id
        await self.wait_for(lambda: self.joined(room_id, self.client.user_id),
                            cmd.get("timeout", 30), f"our join of {room_id} in /sync")
        return {"room": room_id}

    async def cmd_wait_joined(self, cmd):
        room_id, user_id = cmd["room"], cmd["user"]
        await self.wait_for(lambda: self.joined(room_id, user_id), cmd.get("timeout", 30),
                            f"{user_id} to join {room_id}")
        return {}

    async def cmd_send(self, cmd):
        client, room_id = self.client, cmd["room"]
        room = client.rooms.get(room_id)
        if room is None:
            raise CommandError(f"not in room {room_id} (yet)")
        if room.encrypted:
            # Everyone's current devices first: members, device lists, trust, Olm sessions.
            if not room.members_synced:
                checked(await client.joined_members(room_id))
            await self.crypto_chores()
            async with self.crypto_lock:
                missing = client.get_missing_sessions(room_id)
                if missing:
                    checked(await client.keys_claim(missing))
                # nio shares a Megolm session once; a device that appeared since (and that no
                # device-list change reported) would never get it: start a new session then.
                session = client.olm.outbound_group_sessions.get(room_id)
                if session is not None and session.shared:
                    known = {(u, d.id) for u in room.users for d in client.device_store.active_user_devices(u)
                             if d.id != client.device_id or u != client.user_id}
                    if known - session.users_shared_with - session.users_ignored:
                        client.invalidate_outbound_session(room_id)
        content = {"msgtype": "m.text", "body": cmd["text"]}
        response = checked(await client.room_send(room_id, "m.room.message", content,
                                                   ignore_unverified_devices=True))
        return {"event_id": response.event_id}

    async def room_messages(self, room_id, sender):
        """All of sender's messages in room_id, oldest first, from the server's /messages
        (so a restarted client sees the history too); nio decrypts what it has keys for."""
        events, token = [], None
        message_filter = {"types": ["m.room.message", "m.room.encrypted"], "senders": [sender]}
        while True:
            response = checked(await self.client.room_messages(room_id, start=token, limit=100,
                                                               message_filter=message_filter))
            events.extend(response.chunk)
            if not response.chunk or not response.end or response.end == token:
                break
            token = response.end
        messages = [self.describe(event) for event in reversed(events)]
        return [message for message in messages if message is not None]

    @staticmethod
    def describe(event):
        """A message as the commands report it; None for what is no message."""
        if isinstance(event, RedactedEvent):
            return None
        if isinstance(event, MegolmEvent):  # nio could not decrypt it
            return {"event_id": event.event_id, "body": None, "formatted_body": None,
                    "msgtype": None, "encrypted": True, "decrypted": False,
                    "ts": event.server_timestamp}
        source = event.source
        if source.get("type") != "m.room.message":
            return None  # e.g. an encrypted reaction
        content = source.get("content", {})
        decrypted = bool(getattr(event, "decrypted", False))
        return {"event_id": event.event_id, "body": content.get("body"),
                "formatted_body": content.get("formatted_body"),
                "msgtype": content.get("msgtype"),
                "encrypted": decrypted, "decrypted": decrypted,
                "ts": event.server_timestamp}

    async def cmd_wait_reply(self, cmd):
        # The first message of `sender` after the event `after`, read from the newest page of the
        # room only (cheap at any history length), with the timestamp of `after`.
        room_id, sender, after = cmd["room"], cmd["sender"], cmd["after"]
        deadline = time.monotonic() + cmd.get("timeout", 60)
        while True:
            response = checked(await self.client.room_messages(room_id, start=None, limit=30))
            newer, after_ts = [], None
            for event in response.chunk:  # newest first
                if event.event_id == after:
                    after_ts = event.server_timestamp
                    break
                newer.append(event)
            if after_ts is not None:
                replies = [self.describe(e) for e in reversed(newer) if getattr(e, "sender", None) == sender]
                replies = [r for r in replies if r is not None]
                if replies and (replies[0]["decrypted"] or not replies[0]["encrypted"]):
                    return {"message": replies[0], "after_ts": after_ts}
            if time.monotonic() >= deadline:
                raise CommandError(f"timed out waiting for a reply of {sender} after {after}")
            async with self.synced:
                try:
                    await asyncio.wait_for(self.synced.wait(), min(1.0, max(0.05, deadline - time.monotonic())))
                except asyncio.TimeoutError:
                    pass

    async def cmd_wait_messages(self, cmd):
        room_id, sender, count = cmd["room"], cmd["sender"], cmd.get("count", 1)
        deadline = time.monotonic() + cmd.get("timeout", 60)
        while True:
            messages = await self.room_messages(room_id, sender)
            complete = len(messages) >= count and all(m["decrypted"] or not m["encrypted"] for m in messages)
            if complete or time.monotonic() >= deadline:
                break
            # A room key may still arrive by to-device message: wait for the next sync.
            async with self.synced:
                try:
                    await asyncio.wait_for(self.synced.wait(), min(1.0, max(0.05, deadline - time.monotonic())))
                except asyncio.TimeoutError:
                    pass
        if len(messages) < count:
            raise CommandError(f"timed out: {len(messages)} of {count} messages from {sender} in "
                               f"{room_id}: {json.dumps(messages)}")
        return {"messages": messages}  # undecryptable ones included, decrypted: false

    async def cmd_devices(self, cmd):
        user_id = cmd["user"]
        async with self.crypto_lock:
            if user_id not in self.client.olm.tracked_users:
                self.client.olm.users_for_key_query.add(user_id)
            if self.client.should_query_keys:
                checked(await self.client.keys_query())
            self.trust_new_devices()
        devices = [{"device_id": d.id, "ed25519": d.ed25519, "curve25519": d.curve25519,
                    "display_name": d.display_name, "trust": d.trust_state.name}
                   for d in self.client.device_store.active_user_devices(user_id)]
        return {"devices": devices}

    async def cmd_new_session(self, cmd):
        # Drops the room's outbound Megolm session: the next send starts a new one and shares
        # its key anew (as a client does on a membership change).
        async with self.crypto_lock:
            self.client.invalidate_outbound_session(cmd["room"])
        return {}

    # -- Main loop -------------------------------------------------------------------------

    async def run(self):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 24)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        syncing = asyncio.create_task(self.sync_loop())
        try:
            async with self.synced:  # the first sync and key upload before any command
                await self.synced.wait()
            while line := await reader.readline():
                if not line.strip():
                    continue
                reply, quit_ = await self.handle(line)
                sys.stdout.write(json.dumps(reply) + "\n")
                sys.stdout.flush()
                if quit_:
                    break
        finally:
            syncing.cancel()
            await asyncio.gather(syncing, return_exceptions=True)
            await self.client.close()

    async def handle(self, line):
        cmd_id = None
        try:
            cmd = json.loads(line)
            cmd_id = cmd.get("id")
            name = cmd.get("cmd")
            if name == "quit":
                reply, quit_ = {"ok": True}, True
            else:
                handler = getattr(self, f"cmd_{name}", None)
                if handler is None:
                    raise CommandError(f"unknown command {name!r}")
                reply, quit_ = {"ok": True, **await handler(cmd)}, False
        except Exception as error:  # every failure is a reply, never a dead process
            if not isinstance(error, CommandError):
                log.exception("command failed: %s", line.strip())
            reply, quit_ = {"ok": False, "error": f"{error}" or type(error).__name__}, False
        if cmd_id is not None:
            reply["id"] = cmd_id
        return reply, quit_


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("--homeserver", "--user-id", "--access-token", "--device-id", "--store"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    # A child inherits the blocked signals of the thread that spawned it (Swift's block SIGTERM).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signal.valid_signals())
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(Teacher(args).run())


if __name__ == "__main__":
    main()
