"""Routing: the environment input, else the branch through environment-map, else a clear error."""

from __future__ import annotations

import dataclasses

import pytest

from ssm_action import context
from ssm_action.deploy.routing import environment_for
from ssm_action.errors import ActionError
from tests import factories
from tests.ssm.conftest import CTX


def test_the_input_wins_over_the_map(tmp_path):
    cfg = factories.deploy_config(tmp_path, transport="local", app_directory="a", environment="qa")
    assert environment_for(cfg, CTX) == "qa"


def test_the_branch_is_looked_up_in_the_map(tmp_path):
    cfg = factories.deploy_config(tmp_path, transport="local", app_directory="a", environment_map="main=prod")
    assert environment_for(cfg, CTX) == "prod"


def test_an_unmapped_branch_says_how_to_fix_it(tmp_path):
    cfg = factories.deploy_config(tmp_path, transport="local", app_directory="a", environment_map="dev=development")
    with pytest.raises(ActionError) as caught:
        environment_for(cfg, dataclasses.replace(CTX, branch="feature/x"))
    assert "'feature/x' has no environment in environment-map (dev -> development)" in caught.value.message
    assert caught.value.doc_url.endswith("troubleshooting.md#routing-and-the-commit")


TAG_MAIN = dataclasses.replace(CTX, branch="", tag="main")


def test_a_tag_named_main_is_not_the_branch_main(tmp_path):
    cfg = factories.deploy_config(tmp_path, transport="local", app_directory="a")  # the default map: main=production
    with pytest.raises(ActionError) as caught:
        environment_for(cfg, TAG_MAIN)
    assert caught.value.title == "No environment for this tag"
    assert "'main' matches no tag: entry" in caught.value.message


def test_a_tag_goes_where_a_tag_entry_or_the_input_sends_it(tmp_path):
    cfg = factories.deploy_config(tmp_path, transport="local", app_directory="a",
                                  environment_map="main=production, tag:v*=staging, tag:main=qa")
    assert environment_for(cfg, dataclasses.replace(CTX, branch="", tag="v1.2.0")) == "staging"
    assert environment_for(cfg, TAG_MAIN) == "qa"
    assert environment_for(cfg, CTX) == "production"  # the branch main: branch entries only
    assert environment_for(dataclasses.replace(cfg, environment="prod-by-hand"), TAG_MAIN) == "prod-by-hand"


@pytest.mark.parametrize(("env", "branch", "tag"), [
    ({"GITHUB_REF": "refs/tags/main", "GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "tag"}, "", "main"),
    ({"GITHUB_REF": "refs/tags/main", "GITHUB_REF_NAME": "main"}, "", "main"),  # act sets no GITHUB_REF_TYPE
    ({"GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "tag"}, "", "main"),
    ({"GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch"}, "main", ""),
    ({"GITHUB_REF": "refs/heads/release/1", "GITHUB_REF_NAME": "release/1"}, "release/1", ""),
    ({"GITHUB_REF": "refs/remotes/x/main", "GITHUB_REF_NAME": "main"}, "", ""),
])
def test_the_context_takes_branches_from_refs_heads_only(tmp_path, env, branch, tag):
    ctx = context.from_env(tmp_path, {**env, "GITHUB_SHA": "0" * 40, "GITHUB_EVENT_NAME": "push"})
    assert (ctx.branch, ctx.tag) == (branch, tag)


def test_a_tag_entry_needs_a_pattern(tmp_path):
    _, errors = factories.parse(tmp_path, environment_map="tag:=production", mode="deploy")
    assert any(e.input == "environment-map" and "tag:PATTERN=environment" in e.message for e in errors)
