"""``python -m v7d.sim``: the same as the ``v7d-sim`` console script."""

from v7d.sim.cli import main

main()
