import sys

from synthtab.app import main

sys.exit(main())
