"""``python -m readout.simulate ...``: the simulator without the ``readout`` CLI."""

from . import main

raise SystemExit(main())
