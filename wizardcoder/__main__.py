import sys

from wizardcoder.cli import main

sys.exit(main())
