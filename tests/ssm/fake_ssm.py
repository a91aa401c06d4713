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

moto's send_command(InstanceIds=[a]) targets every EC2 instance in the region:
by-id scenarios therefore create no EC2 instances at all (the ids exist only in
the registry); by-tag scenarios create exactly the tagged instances they need.
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import ServiceException
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
    hidden_walks: int = 0  # the first walks of each command see nothing yet (the race)
    hide_with_error: bool = False  # ...as InvocationDoesNotExist instead of an empty list
    errors: dict[str, list[str]] = field(default_factory=dict)  # action -> error codes to answer first ("" = ok)
    calls: Counter[str] = field(default_factory=Counter)
    walks: Counter[str] = field(default_factory=Counter)  # command id -> walks started
    cancelled: list[str] = field(default_factory=list)

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

    # -- what the tests inspect

    @staticmethod
    def commands() -> list[Command]:
        return list(ssm_backends[DEFAULT_ACCOUNT_ID][REGION]._commands)

    # -- the model

    def step(self, command: Command, instance_id: str) -> Step:
        walk = self.walks[command.command_id] - self.hidden_walks
        plan = self.plans[instance_id]
        step = plan[min(max(walk, 1), len(plan)) - 1]
        if command.command_id in self.cancelled and not step.terminal:
            return Step("Cancelled")
        return step

    def invocation(self, command: Command, instance_id: str) -> dict[str, Any]:
        step = self.step(command, instance_id)
        plugin = {"Name": PLUGINS.get(command.document_name or "", "aws:runShellScript"),
                  "Status": step.status, "StatusDetails": step.details or step.status, "ResponseCode": step.code,
                  "ResponseStartDateTime": STARTED, "Output": _cut(self.combined(step), LIST_OUTPUT_MAX),
                  "OutputS3BucketName": command.output_s3_bucket_name,
                  "OutputS3KeyPrefix": command.output_s3_key_prefix}
        if step.terminal:
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


FAKE = FakeSSM()


def _backend(response: SimpleSystemManagerResponse) -> Any:
    return ssm_backends[response.current_account][response.region]


def _page(items: list[Any], response: SimpleSystemManagerResponse, default: int) -> tuple[list[Any], str | None]:
    start = int(response._get_param("NextToken") or 0)
    size = int(response._get_param("MaxResults") or default)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def describe_instance_information(self: SimpleSystemManagerResponse) -> ActionResult:
    found = list(FAKE.registry.values())
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
