from setuptools import setup

setup(name="shape-setup-py", version="1.0", packages=["sp_pkg"], install_requires=["six"],
      extras_require={"test": ["pytest-mock"]})
