"""ssm-deploy-action: quality gates and verified deploys to EC2 through AWS SSM."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/ssm-deploy-action/ssm-deploy-action"
DOCS_URL = f"{PROJECT_URL}/blob/v1/docs"
