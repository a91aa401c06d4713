import os


def headers():
    return {"Authorization": f"token {os.environ['SERVICE_TOKEN']}"}
