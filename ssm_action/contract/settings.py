"""The server's environment variables that point the agent at AWS: its endpoints and region. Never secret:
the agent passes them on to a service's launcher, and the local transport to the agent it runs."""

SETTINGS = ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSM",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_REGION", "AWS_DEFAULT_REGION")
