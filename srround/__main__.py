import sys

from srround.cli import main

sys.exit(main())
