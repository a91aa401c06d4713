"""Runs at build time, like any setup.py: it records the environment it was given."""
import json
import os

from setuptools import setup

with open(os.environ["SHAPE_PROBE_DIR"] + "/build.json", "w") as out:
    json.dump(dict(os.environ), out)

setup(name="shape-probe", version="1.0", py_modules=["probe_mod"])
