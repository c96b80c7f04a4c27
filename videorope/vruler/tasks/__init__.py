"""V-RULER tasks, one module each, registered by name in :data:`TASKS`."""

from videorope.vruler.tasks import counting, multi_value, niah, ordering, paper, stack  # noqa: F401  (register)
from videorope.vruler.tasks.base import TASKS, Cell, Material, make_sample

__all__ = ["TASKS", "Cell", "Material", "make_sample"]
