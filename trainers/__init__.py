"""Plug-in trainers for lite-world: the verl adapter and the reference GRPO trainer (in progress).

``lite_world`` never imports ``trainers``; trainers import ``lite_world``.
"""
