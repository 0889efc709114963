"""Cold-start SFT data: teacher trajectories → the paper's filters (F1–F7) and cleaning (C1–C4)
→ chat records with loss on assistant turns, in Hugging Face and verl layouts, plus a report.

The trainer is ``python -m trainers.sft`` (``lite-world-sft``); this package never imports torch.

Example:
    >>> from lite_world.sft import SFTDataConfig, build_sft_data, read_trajectories
    >>> result = build_sft_data(read_trajectories("runs/teacher"), SFTDataConfig(), "runs/sft-data")  # doctest: +SKIP
"""

from lite_world.sft.cleaning import CLEANING_STEPS, clean_messages
from lite_world.sft.export import write_records
from lite_world.sft.filters import FILTERS, RULES, check_all
from lite_world.sft.pipeline import SFTDataConfig, SFTDataResult, build_sft_data, token_counter
from lite_world.sft.records import make_record, read_records, validate_record
from lite_world.sft.trajectory import Trajectory, read_trajectories

__all__ = [
    "CLEANING_STEPS",
    "FILTERS",
    "RULES",
    "SFTDataConfig",
    "SFTDataResult",
    "Trajectory",
    "build_sft_data",
    "check_all",
    "clean_messages",
    "make_record",
    "read_records",
    "read_trajectories",
    "token_counter",
    "validate_record",
    "write_records",
]
