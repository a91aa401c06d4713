"""The fleet waiter, call by call, with botocore's Stubber (responses validated against the model)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ssm_action.transports.ssm.wait import FleetWait, state_of

CID = "11111111-2222-3333-4444-555555555555"
A, B = "i-0000000000000000a", "i-0000000000000000b"
WALK = {"CommandId": CID, "Details": True, "MaxResults": 50}


def inv(iid: str, status: str, details: str = "") -> dict:
    return {"CommandId": CID, "InstanceId": iid, "Status": status, "StatusDetails": details or status}


@pytest.fixture
def stubbed():
    client = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y",
                          endpoint_url="https://ssm.us-east-1.amazonaws.com")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def waiter(client, clock, by_tags=False, deadline=1_000.0, ended=None):
    return FleetWait(client, {CID: [A, B]}, by_tags, clock.pacing(), deadline,
                     (ended if ended is not None else []).append)


def listing(stubber, *invocations, token=None, after=None):
    response = {"CommandInvocations": list(invocations), **({"NextToken": token} if token else {})}
    stubber.add_response("list_command_invocations", response, {**WALK, **({"NextToken": after} if after else {})})


def test_not_listed_yet_then_progress_then_done(stubbed, clock):
    client, stubber = stubbed
    stubber.add_client_error("list_command_invocations", "InvocationDoesNotExist", expected_params=WALK)
    listing(stubber)  # empty right after sending
    listing(stubber, inv(A, "InProgress", "In Progress"), inv(B, "Pending"))
    listing(stubber, inv(A, "Success"), inv(B, "InProgress", "In Progress"))
    listing(stubber, inv(A, "Success"), inv(B, "Failed"))
    ended = []
    wait = waiter(client, clock, ended=ended)

    assert wait.run() is True
    assert [[w.instance_id for w in batch] for batch in ended] == [[A], [B]]
    assert clock.sleeps == [1.0, 1.5, 2.25, 3.375]
    assert [s for _, s in wait.watches[B].timeline] == ["Pending", "InProgress", "Failed"]


def test_one_walk_follows_every_page(stubbed, clock):
    client, stubber = stubbed
    listing(stubber, inv(A, "Success"), token="page-2")
    listing(stubber, inv(B, "Success"), after="page-2")
    wait = waiter(client, clock)
    assert wait.run() is True and clock.sleeps == []  # one poll


def test_by_tag_the_command_status_says_when_it_is_over(stubbed, clock):
    client, stubber = stubbed
    listing(stubber, inv(A, "Success"))
    stubber.add_response("list_commands", {"Commands": [{"CommandId": CID, "Status": "InProgress"}]},
                         {"CommandId": CID})
    listing(stubber, inv(A, "Success"), inv(B, "Success"))
    stubber.add_response("list_commands", {"Commands": [{"CommandId": CID, "Status": "Success"}]},
                         {"CommandId": CID})
    assert waiter(client, clock, by_tags=True).run() is True


def test_throttling_and_server_errors_skip_a_poll(stubbed, clock):
    client, stubber = stubbed
    stubber.add_client_error("list_command_invocations", "ThrottlingException", http_status_code=400)
    stubber.add_client_error("list_command_invocations", "InternalServerError", http_status_code=500)
    listing(stubber, inv(A, "Success"), inv(B, "Success"))
    assert waiter(client, clock).run() is True
    assert clock.sleeps == [1.0, 2.0]


def test_any_other_error_is_raised(stubbed, clock):
    client, stubber = stubbed
    stubber.add_client_error("list_command_invocations", "InvalidCommandId")
    with pytest.raises(ClientError, match="InvalidCommandId"):
        waiter(client, clock).run()


def test_the_deadline_ends_the_wait_with_a_last_poll_at_the_deadline(stubbed, clock):
    client, stubber = stubbed
    for _ in range(4):
        listing(stubber, inv(A, "InProgress"), inv(B, "Success"))
    wait = waiter(client, clock, deadline=4.0)
    assert wait.run() is False
    assert clock.sleeps == [1.0, 1.5, 1.5] and clock.now == 4.0
    assert [w.instance_id for w in wait.watches.values() if not w.done] == [A]


@pytest.mark.parametrize("status, details, state", [
    ("Pending", "", "Pending"), ("InProgress", "In Progress", "InProgress"), ("Cancelled", "Canceled", "Cancelled"),
    ("TimedOut", "Delivery Timed Out", "DeliveryTimedOut"), ("Failed", "Undeliverable", "Undeliverable"),
])
def test_states_are_named_by_their_detail(status, details, state):
    assert state_of({"Status": status, "StatusDetails": details}) == state
