"""Waiting on the whole fleet: per poll, ONE paginated ListCommandInvocations walk per
open command (50 invocations a page), never a call per instance.

Right after SendCommand the list is empty, or SSM answers InvocationDoesNotExist:
that is "not yet". Throttling or a server error skips one poll and backs off.
Each change of an instance's state is logged at once (people watch the log).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from ssm_action import runner

TERMINAL_STATUS = frozenset({"Success", "Failed", "TimedOut", "Cancelled"})
TERMINAL_DETAILS = frozenset({"Success", "Failed", "TimedOut", "Cancelled", "DeliveryTimedOut",
                              "ExecutionTimedOut", "Undeliverable", "Terminated"})
NOT_YET = frozenset({"InvocationDoesNotExist"})
TRANSIENT = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
                       "InternalServerError", "ServiceUnavailable"})
PAGE_SIZE = 50  # ListCommandInvocations MaxResults: at most 50


def state_of(invocation: dict[str, Any]) -> str:
    """The detailed state (DeliveryTimedOut, Undeliverable...) in one word; Status when no detail."""
    detail = (invocation.get("StatusDetails") or invocation.get("Status") or "Pending").replace(" ", "")
    return "Cancelled" if detail == "Canceled" else detail


def is_terminal(invocation: dict[str, Any]) -> bool:
    return invocation.get("Status") in TERMINAL_STATUS or state_of(invocation) in TERMINAL_DETAILS


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Pacing:
    """Poll quickly at first, then back off to a cap. Injectable so tests need no real time."""

    first: float = 1.0
    factor: float = 1.5
    cap: float = 15.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class Watch:
    """What is known of one instance's invocation."""

    instance_id: str
    command_id: str
    state: str = ""  # "" until SSM lists the invocation
    invocation: dict[str, Any] = field(default_factory=dict)
    timeline: list[tuple[str, str]] = field(default_factory=list)  # (ISO UTC time, state)
    done: bool = False


class FleetWait:
    """Poll every open command until each invocation is terminal, or the deadline passes."""

    def __init__(self, client: Any, expected: dict[str, list[str]], by_tags: bool, pacing: Pacing,
                 deadline: float, on_terminal: Callable[[list[Watch]], None]):
        self.client = client
        self.by_tags = by_tags  # target commands end when SSM says so: their instance list is SSM's
        self.pacing = pacing
        self.deadline = deadline
        self.on_terminal = on_terminal
        self.watches = {iid: Watch(iid, cid) for cid, ids in expected.items() for iid in ids}
        self.open = list(expected)

    def run(self) -> bool:
        """True when every invocation ended; False at the deadline."""
        delay = 0.0
        while True:
            clean = self.poll()
            if not self.open:
                return True
            now = self.pacing.clock()
            if now >= self.deadline:
                return False
            # after a throttled poll, wait twice as long instead of the usual step up
            delay = min(self.pacing.cap, delay * (self.pacing.factor if clean else 2)) if delay else self.pacing.first
            self.pacing.sleep(min(delay, self.deadline - now))

    def poll(self) -> bool:
        """One walk per open command; False when SSM throttled or failed a walk."""
        clean = True
        ended: list[Watch] = []
        for command_id in list(self.open):
            invocations = self._walk(command_id)
            if invocations is None:
                clean = False
                continue
            ended += [w for w in (self._observe(command_id, inv) for inv in invocations) if w]
            if self._command_done(command_id):
                self.open.remove(command_id)
        if ended:
            self.on_terminal(ended)
        return clean

    def _walk(self, command_id: str) -> list[dict[str, Any]] | None:
        pages = self.client.get_paginator("list_command_invocations").paginate(
            CommandId=command_id, Details=True, PaginationConfig={"PageSize": PAGE_SIZE})
        try:
            return [inv for page in pages for inv in page.get("CommandInvocations", [])]
        except (BotoConnectionError, HTTPClientError) as exc:  # botocore already retried: try next poll
            runner.log(f"{utc_now():%H:%M:%S} No answer from SSM while listing {command_id} ({exc}); "
                       "polling again later.")
            return None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in NOT_YET:
                return []
            if code in TRANSIENT or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                runner.log(f"{utc_now():%H:%M:%S} SSM answered {code} while listing {command_id}; polling again later.")
                return None
            raise

    def _observe(self, command_id: str, invocation: dict[str, Any]) -> Watch | None:
        """Record a state change; return the watch when it just became terminal."""
        iid = invocation["InstanceId"]
        watch = self.watches.setdefault(iid, Watch(iid, command_id))
        watch.invocation = invocation
        state = state_of(invocation)
        if state != watch.state:
            now = utc_now()
            watch.timeline.append((now.isoformat(timespec="seconds"), state))
            runner.log(f"{now:%H:%M:%S} {iid} {watch.state or 'sent'} -> {state}")
            watch.state = state
        if watch.done or not is_terminal(invocation):
            return None
        watch.done = True
        return watch

    def _command_done(self, command_id: str) -> bool:
        mine = [w for w in self.watches.values() if w.command_id == command_id]
        if not self.by_tags:
            return all(w.done for w in mine)
        if any(w.state and not w.done for w in mine):
            return False
        command = self.client.list_commands(CommandId=command_id)["Commands"][0]
        return command.get("Status") in TERMINAL_STATUS
