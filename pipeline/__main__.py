import sys

from pipeline.ops.cli import main

sys.exit(main())
