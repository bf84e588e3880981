import sys

from rnnzoo.cli import main

sys.exit(main())
