from cbam_helpers.cli import main

raise SystemExit(main())
