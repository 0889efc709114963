"""verl adapter for ``LiteSearch-v0``: agent loop, tools, reward function, data and configs.

Modules:

* :mod:`trainers.verl.settings` — :class:`LiteWorldSettings`, the ``lite_world`` section of the
  training config (world, reward, limits), shared by the agent loop and the tools.
* :mod:`trainers.verl.agent_loop` — ``LiteSearchAgentLoop``, registered as ``lite_search_agent``:
  one LiteSearch-v0 episode per sample, the env's reward as ``reward_score``.
* :mod:`trainers.verl.tools` — ``LiteSearchTool`` / ``LiteVisitTool`` (``verl.tools.base_tool.BaseTool``)
  for verl's stock ``tool_agent`` loop (``config/tool_config.yaml``).
* :mod:`trainers.verl.reward` — ``compute_score`` for ``reward.custom_reward_function``.
* :mod:`trainers.verl.data` — ``python -m trainers.verl.data TASKS OUT.parquet``: tasks to verl rows.

Only ``agent_loop`` and ``tools`` import verl; ``data``, ``reward`` and ``settings`` need only
lite_world, so the data file can be written on a machine without verl. Nothing in ``lite_world``
imports this package.
"""
