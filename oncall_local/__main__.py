import sys

from oncall_local.server import main

sys.exit(main())
