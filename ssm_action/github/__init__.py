"""GitHub: the REST client (client.py: hints, retries) and the deployment lifecycle (deployment.py:
created, final status on every path, the post step's finaliser)."""
