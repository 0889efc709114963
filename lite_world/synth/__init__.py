"""The data engine: QA synthesis from world pages (extract, rubric filter, masking audit,
corpus expansion, multi-hop questions), the difficulty profiler and curriculum stages.

Each step is its own module (``extract``, ``rubric``, ``audit``, ``expand``, ``multihop``,
``profile``, ``curriculum``); the ``lite-world synth`` / ``curriculum`` subcommands are in ``cli``.
Importing this package imports nothing heavy.
"""
