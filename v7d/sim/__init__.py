"""v7d-sim: a Binance USDⓈ-M futures simulator (REST + user-data stream) with fault injection.

``from v7d.sim.testing import running_sim`` starts one for tests; ``v7d-sim`` runs it
standalone. See docs/simulator.md.
"""

from v7d.sim.options import SimOptions
from v7d.sim.server import SimServer
from v7d.sim.simulator import Simulator

__all__ = ["SimOptions", "SimServer", "Simulator"]
