"""pytest collection of this package's doctests (``pytest --doctest-modules trainers``).

``agent_loop`` and ``tools`` subclass verl's classes, so importing them needs the ``verl`` extra;
without it they are left out instead of failing collection.
"""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("verl") else ["agent_loop.py", "tools.py"]
