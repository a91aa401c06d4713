from setuptools import setup

setup(name="shape-tox-cov", version="1.0", packages=["tc_pkg"])
