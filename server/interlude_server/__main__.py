"""`python -m interlude_server`: the same as the `interlude-server` command."""

import sys

from interlude_server.runtime.main import main

sys.exit(main())
