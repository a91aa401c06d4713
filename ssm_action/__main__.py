import sys

from ssm_action.cli import main

sys.exit(main())
