"""Routing: the environment input, else the branch through environment-map, else a clear error."""

from __future__ import annotations

import dataclasses

import pytest

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
