"""Redis key names. Every key of a plan carries the hash tag `{plan_id}`, so one plan lives in
one Redis Cluster slot and a Lua script may touch all of them."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")

# The Redis type planwatch keeps under each kind of key, told by the name after the prefix (which
# has no colon). A key found holding another type was written by hand or damaged
# (services/store/wrongtype.py reads it as empty and refuses to write over it, naming it).
_STORED_TYPES = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (r"\}:(rm|alerts):\d+$", "hash"),  # a generation: checkpoint, state, views
        (r"\}:(rm|alerts):\d+:(dead|history)$", "stream"),
        (r"\}:(rm|alerts):\d+:(attempts|notice-ids)$", "hash"),
        (r"\}:(rm|alerts):(lease|current|generations)$", "string"),
        (r"\}:(events|outbox|outbox:dead)$", "stream"),
        (r"\}:(event-ids|versions|rollups)$", "hash"),
        (r"\}:subject:.+$", "list"),
        (r"\}:(restoring|rollup:[^:]+:(v\d+:[0-9a-f]+|done|lock))$", "string"),
        (r"\}:(queue|dead|outgoing)$", "stream"),  # a subscription's ({sub:ID})
        (r"\}:(seen|sent|state)$", "hash"),
        (r"\}:rate$", "zset"),
        (r"\}:lease$", "string"),
        (r"^[^:{]+:plans$", "set"),
        (r"^[^:{]+:(tokens|subscriptions|lease-offers|session:[0-9a-f]+)$", "hash"),
        (r"^[^:{]+:(inbox|inbox:rejects|notices:[^:]+)$", "stream"),
        (r"^[^:{]+:(ticket:[0-9a-f]+|signing-key)$", "string"),
        (r"^[^:{]+:workers$", "zset"),
    )
)


def stored_type(key: str) -> str | None:
    """The Redis type planwatch keeps under `key` (string, hash, list, set, zset, stream), or None
    for a name it does not build."""
    return next((kind for pattern, kind in _STORED_TYPES if pattern.search(key)), None)


@dataclass(frozen=True)
class PlanChannel:
    """A pub/sub channel every plan has, `{prefix}:{plan}:{name}`: one plan's, the pattern
    matching every plan's, and the plan a channel heard on belongs to."""

    prefix: str
    name: str

    def of(self, plan_id: str) -> str:
        return f"{self.prefix}:{{{plan_id}}}:{self.name}"

    @property
    def pattern(self) -> str:
        return f"{self.prefix}:*:{self.name}"

    def plan_of(self, channel: str) -> str | None:
        """None for a channel of another kind or prefix."""
        head, tail = f"{self.prefix}:{{", f"}}:{self.name}"
        if channel.startswith(head) and channel.endswith(tail):
            return channel[len(head) : -len(tail)]
        return None


@dataclass(frozen=True)
class Keyspace:
    """All key names in one place. `prefix` separates installations (and tests) on one server."""

    prefix: str = "pw"

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ValueError(f"key prefix {self.prefix!r} must be 1..40 of A-Z a-z 0-9 _ . -")

    def plan(self, plan_id: str) -> str:
        return f"{self.prefix}:{{{plan_id}}}"

    @property
    def plans(self) -> str:
        """Set of plan ids that have an event stream (not hash-tagged: it spans plans)."""
        return f"{self.prefix}:plans"

    def events(self, plan_id: str) -> str:
        """The plan's append-only event stream. Never trimmed."""
        return f"{self.plan(plan_id)}:events"

    def event_ids(self, plan_id: str) -> str:
        """Hash event_id → "position|digest": permanent dedup of retries."""
        return f"{self.plan(plan_id)}:event-ids"

    def subject_events(self, plan_id: str, subject: str) -> str:
        """List of the stream positions of a subject's events, in append order."""
        return f"{self.plan(plan_id)}:subject:{subject}"

    def versions(self, plan_id: str) -> str:
        """Hash subject → number of events stored for it (optimistic concurrency)."""
        return f"{self.plan(plan_id)}:versions"

    def restoring(self, plan_id: str) -> str:
        """Set while a restore writes the plan: the checksum of the file (a rerun resumes it)."""
        return f"{self.plan(plan_id)}:restoring"

    # --- access and intake (services/) -----------------------------------------------------

    @property
    def tokens(self) -> str:
        """Hash token id → record (role, department, SHA-256 of the secret)."""
        return f"{self.prefix}:tokens"

    def stream_ticket(self, ticket_digest: str) -> str:
        """String + TTL: a single-use ticket for a plan's alert stream (by the SHA-256 of the ticket,
        so the keyspace holds nothing a client could use) → "plan|token id"."""
        return f"{self.prefix}:ticket:{ticket_digest}"

    @property
    def inbox(self) -> str:
        """Stream departments' systems XADD events to (plain fields, token included)."""
        return f"{self.prefix}:inbox"

    @property
    def inbox_rejects(self) -> str:
        """Stream of refused inbox messages, with the reason and the original fields (token redacted)."""
        return f"{self.prefix}:inbox:rejects"

    def session(self, digest: str) -> str:
        """Hash: a dashboard sign-in (token id, CSRF token), expiring; named by the SHA-256 of the
        cookie's value, so a copy of the database holds no usable session."""
        return f"{self.prefix}:session:{digest}"

    @property
    def signing_key(self) -> str:
        """String: the key signing shared links and sign-in forms when PLANWATCH_SECRET_KEY is unset
        (generated once, by whichever process needs it first)."""
        return f"{self.prefix}:signing-key"

    # --- notifications (services/notifier.py): one hash tag per subscription ------------------

    @property
    def subscriptions(self) -> str:
        """Hash subscription id → subscription (channel, filters, secret)."""
        return f"{self.prefix}:subscriptions"

    def _sub(self, subscription_id: str) -> str:
        return f"{self.prefix}:{{sub:{subscription_id}}}"

    def sub_queue(self, subscription_id: str) -> str:
        """Stream: notices waiting to be delivered to this subscriber (its outbox)."""
        return f"{self._sub(subscription_id)}:queue"

    def sub_seen(self, subscription_id: str) -> str:
        """Hash notice id → 1: every notice ever queued for the subscriber (fan-out dedup)."""
        return f"{self._sub(subscription_id)}:seen"

    def sub_sent(self, subscription_id: str) -> str:
        """Hash notice id → delivery record: what was delivered (so a restart re-sends nothing)."""
        return f"{self._sub(subscription_id)}:sent"

    def sub_dead(self, subscription_id: str) -> str:
        """Stream: deliveries given up after repeated failures, with the error."""
        return f"{self._sub(subscription_id)}:dead"

    def sub_outgoing(self, subscription_id: str) -> str:
        """Stream: deliveries made up ahead of the queue and sent before it — dead letters asked
        to be redelivered (with their original idempotency key), digests, reminders."""
        return f"{self._sub(subscription_id)}:outgoing"

    def sub_state(self, subscription_id: str) -> str:
        """Hash: failures so far, since when, when to try next, the delivery in flight, the
        waiting group's start and the last message's time, and when the last reminder was made
        (`reminded_ms`: a restarted notifier reminds an interval after it, never twice)."""
        return f"{self._sub(subscription_id)}:state"

    def sub_rate(self, subscription_id: str) -> str:
        """Sorted set of the last minute's sends (ms), for the robots' rate limit."""
        return f"{self._sub(subscription_id)}:rate"

    def sub_lease(self, subscription_id: str) -> str:
        """Which notifier delivers for this subscription."""
        return f"{self._sub(subscription_id)}:lease"

    def sub_stream(self, subscription_id: str) -> str:
        """For `stream` subscriptions: the stream in-house systems read the notices from."""
        return f"{self.prefix}:notices:{subscription_id}"

    # --- monthly rollups (services/rollups.py) ---------------------------------------------

    def rollup_document(self, plan_id: str, period: str, version: int, content_hash: str) -> str:
        """One rollup document (JSON), by version and content: a writer that loses a race for a
        version cannot overwrite the winner's document (the `rollup.published` event has the hash)."""
        return f"{self.plan(plan_id)}:rollup:{period}:v{version}:{content_hash}"

    def rollups(self, plan_id: str) -> str:
        """Hash month → latest published version."""
        return f"{self.plan(plan_id)}:rollups"

    def rollup_done(self, plan_id: str, period: str) -> str:
        """Set once the scheduled rollup of a month exists (a fast path; the log is the truth)."""
        return f"{self.plan(plan_id)}:rollup:{period}:done"

    def rollup_lock(self, plan_id: str, period: str) -> str:
        """Lock held while a month's scheduled rollup is written (one of many schedulers)."""
        return f"{self.plan(plan_id)}:rollup:{period}:lock"

    # --- projections (services/projection/) -------------------------------------------------
    # A plan has two projections of its log, each with its own generations, checkpoint and dead
    # letters: `rm`, the read model (views, summary), and `alerts`, the alert book and history.

    def lease(self, plan_id: str, projection: str) -> str:
        """Which worker runs one projection of the plan: its id, with an expiry it keeps renewing.
        One lease per projection, so two workers can split a plan's read model and alerts."""
        return f"{self.plan(plan_id)}:{projection}:lease"

    def projection_current(self, plan_id: str, projection: str = "rm") -> str:
        """The generation of a projection that readers use."""
        return f"{self.plan(plan_id)}:{projection}:current"

    def projection_generations(self, plan_id: str, projection: str = "rm") -> str:
        """Counter handing out a projection's generation numbers to rebuilds."""
        return f"{self.plan(plan_id)}:{projection}:generations"

    def generation(self, plan_id: str, generation: int | str, projection: str = "rm") -> str:
        """Hash of one generation of a projection: checkpoint, state snapshot, views."""
        return f"{self.plan(plan_id)}:{projection}:{generation}"

    def dead_letters(self, plan_id: str, generation: int | str, projection: str = "rm") -> str:
        """Dead-letter stream of a generation: events that failed to apply, with the error."""
        return f"{self.plan(plan_id)}:{projection}:{generation}:dead"

    def attempts(self, plan_id: str, generation: int | str, projection: str = "rm") -> str:
        """Hash position → failed attempts to apply it, for a generation."""
        return f"{self.plan(plan_id)}:{projection}:{generation}:attempts"

    def alert_history(self, plan_id: str, generation: int | str) -> str:
        """Stream of an alerts generation's history: every raised / escalated / resolved notice."""
        return f"{self.plan(plan_id)}:alerts:{generation}:history"

    def alert_notice_ids(self, plan_id: str, generation: int | str) -> str:
        """Hash of the ids of the notices an alerts generation has written (each is written once)."""
        return f"{self.plan(plan_id)}:alerts:{generation}:notice-ids"

    def outbox(self, plan_id: str) -> str:
        """Stream of alert notices to deliver; written by the live alerts projection only."""
        return f"{self.plan(plan_id)}:outbox"

    def outbox_dead(self, plan_id: str) -> str:
        """Stream: outbox entries that are not a notice, set aside with the error (never retried)."""
        return f"{self.plan(plan_id)}:outbox:dead"

    @property
    def outbox_written(self) -> PlanChannel:
        """Pub/sub: notices to tell were written to the plan's outbox (the alerts' commit script
        names it after the outbox key: keep the two in step)."""
        return PlanChannel(self.prefix, "outbox:written")

    @property
    def appended(self) -> PlanChannel:
        """Pub/sub: the last position of each batch appended to the plan's log (the append script
        names it after the stream key: keep the two in step)."""
        return PlanChannel(self.prefix, "events:appended")

    def updates(self, plan_id: str, projection: str = "rm") -> str:
        """Pub/sub channel: the new checkpoint after every commit of a projection."""
        return f"{self.plan(plan_id)}:{projection}:updates"

    @property
    def lease_offers(self) -> str:
        """Hash lease key → the worker offering to hand that lease over (services/store/lease.py)."""
        return f"{self.prefix}:lease-offers"

    @property
    def workers(self) -> str:
        """Sorted set of live projector workers, scored by their last heartbeat (ms)."""
        return f"{self.prefix}:workers"
