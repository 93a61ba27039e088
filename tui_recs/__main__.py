from tui_recs.cli import main

raise SystemExit(main())
