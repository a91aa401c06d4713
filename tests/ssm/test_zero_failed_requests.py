"""Zero failed requests, measured: 4 real app servers behind the load balancer stand-in, a rolling deploy.

Each instance's invocation runs the real Linux bootstrap and agent on that
server's own folder and port (fake_ssm's executors: the parameters are the
server's, not the command's, since 4 servers on one machine cannot share one
app folder and port). The action's rollout is real: SSM on moto, ELBv2 on moto
with real timing (fake_elb: draining for 1 s, healthy once a real health check
passes). A client sends requests through the stand-in during the whole rollout.
"""

from __future__ import annotations

import pytest

from ssm_action.deploy import plan
from ssm_action.transports.ssm import SsmTransport, traffic
from ssm_action.transports.ssm.wait import Pacing
from tests.agent.agent_fixtures import Server, build_wheel, kill_processes_under, uv_folder
from tests.ssm.agent_runs import deploy_through_bootstrap
from tests.ssm.conftest import CTX
from tests.ssm.fake_ssm import Step, ran
from tests.ssm.lb_standin import Client, LoadBalancer
from tests.ssm.test_ssm_scenarios import ids
from tests.ssm.test_traffic import target_group

pytestmark = pytest.mark.slow


def test_a_rolling_deploy_behind_the_load_balancer_fails_no_request(fake, elb, make_cfg, tmp_path, monkeypatch,
                                                                    capsys):
    wheel, uv = build_wheel(tmp_path), uv_folder(tmp_path / "uv")
    servers = {iid: Server(tmp_path / iid, wheel, uv) for iid in ids(4)}
    wanted: dict[str, str] = {}

    def executor(iid: str):
        def run() -> Step:
            done = deploy_through_bootstrap(servers[iid], wanted[iid])
            return ran(done.stdout, done.stderr, done.code)
        return run

    try:
        for iid, server in servers.items():
            assert deploy_through_bootstrap(server, server.commit("v1")).code == 0
            fake.register(iid, "Linux")
            fake.executors[iid] = executor(iid)
        arn = target_group(list(servers))
        elb.fleet, elb.drain_seconds = set(servers), 1.0
        elb.check = lambda iid: (servers[iid].get() or (0, ""))[0] == 200
        monkeypatch.setattr(traffic, "POLL", 0.25)
        pacing = Pacing(first=0.25, factor=1.5, cap=1.0)

        gaps: list[float] = []

        def rolling_deploy(version: str, **inputs: str) -> Client:
            wanted.update((iid, server.commit(version)) for iid, server in servers.items())
            cfg = make_cfg(instance_ids=",".join(servers), platform="linux", app_directory="/srv/app",
                           max_concurrency="1", **inputs)
            with LoadBalancer(arn, {iid: s.port for iid, s in servers.items()}) as balancer:
                client = Client(balancer.url)
                client.start()
                outcome = SsmTransport(pacing=pacing).run(plan.build(cfg, CTX, "production"))
                client.stop()
                gaps.extend(balancer.gaps().values())
            assert outcome.ok, [r.reason for r in outcome.results]
            assert all(version in (s.get() or (0, ""))[1] for s in servers.values())
            return client

        behind = rolling_deploy("v2", target_groups="web-tg", drain_timeout="10", health_check_timeout="30")
        assert elb.peak_out == 1
        plain = rolling_deploy("v3")
    finally:
        kill_processes_under(tmp_path)

    with capsys.disabled():
        print(f"\nwith target-groups: {behind.ok} requests answered, {len(behind.failed)} failed; "
              f"without: {plain.ok} answered, {len(plain.failed)} failed ({sorted(set(plain.failed))[:3]}); "
              f"restart gap per server without: {', '.join(f'{gap * 1000:.0f} ms' for gap in gaps)}")
    assert not behind.failed and behind.ok > 100
    assert any("v1" in body for body in behind.bodies) and any("v2" in body for body in behind.bodies)
    assert plain.failed  # what target-groups prevents: requests to servers restarting
