from vfi.cli import main

raise SystemExit(main())
