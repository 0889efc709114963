"""Plug-in trainers for lite-world: the verl adapter, the reference GRPO trainer and the SFT trainer.

``lite_world`` never imports ``trainers``; trainers import ``lite_world``.
"""
