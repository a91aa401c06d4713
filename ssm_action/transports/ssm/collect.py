"""One instance's result: its state, the agent's result line, the output, and where the full log is.

ListCommandInvocations gives the first 2,500 characters of output; the agent's
result line is its LAST line, so it is often cut off there. Then the full
stdout comes from S3 (when s3-bucket is set: SSM writes it there uncut) or from
GetCommandInvocation (cut at 24,000 characters).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from ssm_action import runner
from ssm_action.config.sections import TargetsConfig
from ssm_action.contract import AgentResult
from ssm_action.deploy.model import InstanceResult
from ssm_action.transports.ssm.wait import Watch

STDOUT_CUT = 24_000  # GetCommandInvocation StandardOutputContent
PLUGIN_DIRS = {"windows": "awsrunPowerShellScript", "linux": "awsrunShellScript"}  # S3 layout of the output
CLOUDWATCH_PLUGINS = {"windows": "aws-runPowerShellScript", "linux": "aws-runShellScript"}
NEVER_RAN = frozenset({"Undeliverable", "DeliveryTimedOut"})
FETCH_WORKERS = 8
HINTS = {
    "Undeliverable": "SSM could not deliver the command: the instance is stopped or terminated, or its "
                     "SSM Agent lost its connection after pre-flight.",
    "DeliveryTimedOut": "The command was not delivered within delivery-timeout ({delivery} s): the SSM Agent "
                        "was offline or busy with other commands.",
    "ExecutionTimedOut": "The deploy ran longer than execution-timeout ({execution} s) and SSM stopped it; "
                         "raise execution-timeout or find the step that hung in the output.",
    "TimedOut": "SSM timed the command out (delivery-timeout {delivery} s, execution-timeout {execution} s).",
    "Terminated": "The command was terminated on the instance (the instance or its SSM Agent stopped).",
    "Cancelled": "The command was cancelled (at this action's deadline, by a cancelled workflow, or by "
                 "someone in the AWS console).",
}


def _seconds(plugin: dict[str, Any]) -> float | None:
    start, end = plugin.get("ResponseStartDateTime"), plugin.get("ResponseFinishDateTime")
    if isinstance(start, datetime) and isinstance(end, datetime) and end >= start:
        return (end - start).total_seconds()
    return None


def _tail(text: str, lines: int = 5, chars: int = 600) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])[-chars:]


def _console_escape(text: str) -> str:
    """The CloudWatch console's fragment escaping: URL-encoded, then '%' written '$25'."""
    return quote(text, safe="").replace("%", "$25")


def cloudwatch_url(region: str, group: str, stream: str) -> str:
    """A log stream in the CloudWatch console; a command id alone filters the group's streams by it."""
    base = (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/"
            f"log-group/{_console_escape(group)}")
    if "/" not in stream:
        return f"{base}$3FlogStreamNameFilter$3D{_console_escape(stream)}"
    return f"{base}/log-events/{_console_escape(stream)}"


class Collector:
    """Turns terminal watches into InstanceResults, fetching full output where it was cut."""

    def __init__(self, ssm: Any, s3: Any, cfg: TargetsConfig):
        self.ssm = ssm
        self.s3 = s3
        self.cfg = cfg
        self.results: dict[str, InstanceResult] = {}

    def __call__(self, watches: list[Watch]) -> None:
        pool = ThreadPoolExecutor(max_workers=min(FETCH_WORKERS, len(watches)))
        try:
            results = list(pool.map(self.result, watches))
        finally:  # on a cancel (SIGTERM), do not wait for the queued fetches
            pool.shutdown(wait=False, cancel_futures=True)
        for result in results:
            self.results[result.instance_id] = result
            runner.log_verbatim(self.line(result))  # an agent's error is the server's text

    @staticmethod
    def line(r: InstanceResult) -> str:
        agent = r.agent
        seconds = f", {r.duration:.1f} s" if r.duration is not None else ""
        if agent:
            health = f", health {agent.health}" + (", rolled back" if r.rolled_back else "")
            return f"  {r.instance_id}: {r.status}, agent {agent.status}{health}{seconds}"
        return f"  {r.instance_id}: {r.status}{seconds}: {r.error}"

    def result(self, watch: Watch) -> InstanceResult:
        plugin = (watch.invocation.get("CommandPlugins") or [{}])[0]
        stdout, stderr = plugin.get("Output", ""), ""
        agent = AgentResult.parse(stdout)
        if agent is None and watch.state not in NEVER_RAN:
            stdout, stderr = self.full_output(watch.command_id, watch.instance_id, stdout)
            agent = AgentResult.parse(stdout)
        return InstanceResult(
            instance_id=watch.instance_id, status=watch.state, duration=_seconds(plugin), agent=agent,
            output=stdout, error="" if agent else self.explain(watch.state, stdout, stderr),
            log_url=self.log_url(watch.command_id, watch.instance_id), timeline=list(watch.timeline))

    def explain(self, state: str, stdout: str, stderr: str) -> str:
        if state in HINTS:
            return HINTS[state].format(delivery=self.cfg.delivery_timeout, execution=self.cfg.execution_timeout)
        if len(stdout) >= STDOUT_CUT and not self.cfg.s3_bucket:
            return ("SSM cut the output at 24,000 characters before the agent's result line; set s3-bucket "
                    "so the full output is kept.")
        detail = _tail(stderr) or _tail(stdout) or "no output"
        return f"The agent reported no result (the bootstrap or Python failed?): {detail}"

    def full_output(self, command_id: str, instance_id: str, listed: str) -> tuple[str, str]:
        """(stdout, stderr): from S3 when configured, else GetCommandInvocation; else what was listed."""
        if self.cfg.s3_bucket:
            try:
                stdout = self._s3_text(command_id, instance_id, "stdout")
                return stdout, self._s3_text(command_id, instance_id, "stderr", missing_ok=True)
            except (ClientError, BotoCoreError) as exc:
                runner.warning(f"{instance_id}: could not read its output from s3://{self.cfg.s3_bucket} ({exc}); "
                               "using SSM's copy, cut at 24,000 characters.", title="Output not in S3")
        try:
            got = self.ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        except (ClientError, BotoCoreError) as exc:
            runner.warning(f"{instance_id}: GetCommandInvocation failed ({exc}).", title="Output unavailable")
            return listed, ""
        return got.get("StandardOutputContent", ""), got.get("StandardErrorContent", "")

    def cloudwatch_stream(self, command_id: str, instance_id: str) -> str:
        """SSM's stream name, <command>/<instance>/<plugin>/stdout; the command id alone as a prefix filter."""
        if not instance_id:
            return command_id
        return f"{command_id}/{instance_id}/{CLOUDWATCH_PLUGINS[self.cfg.platform]}/stdout"

    def s3_folder(self, command_id: str, instance_id: str) -> str:
        """Where SSM writes an instance's output: <prefix>/<command>/<instance>/<plugin>/0.<plugin>/."""
        plugin = PLUGIN_DIRS[self.cfg.platform]
        return f"{self._key_head()}{command_id}/{instance_id}/{plugin}/0.{plugin}/"

    def _key_head(self) -> str:
        return f"{self.cfg.s3_key_prefix}/" if self.cfg.s3_key_prefix else ""

    def _s3_text(self, command_id: str, instance_id: str, stream: str, missing_ok: bool = False) -> str:
        key = self.s3_folder(command_id, instance_id) + stream
        try:
            body = self.s3.get_object(Bucket=self.cfg.s3_bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if missing_ok and exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return ""
            raise
        return body.decode("utf-8", errors="replace")

    def log_url(self, command_id: str, instance_id: str = "") -> str:
        """The CloudWatch log stream(s) of the output, else its S3 console folder, else the Run Command page."""
        region = self.cfg.aws_region
        if self.cfg.cloudwatch_log_group:
            stream = self.cloudwatch_stream(command_id, instance_id)
            return cloudwatch_url(region, self.cfg.cloudwatch_log_group, stream)
        if self.cfg.s3_bucket:
            folder = self.s3_folder(command_id, instance_id) if instance_id else f"{self._key_head()}{command_id}/"
            return (f"https://s3.console.aws.amazon.com/s3/buckets/{self.cfg.s3_bucket}?region={region}"
                    f"&prefix={quote(folder)}")
        page = f"{command_id}/{instance_id}" if instance_id else command_id
        return f"https://{region}.console.aws.amazon.com/systems-manager/run-command/{page}?region={region}"
