"""ssm-deploy-action: quality gates and verified deploys to EC2 through AWS SSM."""

__version__ = "0.1.0"
