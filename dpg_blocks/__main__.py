from dpg_blocks.cli import main

raise SystemExit(main())
