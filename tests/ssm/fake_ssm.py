"""moto's SSM, extended in-process for these tests (platform facts §4).

moto 5.2.5 lacks DescribeInstanceInformation, ListCommandInvocations and
CancelCommand, and every invocation it makes succeeds with empty output. The
ThreadedMotoServer runs inside the test process, so this module adds those
actions to moto's SSM response class and serves invocations from per-instance
plans: a list of Steps, one per ListCommandInvocations walk (the last step
repeats). Output is cut as SSM cuts it: 2,500 characters in the listing,
24,000 in GetCommandInvocation. When the command names an output bucket, a
finished invocation's full stdout/stderr is written to moto's S3 under SSM's
key layout, as the SSM Agent does (moto itself writes nothing there). Any
action can be made to answer errors first (throttling bursts, access denied).

Rate control as SSM applies it per command: an invocation starts (its plan
begins) only while fewer than the command's MaxConcurrency are in flight, and
once more than MaxErrors of them failed the ones not started are Cancelled.
The peak number of invocations in flight over ALL commands is recorded. Rate
limits: an action given a rate answers ThrottlingException past it (a token
bucket in real time, as SSM's per-account API limits). An instance can be made
to go offline (PingStatus ConnectionLost) once a number of commands were sent.

An event log orders what happened on the test's clock: each SendCommand per
instance and each invocation's end (first listed terminal), with the ELB
stand-in's DeregisterTargets and RegisterTargets (fake_elb).

moto's send_command(InstanceIds=[a]) targets every EC2 instance in the region:
by-id scenarios therefore create no EC2 instances at all (the ids exist only in
the registry); by-tag scenarios create exactly the tagged instances they need.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import ServiceException
from moto.server import ThreadedMotoServer
from moto.core.responses import ActionResult, EmptyResult
from moto.s3.models import s3_backends
from moto.ssm.models import Command, ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse

REGION = "us-east-1"
TERMINAL = frozenset({"Success", "Failed", "TimedOut", "Cancelled"})
TRUNCATED = "\n--output truncated--"  # what the SSM Agent appends to cut output
LIST_OUTPUT_MAX = 2_500
STDOUT_MAX = 24_000
STDERR_MAX = 8_000
PLUGINS = {"AWS-RunPowerShellScript": "aws:runPowerShellScript", "AWS-RunShellScript": "aws:runShellScript"}
STARTED = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
RUN_SECONDS = 42  # how long every finished invocation ran


class FakeError(ServiceException):
    """Defined outside moto's packages, so moto serializes it with SSM's own model (HTTP 400)."""


@dataclass(frozen=True)
class Step:
    status: str  # Pending, InProgress, Success, Failed, TimedOut, Cancelled...
    details: str = ""  # StatusDetails when it differs: "Undeliverable", "Delivery Timed Out"...
    stdout: str = ""
    stderr: str = ""
    code: int = -1

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


PENDING = Step("Pending")
RUNNING = Step("InProgress", "In Progress")


def ran(stdout: str, stderr: str = "", code: int = 0) -> Step:
    """A finished run of the bootstrap: Success on exit code 0, else Failed (as SSM does)."""
    return Step("Success" if code == 0 else "Failed", "", stdout, stderr, code)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


@dataclass
class FakeSSM:
    """The per-test state behind the added actions."""

    registry: dict[str, dict[str, Any]] = field(default_factory=dict)  # DescribeInstanceInformation items
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    plans: dict[str, list[Step]] = field(default_factory=dict)  # every instance a command reaches needs one
    later: dict[str, list[list[Step]]] = field(default_factory=dict)  # the plans of the next commands to reach it
    chosen: dict[tuple[str, str], list[Step]] = field(default_factory=dict)  # (command, instance) -> its plan
    hidden_walks: int = 0  # the first walks of each command see nothing yet (the race)
    hide_with_error: bool = False  # ...as InvocationDoesNotExist instead of an empty list
    errors: dict[str, list[str]] = field(default_factory=dict)  # action -> error codes to answer first ("" = ok)
    calls: Counter[str] = field(default_factory=Counter)
    walks: Counter[str] = field(default_factory=Counter)  # command id -> walks started
    cancelled: list[str] = field(default_factory=list)
    started: dict[str, dict[str, int]] = field(default_factory=dict)  # command id -> instance -> walk it started
    skipped: dict[str, set[str]] = field(default_factory=dict)  # command id -> instances past MaxErrors
    peak_in_flight: int = 0
    rates: dict[str, float] = field(default_factory=dict)  # action -> calls a second allowed (burst the same)
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # action -> (tokens, at)
    throttled: Counter[str] = field(default_factory=Counter)
    offline_after: dict[str, int] = field(default_factory=dict)  # instance -> SendCommand calls, then offline
    sends: list[dict[str, Any]] = field(default_factory=list)  # each SendCommand's rate control and log config
    ended_at: dict[tuple[str, str], float] = field(default_factory=dict)  # first listed terminal (perf_counter)
    # What happened, in order, with the ELB stand-in's calls (fake_elb): (clock, action, instance, detail)
    events: list[tuple[float, str, str, str]] = field(default_factory=list)
    now: Callable[[], float] = time.monotonic  # the events' clock: a test's fake clock
    # Instances that really run: when an invocation starts, its executor runs (in a thread) and the
    # invocation is InProgress until it returns its Step (e.g. the real bootstrap on that server's folder)
    executors: dict[str, Callable[[], Step]] = field(default_factory=dict)
    runs: dict[tuple[str, str], Future[Step]] = field(default_factory=dict)

    def event(self, action: str, instance_id: str, detail: str = "") -> None:
        self.events.append((self.now(), action, instance_id, detail))

    def register(self, instance_id: str, platform: str = "Windows", ping: str = "Online",
                 tags: dict[str, str] | None = None) -> None:
        name = {"Windows": "Microsoft Windows Server 2022 Datacenter", "Linux": "Ubuntu"}.get(platform, platform)
        self.registry[instance_id] = {
            "InstanceId": instance_id, "PingStatus": ping, "PlatformType": platform, "PlatformName": name,
            "PlatformVersion": "10.0.20348" if platform == "Windows" else "24.04", "AgentVersion": "3.3.1142.0",
            "LastPingDateTime": STARTED, "ResourceType": "EC2Instance", "IsLatestVersion": True,
        }
        self.tags[instance_id] = dict(tags or {})

    def plan(self, instance_id: str, *steps: Step) -> None:
        self.plans[instance_id] = list(steps)

    def then(self, instance_id: str, *steps: Step) -> None:
        """The plan for the next command that reaches the instance (e.g. a fleet rollback)."""
        self.later.setdefault(instance_id, []).append(list(steps))

    def plan_of(self, command_id: str, instance_id: str) -> list[Step]:
        key = (command_id, instance_id)
        if key not in self.chosen:
            reached = sum(iid == instance_id for _, iid in self.chosen)
            queued = [self.plans[instance_id]] + self.later.get(instance_id, [])
            self.chosen[key] = queued[min(reached, len(queued) - 1)]
        return self.chosen[key]

    # -- what the tests inspect

    @staticmethod
    def commands() -> list[Command]:
        return list(ssm_backends[DEFAULT_ACCOUNT_ID][REGION]._commands)

    # -- the model

    def step(self, command: Command, instance_id: str) -> Step:
        cid = command.command_id
        if instance_id in self.skipped.get(cid, ()):
            return Step("Cancelled")
        started = self.started.get(cid, {}).get(instance_id)
        if started is None:
            step = PENDING
        elif (cid, instance_id) in self.runs:
            future = self.runs[(cid, instance_id)]
            step = future.result() if future.done() else RUNNING
        else:
            plan = self.plan_of(cid, instance_id)
            step = plan[min(max(self.walk(cid) - started + 1, 1), len(plan)) - 1]
        if cid in self.cancelled and not step.terminal:
            return Step("Cancelled")
        return step

    def walk(self, command_id: str) -> int:
        return self.walks[command_id] - self.hidden_walks

    def admit(self, command: Command) -> None:
        """Start invocations as SSM does: up to MaxConcurrency in flight, none once MaxErrors is exceeded."""
        cid, ids = command.command_id, sorted(command.instance_ids)
        if self.walk(cid) < 1 or cid in self.cancelled:
            return
        started, skipped = self.started.setdefault(cid, {}), self.skipped.setdefault(cid, set())
        steps = {iid: self.step(command, iid) for iid in started}
        in_flight = sum(not s.terminal for s in steps.values())
        failed = sum(s.terminal and s.status != "Success" for s in steps.values())
        for iid in ids:
            if iid in started or iid in skipped:
                continue
            if failed > _limit(command.max_errors, len(ids), 0):
                skipped.add(iid)
            elif in_flight < _limit(command.max_concurrency, len(ids), 1):
                started[iid] = self.walk(cid)
                if iid in self.executors:
                    self.runs[(cid, iid)] = EXECUTOR.submit(self.executors[iid])
                in_flight += not self.step(command, iid).terminal
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight())

    def in_flight(self) -> int:
        """Invocations started and not ended, over every command."""
        by_id = {c.command_id: c for c in self.commands()}
        return sum(not self.step(by_id[cid], iid).terminal for cid, started in self.started.items()
                   for iid in started if cid in by_id)

    def throttle(self, action: str) -> bool:
        """A token bucket per limited action: False while calls stay within its rate."""
        rate = self.rates.get(action)
        if not rate:
            return False
        now = time.monotonic()
        tokens, at = self.buckets.get(action, (rate, now))
        tokens = min(rate, tokens + (now - at) * rate)
        if tokens < 1:
            self.buckets[action] = (tokens, now)
            self.throttled[action] += 1
            return True
        self.buckets[action] = (tokens - 1, now)
        return False

    def ping(self, instance_id: str) -> str:
        after = self.offline_after.get(instance_id)
        if after is not None and self.calls["SendCommand"] >= after:
            return "ConnectionLost"
        return str(self.registry[instance_id]["PingStatus"])

    def invocation(self, command: Command, instance_id: str) -> dict[str, Any]:
        step = self.step(command, instance_id)
        plugin = {"Name": PLUGINS.get(command.document_name or "", "aws:runShellScript"),
                  "Status": step.status, "StatusDetails": step.details or step.status, "ResponseCode": step.code,
                  "ResponseStartDateTime": STARTED, "Output": _cut(self.combined(step), LIST_OUTPUT_MAX),
                  "OutputS3BucketName": command.output_s3_bucket_name,
                  "OutputS3KeyPrefix": command.output_s3_key_prefix}
        if step.terminal:
            if (command.command_id, instance_id) not in self.ended_at:
                self.event("Ended", instance_id, step.status)
            self.ended_at.setdefault((command.command_id, instance_id), time.perf_counter())
            plugin["ResponseFinishDateTime"] = STARTED + datetime.timedelta(seconds=RUN_SECONDS)
            if command.output_s3_bucket_name:
                self.write_output(command, instance_id, step)
        return {"CommandId": command.command_id, "InstanceId": instance_id, "Comment": command.comment,
                "DocumentName": command.document_name, "RequestedDateTime": command.requested_date_time,
                "Status": step.status, "StatusDetails": step.details or step.status, "CommandPlugins": [plugin]}

    @staticmethod
    def combined(step: Step) -> str:
        return step.stdout + (f"\n----------ERROR-------\n{step.stderr}" if step.stderr else "")

    def settle(self, command: Command) -> None:
        """Keep moto's command status (ListCommands) in line with the invocations."""
        steps = [self.step(command, iid) for iid in command.instance_ids]
        if command.command_id in self.cancelled:
            command.status = "Cancelled"
        elif not all(s.terminal for s in steps) or self.walks[command.command_id] <= self.hidden_walks:
            command.status = "InProgress"
        else:
            command.status = "Success" if all(s.status == "Success" for s in steps) else "Failed"

    def next_error(self, action: str) -> str:
        if self.throttle(action):
            return "ThrottlingException"
        queue = self.errors.get(action)
        return queue.pop(0) if queue else ""

    def write_output(self, command: Command, instance_id: str, step: Step) -> None:
        """What the SSM Agent uploads when the command has an output bucket: the uncut streams."""
        plugin = PLUGINS.get(command.document_name or "", "aws:runShellScript").replace(":", "")
        head = f"{command.output_s3_key_prefix}/" if command.output_s3_key_prefix else ""
        folder = f"{head}{command.command_id}/{instance_id}/{plugin}/0.{plugin}/"
        s3 = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        for name, text in (("stdout", step.stdout), ("stderr", step.stderr)):
            if text:
                s3.put_object(command.output_s3_bucket_name, folder + name, text.encode())


def _limit(spec: str, count: int, least: int) -> int:
    """MaxConcurrency / MaxErrors as SSM reads them: a number, or a percentage of the targets."""
    if not spec:
        return count
    return max(least, count * int(spec[:-1]) // 100) if spec.endswith("%") else int(spec)


FAKE = FakeSSM()
EXECUTOR = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fake-ssm-run")


def _backend(response: SimpleSystemManagerResponse) -> Any:
    return ssm_backends[response.current_account][response.region]


def _page(items: list[Any], response: SimpleSystemManagerResponse, default: int) -> tuple[list[Any], str | None]:
    start = int(response._get_param("NextToken") or 0)
    size = int(response._get_param("MaxResults") or default)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def describe_instance_information(self: SimpleSystemManagerResponse) -> ActionResult:
    found = [{**info, "PingStatus": FAKE.ping(iid)} for iid, info in FAKE.registry.items()]
    for item in self._get_param("Filters") or []:
        key, values = item["Key"], set(item["Values"])
        if key == "InstanceIds":
            found = [i for i in found if i["InstanceId"] in values]
        elif key.startswith("tag:"):
            found = [i for i in found if FAKE.tags[i["InstanceId"]].get(key[4:]) in values]
        else:
            raise FakeError("InvalidInstanceInformationFilterValue", f"filter {key} is not modelled")
    page, token = _page(found, self, 50)
    return ActionResult({"InstanceInformationList": page, **({"NextToken": token} if token else {})})


def list_command_invocations(self: SimpleSystemManagerResponse) -> ActionResult:
    command = _backend(self).get_command_by_id(self._get_param("CommandId"))
    if not self._get_param("NextToken"):
        FAKE.walks[command.command_id] += 1
        FAKE.admit(command)
    FAKE.settle(command)
    if FAKE.walks[command.command_id] <= FAKE.hidden_walks:
        if FAKE.hide_with_error:
            raise FakeError("InvocationDoesNotExist", "The command ID and instance ID you specified did not match")
        return ActionResult({"CommandInvocations": []})
    page, token = _page(sorted(command.instance_ids), self, 50)
    return ActionResult({"CommandInvocations": [FAKE.invocation(command, iid) for iid in page],
                         **({"NextToken": token} if token else {})})


def get_command_invocation(self: SimpleSystemManagerResponse) -> ActionResult:
    command = _backend(self).get_command_by_id(self._get_param("CommandId"))
    instance_id = self._get_param("InstanceId")
    if instance_id not in command.instance_ids:
        raise FakeError("InvocationDoesNotExist", "The command ID and instance ID you specified did not match")
    step = FAKE.step(command, instance_id)
    return ActionResult({"CommandId": command.command_id, "InstanceId": instance_id, "Status": step.status,
                         "StatusDetails": step.details or step.status, "ResponseCode": step.code,
                         "StandardOutputContent": _cut(step.stdout, STDOUT_MAX),
                         "StandardErrorContent": _cut(step.stderr, STDERR_MAX)})


def cancel_command(self: SimpleSystemManagerResponse) -> EmptyResult:
    command = _backend(self).get_command_by_id(self._get_param("CommandId"))
    FAKE.cancelled.append(command.command_id)
    FAKE.settle(command)
    return EmptyResult()


_moto_call_action = SimpleSystemManagerResponse.call_action


def call_action(self: SimpleSystemManagerResponse) -> Any:
    action = self._get_action()
    FAKE.calls[action] += 1
    code = FAKE.next_error(action)
    if code:
        return self.serialized(ActionResult(FakeError(code, f"{code} (injected by the test)")))
    if action == "SendCommand":
        FAKE.sends.append({name: self._get_param(name) for name in (
            "InstanceIds", "Targets", "MaxConcurrency", "MaxErrors", "CloudWatchOutputConfig")})
        for iid in self._get_param("InstanceIds") or []:
            FAKE.event("SendCommand", iid)
    return _moto_call_action(self)


def install() -> None:
    """Add the actions to moto's SSM (in this process: the ThreadedMotoServer serves them)."""
    SimpleSystemManagerResponse.describe_instance_information = describe_instance_information
    SimpleSystemManagerResponse.list_command_invocations = list_command_invocations
    SimpleSystemManagerResponse.get_command_invocation = get_command_invocation
    SimpleSystemManagerResponse.cancel_command = cancel_command
    SimpleSystemManagerResponse.call_action = call_action


def reset() -> FakeSSM:
    FAKE.__init__()  # type: ignore[misc]
    return FAKE


def start_moto() -> ThreadedMotoServer:
    """One moto server over HTTP with these actions installed, boto3 pointed at it (the benchmarks and the
    docs' timeline script, outside pytest's fixtures); the caller stops it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update({"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "local",
                       "AWS_SECRET_ACCESS_KEY": "local", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"})
    install()
    return server
