"""The fake Cloud Logging: log-based metrics (``/logging/v2/projects/P/metrics/M``).

Cloud Monitoring learns of a new log-based metric late; :meth:`LoggingMetricsApi._metric_seen`
is what the fake Monitoring (:mod:`.monitoring`) asks. The sources are named as in the package
docstring.

| rule | source | test |
|---|---|---|
| log metric name: at most 100 of A-Z, a-z, 0-9 and ``_-.,+!*',()%/``, not starting with ``/`` | google/logging/v2/logging_metrics.proto LogMetric.name | test_log_metric_name_allowed, test_log_metric_name_refused |
| log metric filter: required, at most 20000 characters; description at most 8000 characters (create and update) | logging_metrics.proto LogMetric.filter, LogMetric.description | test_log_metric_filter_and_description_limits |
| log metric without a descriptor: DELTA, INT64, unit "1", type logging.googleapis.com/user/NAME (what a counter is, and what later updates are checked against) | logging_metrics.proto LogMetric.metric_descriptor ("If unspecified, it uses a default metric descriptor...") | test_a_counter_gets_the_default_descriptor |
| distribution log metric: metric kind DELTA, a value_extractor, and bucket_options | logging_metrics.proto LogMetric.metric_descriptor, value_extractor, bucket_options | test_log_metric_distribution_needs_a_delta_kind_a_value_extractor_and_buckets |
| extractors (value and labels): EXTRACT(field) or REGEXP_EXTRACT(field, regex), the regex with exactly one capture group | logging_metrics.proto LogMetric.value_extractor; label_extractors ("the same as for the value_extractor field") | test_log_metric_extractors_allowed, test_log_metric_extractors_refused |
| each label of the metric descriptor has an extractor in label_extractors | logging_metrics.proto LogMetric.label_extractors, metric_descriptor | test_log_metric_labels_need_an_extractor_each |
| bucket options: exactly one of linear, exponential, explicit; exponential growth_factor > 1, scale > 0, num_finite_buckets > 0; linear width > 0, num_finite_buckets > 0; explicit bounds at least one, strictly increasing | distribution.proto Distribution.BucketOptions (oneof options; Linear, Exponential, Explicit) | test_log_metric_bucket_options_refused, test_log_metric_bucket_options_allowed |
| log metric updates: metric kind and value type can't change; an existing label only its description | logging_metrics.proto LogMetric.metric_descriptor ("cannot be updated once initially configured"; "existing labels cannot be modified except for their description") | test_log_metric_kind_value_type_and_label_types_cannot_be_updated |
| unknown: the number of buckets a distribution may have (deploy.sh uses 142), the key rules and count of logs-based metric labels, and whether an extractor without a descriptor label or a removed label is refused; not checked | | |
| unknown: RE2 against Python's re: the fake counts a REGEXP_EXTRACT's groups with re, and lets through a regex re can't compile | | |
"""  # noqa: E501 - the rule table keeps one row per line

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

from .common import JSON, ApiError, Call, Routes, not_found, now
from .rules import integer, invalid, string

# The metric type of a log-based metric is this prefix and its name.
LOG_METRIC_TYPE = "logging.googleapis.com/user/"

# Cloud Logging: google/logging/v2/logging_metrics.proto LogMetric.
_METRIC_NAME = re.compile(r"[A-Za-z0-9_\-.,+!*'()%/]{1,100}")
MAX_METRIC_FILTER, MAX_METRIC_DESCRIPTION = 20_000, 8_000
# LogMetric.value_extractor (and label_extractors, "the same syntax"): EXTRACT(field) or
# REGEXP_EXTRACT(field, regex), the regex with exactly one capture group.
_EXTRACT = re.compile(r"\s*EXTRACT\(\s*([A-Za-z_@][^\s(),]*)\s*\)\s*")
_REGEXP_EXTRACT = re.compile(
    r'\s*REGEXP_EXTRACT\(\s*([A-Za-z_@][^\s(),]*)\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)\s*'
)
METRIC_KINDS = frozenset({"DELTA", "GAUGE", "CUMULATIVE"})
VALUE_TYPES = frozenset({"BOOL", "INT64", "DOUBLE", "STRING", "DISTRIBUTION", "MONEY"})
LABEL_VALUE_TYPES = frozenset({"STRING", "BOOL", "INT64"})
# What LogMetric.metric_descriptor is "if unspecified": a DELTA INT64 count with unit "1".
DEFAULT_METRIC_DESCRIPTOR: JSON = {"metricKind": "DELTA", "valueType": "INT64", "unit": "1"}


def check_log_metric(metric: Any, *, current: JSON | None = None) -> None:
    """LogMetric's documented rules; ``current`` is the stored metric when this is an update."""
    if not isinstance(metric, dict):
        raise invalid("metric", "metric must be an object")
    name = string(metric.get("name", ""), "metric.name")
    if not _METRIC_NAME.fullmatch(name) or name.startswith("/"):
        raise invalid(
            "metric.name",
            f"Invalid metric name {name!r}: at most 100 of A-Z, a-z, 0-9 and _-.,+!*',()%/, "
            "not starting with /",
        )
    filter_text = string(metric.get("filter", ""), "metric.filter")
    if not filter_text or len(filter_text) > MAX_METRIC_FILTER:
        raise invalid("metric.filter", "filter is required, at most 20000 characters")
    if len(string(metric.get("description", ""), "metric.description")) > MAX_METRIC_DESCRIPTION:
        raise invalid("metric.description", "description is at most 8000 characters")
    descriptor = metric.get("metricDescriptor") or {}
    if not isinstance(descriptor, dict):
        raise invalid("metric.metric_descriptor", "metric_descriptor must be an object")
    kind = descriptor.get("metricKind", DEFAULT_METRIC_DESCRIPTOR["metricKind"])
    value_type = descriptor.get("valueType", DEFAULT_METRIC_DESCRIPTOR["valueType"])
    if kind not in METRIC_KINDS:
        raise invalid("metric.metric_descriptor.metric_kind", f"Invalid metric_kind {kind!r}")
    if value_type not in VALUE_TYPES:
        raise invalid("metric.metric_descriptor.value_type", f"Invalid value_type {value_type!r}")
    if "valueExtractor" in metric:
        _check_extractor(metric["valueExtractor"], "metric.value_extractor")
    if value_type == "DISTRIBUTION":
        _check_distribution(metric, kind)
    if "bucketOptions" in metric:
        _check_bucket_options(metric["bucketOptions"])
    _check_metric_labels(descriptor, metric.get("labelExtractors") or {})
    if current is not None:
        _check_metric_update(current.get("metricDescriptor") or {}, descriptor)


def _check_distribution(metric: JSON, kind: str) -> None:
    if kind != "DELTA":
        raise invalid(
            "metric.metric_descriptor.metric_kind",
            "A distribution logs-based metric must have a DELTA metric kind",
        )
    if not metric.get("valueExtractor"):
        raise invalid(
            "metric.value_extractor",
            "A value_extractor is required when using a distribution logs-based metric",
        )
    if not metric.get("bucketOptions"):
        raise invalid(
            "metric.bucket_options",
            "bucket_options are required when the logs-based metric is using a DISTRIBUTION "
            "value type",
        )


def _check_extractor(expression: Any, field: str) -> None:
    text = string(expression, field)
    if _EXTRACT.fullmatch(text):
        return
    match = _REGEXP_EXTRACT.fullmatch(text)
    if match is None:
        raise invalid(
            field,
            f"Invalid extractor {text!r}: use EXTRACT(field) or REGEXP_EXTRACT(field, regex)",
        )
    try:  # Python's re stands in for RE2 here: only the count of groups is checked
        groups = re.compile(match.group(2).encode().decode("unicode_escape")).groups
    except re.error:
        return
    if groups != 1:
        raise invalid(
            field, f"Invalid extractor {text!r}: the regex must have exactly one capture group"
        )


def _check_bucket_options(options: Any) -> None:
    field = "metric.bucket_options"
    if not isinstance(options, dict):
        raise invalid(field, "bucket_options must be an object")
    kinds = [k for k in ("linearBuckets", "exponentialBuckets", "explicitBuckets") if k in options]
    if len(kinds) != 1:
        raise invalid(field, "bucket_options takes exactly one of linear, exponential, explicit")
    body = options[kinds[0]]
    if not isinstance(body, dict):
        raise invalid(f"{field}.{kinds[0]}", "must be an object")
    if kinds[0] == "explicitBuckets":
        bounds = body.get("bounds") or []
        if not isinstance(bounds, list) or not bounds:
            raise invalid(f"{field}.explicit_buckets.bounds", "bounds needs at least one element")
        numbers = [_number(b, f"{field}.explicit_buckets.bounds") for b in bounds]
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            raise invalid(
                f"{field}.explicit_buckets.bounds", "bounds must be monotonically increasing"
            )
        return
    prefix = f"{field}.{'linear' if kinds[0] == 'linearBuckets' else 'exponential'}_buckets"
    if integer(body.get("numFiniteBuckets", 0), f"{prefix}.num_finite_buckets") <= 0:
        raise invalid(f"{prefix}.num_finite_buckets", "num_finite_buckets must be greater than 0")
    if kinds[0] == "linearBuckets":
        if _number(body.get("width", 0), f"{prefix}.width") <= 0:
            raise invalid(f"{prefix}.width", "width must be greater than 0")
        _number(body.get("offset", 0), f"{prefix}.offset")
        return
    if _number(body.get("growthFactor", 0), f"{prefix}.growth_factor") <= 1:
        raise invalid(f"{prefix}.growth_factor", "growth_factor must be greater than 1")
    if _number(body.get("scale", 0), f"{prefix}.scale") <= 0:
        raise invalid(f"{prefix}.scale", "scale must be greater than 0")


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid(field, f"Invalid value at '{field}': expected a number")
    try:
        return float(value)
    except ValueError:
        raise invalid(field, f"Invalid value at '{field}' ({value!r}): not a number") from None


def _check_metric_labels(descriptor: JSON, extractors: Any) -> None:
    if not isinstance(extractors, dict):
        raise invalid("metric.label_extractors", "label_extractors must be a map of strings")
    for key, expression in extractors.items():
        _check_extractor(expression, f"metric.label_extractors[{key!r}]")
    labels = descriptor.get("labels") or []
    if not isinstance(labels, list):
        raise invalid("metric.metric_descriptor.labels", "labels must be a list")
    for i, label in enumerate(labels):
        field = f"metric.metric_descriptor.labels[{i}]"
        if not isinstance(label, dict) or not label.get("key"):
            raise invalid(field, "a label needs a key")
        if label.get("valueType", "STRING") not in LABEL_VALUE_TYPES:
            raise invalid(f"{field}.value_type", f"Invalid value_type {label['valueType']!r}")
        if label["key"] not in extractors:
            raise invalid(
                "metric.label_extractors",
                f"Label {label['key']!r} of the metric descriptor has no extractor expression "
                "in label_extractors",
            )


def _check_metric_update(before: JSON, after: JSON) -> None:
    field = "metric.metric_descriptor"
    for key, name in (("metricKind", "metric_kind"), ("valueType", "value_type")):
        old = before.get(key, DEFAULT_METRIC_DESCRIPTOR[key])
        new = after.get(key, DEFAULT_METRIC_DESCRIPTOR[key])
        if old != new:
            raise invalid(
                f"{field}.{name}",
                f"The {name} of a logs-based metric cannot be updated ({old} to {new})",
            )
    new_labels = {label.get("key"): label for label in after.get("labels") or []}
    for label in before.get("labels") or []:
        changed = new_labels.get(label.get("key"))
        if changed is not None and changed.get("valueType", "STRING") != label.get(
            "valueType", "STRING"
        ):
            raise invalid(
                f"{field}.labels",
                f"Label {label.get('key')!r} exists: existing labels cannot be modified except "
                "for their description",
            )


class LoggingMetricsApi(Routes):
    """Log-based metrics, and when Cloud Monitoring knows each."""

    log_metrics: dict[str, JSON]
    metric_unknown_writes: int
    _metric_unknown_left: dict[str, int]

    def _add_logging_routes(self) -> None:
        route = self._route

        # --- Cloud Logging: log-based metrics
        @route("GET", "logging", "/v2/projects/{project}/metrics/{metric}")
        def get_metric(c: Call) -> JSON:
            return self._metric(c.params["project"], c.params["metric"])

        @route("POST", "logging", "/v2/projects/{project}/metrics")
        def create_metric(c: Call) -> JSON:
            check_log_metric(c.body)
            key = f"projects/{c.params['project']}/metrics/{c.body['name']}"
            if key in self.log_metrics:
                raise ApiError(409, f"Metric {c.body['name']} already exists")
            metric = {**copy.deepcopy(c.body), "createTime": now()}
            metric["metricDescriptor"] = self._metric_descriptor(
                c.params["project"], c.body["name"], c.body.get("metricDescriptor")
            )
            self.log_metrics[key] = metric
            self._metric_unknown_left[key] = self.metric_unknown_writes
            return metric

        @route("PUT", "logging", "/v2/projects/{project}/metrics/{metric}")
        def update_metric(c: Call) -> JSON:
            current = self._metric(c.params["project"], c.params["metric"])
            metric = {**copy.deepcopy(c.body), "name": c.params["metric"]}
            check_log_metric(metric, current=current)
            metric["createTime"] = current.get("createTime", now())
            metric["metricDescriptor"] = self._metric_descriptor(
                c.params["project"], c.params["metric"], metric.get("metricDescriptor")
            )
            key = f"projects/{c.params['project']}/metrics/{c.params['metric']}"
            self.log_metrics[key] = metric
            return metric

        @route("DELETE", "logging", "/v2/projects/{project}/metrics/{metric}")
        def delete_metric(c: Call) -> JSON:
            self._metric(c.params["project"], c.params["metric"])
            key = f"projects/{c.params['project']}/metrics/{c.params['metric']}"
            del self.log_metrics[key]
            self._metric_unknown_left.pop(key, None)
            return {}

    def _metric(self, project: str, metric: str) -> JSON:
        key = f"projects/{project}/metrics/{metric}"
        if key not in self.log_metrics:
            raise not_found(f"Metric {metric}")
        return self.log_metrics[key]

    @staticmethod
    def _metric_descriptor(project: str, metric: str, sent: Any) -> JSON:
        """The descriptor Cloud Logging keeps: the default one unless sent, with its type."""
        descriptor = copy.deepcopy(sent) if isinstance(sent, dict) and sent else {}
        for key, value in DEFAULT_METRIC_DESCRIPTOR.items():
            if key != "unit" or not sent:
                descriptor.setdefault(key, value)
        metric_type = f"{LOG_METRIC_TYPE}{metric}"
        descriptor.update(
            name=f"projects/{project}/metricDescriptors/{metric_type}", type=metric_type
        )
        return descriptor

    def _metric_seen(self, project: str, metric: str) -> bool:
        """Whether Cloud Monitoring knows the log-based metric yet: it exists, and has been
        refused ``metric_unknown_writes`` times since it was created (each call counts one)."""
        key = f"projects/{project}/metrics/{metric}"
        if key not in self.log_metrics:
            return False
        if self._metric_unknown_left.get(key, 0) > 0:
            self._metric_unknown_left[key] -= 1
            return False
        return True
