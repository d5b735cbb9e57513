"""The SpineBench `evaluate` metric as a Hub Space: `space` prepares and publishes it, `cli` is `spinemed metric`.

The metric module itself lives in the checkout's ``evaluate_metric/spinebench/`` (a thin wrapper
over `spinemed.scoring`); this package ships it with a wheel of the kit.
"""

from .space import (
    MetricSpaceError,
    MetricSpacePlan,
    build_wheel,
    kit_root,
    metric_source_dir,
    prepare_metric_space,
    publish_metric_space,
)

__all__ = [
    "MetricSpaceError",
    "MetricSpacePlan",
    "build_wheel",
    "kit_root",
    "metric_source_dir",
    "prepare_metric_space",
    "publish_metric_space",
]
