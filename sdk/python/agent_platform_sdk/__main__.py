"""`python -m agent_platform_sdk deploy agents/*.yaml` (the same as `agent-platform`)."""

import sys

from .cli import main

sys.exit(main())
