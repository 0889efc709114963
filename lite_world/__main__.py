import sys

from lite_world.cli import main

sys.exit(main())
