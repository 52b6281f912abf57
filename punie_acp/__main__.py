from punie_acp.cli import main

raise SystemExit(main())
