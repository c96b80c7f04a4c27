"""``python -m videorope.cli``: the command line, as ``accelerate launch -m`` and ``torchrun -m`` start it."""

import sys

from videorope.cli import main

sys.exit(main())
