import sys

from sceau.cli.main import main

sys.exit(main())
