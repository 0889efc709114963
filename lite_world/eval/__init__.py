"""Evaluation harness: benchmark loaders, benchmark worlds, the runner, judging, metrics and
reports.

- :mod:`~lite_world.eval.loaders`: GAIA, Xbench-DeepSearch, BrowseComp(-Plus), Frames, WebWalkerQA,
  Seal-0, HLE, FanOutQA and generic files -> tasks (encrypted sets decrypted in memory);
- :mod:`~lite_world.eval.worlds`: a frozen world from a benchmark's evidence (``lite-world
eval-world``);
- :mod:`~lite_world.eval.runner`: run any agent with local, served or live tools (``lite-world
eval``);
- :mod:`~lite_world.eval.context`: summary memory, ReSum resets and forced answers for long
episodes;
- :mod:`~lite_world.eval.judging` and :mod:`~lite_world.eval.metrics`: verdicts and figures;
- :mod:`~lite_world.eval.report`, :mod:`~lite_world.eval.viewer`: report.md, plots, viewer.html;
- :mod:`~lite_world.eval.compare`: local versus live (``lite-world compare``).

Example:
    >>> from lite_world.eval import BENCHES
    >>> "browsecomp-plus" in BENCHES
    True
"""

from lite_world.eval.loaders import BENCHES, BenchData, load_benchmark

__all__ = ["BENCHES", "BenchData", "load_benchmark"]
