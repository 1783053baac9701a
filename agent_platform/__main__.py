from agent_platform.cli import main

raise SystemExit(main())
