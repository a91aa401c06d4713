#!/usr/bin/env python3
"""Container entrypoint: the runner calls this with the inputs as INPUT_* variables."""
import sys

from ssm_action.cli import main

if __name__ == "__main__":
    sys.exit(main())
