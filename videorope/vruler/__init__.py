"""V-RULER: video long-context benchmark (VideoRoPE++): needle images inserted into long real haystack videos.

from videorope.vruler import SuiteConfig, generate_suite, EvalConfig, evaluate, report
"""

from videorope.vruler.manifest import Sample, read_manifest, write_manifest
from videorope.vruler.report import report
from videorope.vruler.runner import EvalConfig, evaluate, read_results
from videorope.vruler.scoring import aggregate, grade
from videorope.vruler.suite import HaystackConfig, SuiteConfig, generate_suite
from videorope.vruler.tasks import TASKS

__all__ = [
    "TASKS",
    "EvalConfig",
    "HaystackConfig",
    "Sample",
    "SuiteConfig",
    "aggregate",
    "evaluate",
    "generate_suite",
    "grade",
    "read_manifest",
    "read_results",
    "report",
    "write_manifest",
]
