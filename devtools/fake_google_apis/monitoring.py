"""The fake Cloud Monitoring: alert policies (``/monitoring/v3/projects/P/alertPolicies``) and
dashboards (``/monitoring/v1/projects/P/dashboards``).

An alert condition may name a log-based metric of the fake Cloud Logging (:mod:`.logging_metrics`),
which Monitoring knows only some time after it is created. Alert policy user labels follow the
label rules of :mod:`.rules`. The sources are named as in the package docstring.

| rule | source | test |
|---|---|---|
| alert policy: no name on create; display name at most 512 characters and not unique; 1 to 6 conditions; channels projects/[PROJECT_ID_OR_NUMBER]/notificationChannels/[CHANNEL_ID]; severity CRITICAL, ERROR, WARNING or unspecified; user labels the label rules (create and update) | google/monitoring/v3/alert.proto AlertPolicy.name, display_name, conditions, notification_channels, severity, user_labels | test_alert_policy_rules |
| alert condition: exactly one condition type; no condition name on create; Cloud Monitoring names each condition | alert.proto AlertPolicy.Condition (oneof condition), Condition.name | test_metric_condition_rules, test_updated_policies_obey_the_condition_rules_and_conditions_get_names |
| threshold and absence filters: required, at most 2048 characters, naming the metric type and the resource type | alert.proto MetricThreshold.filter, MetricAbsence.filter | test_metric_condition_rules |
| threshold: duration a multiple of a minute; comparison COMPARISON_LT or COMPARISON_GT ("only ... are supported currently") | alert.proto MetricThreshold.duration, comparison | test_metric_condition_rules |
| absence duration: at least 120 s, a multiple of a minute, at most 23.5 hours (84,600 s) | alert.proto MetricAbsence.duration; "Create metric-absence alerting policies" (trigger absence time "up to a maximum of 23.5 hours") | test_absence_duration_allowed, test_absence_duration_refused |
| aggregations: a cross-series reducer needs a per-series aligner other than ALIGN_NONE; such an aligner needs an alignment period of 60 s to 90,000 s (25 h, the alerting limit) | google/monitoring/v3/common.proto Aggregation.alignment_period, cross_series_reducer, per_series_aligner | test_aggregations_refused, test_aggregations_allowed |
| a condition on a log-based metric Cloud Monitoring doesn't know (yet): 404 "Cannot find metric(s) that match type = ...", a new metric taking "up to 10 minutes" | seen in public reports: hashicorp/terraform-provider-google#11102, GoogleCloudPlatform/cloud-foundation-fabric#3739 | test_a_condition_on_a_log_based_metric_monitoring_does_not_know_is_not_found; deploy.sh waits: test_a_new_metric_unknown_to_monitoring_is_waited_for |
| dashboard: display name required; no etag on create; name projects/PROJECT/dashboards/ID, its project the parent's (id or number); one layout | dashboard.proto Dashboard.display_name, etag, name, oneof layout; CreateDashboardRequest.parent ("must match the dashboard resource name") | test_dashboard_rules, test_dashboard_edges_allowed |
| mosaic layout: 1 to 48 columns; tiles at least 1 wide and high, x_pos and y_pos not negative, inside the columns | layouts.proto MosaicLayout.columns, MosaicLayout.Tile | test_dashboard_rules, test_dashboard_edges_allowed |
| widgets: one content (oneof content); ids of letters, digits, - and _; an XY chart has data sets, each a time series query, a time series filter its filter; an alert chart names projects/[PROJECT_ID_OR_NUMBER]/alertPolicies/[ALERT_POLICY_ID] | widget.proto Widget; xychart.proto XyChart.data_sets, DataSet.time_series_query; metrics.proto TimeSeriesFilter.filter; alertchart.proto AlertChart.name | test_dashboard_rules |
| dashboards: create (ALREADY_EXISTS for a taken name), get, list, patch (replaces the dashboard; an etag sent must be the current one), delete; validate_only stores nothing | dashboard.proto Dashboard.etag; dashboards_service.proto (CreateDashboardRequest.validate_only) | test_dashboard_create_get_list_patch_delete, test_dashboard_validate_only_stores_nothing |
| unknown: the filter grammar beyond naming a metric type and a resource type; which aligners and reducers suit which metric kinds and value types (the enum docs say, for example, that ALIGN_PERCENTILE_05 takes distributions and ALIGN_MEAN numbers; not checked); whether a notification channel must exist or sit in the same project (only its form is checked) | | |
| unknown: the absence limit past 23.5 h: one reading of a newer metric-absence page gives 24 h in the console and 24.5 h through the API; the stored copies say 23.5 h, which the fake enforces (the stricter) | | |
| unknown: how long a new log-based metric stays unknown to Cloud Monitoring ("up to 10 minutes"); the fake refuses ``metric_unknown_writes`` policy writes on each new metric (0 unless a test sets it) | | |
| unknown: whether the services answer lists (descriptor labels, conditions, tiles) in the order sent; the fake does, and deploy.sh compares in order | | |
| unknown: what Cloud Monitoring answers a dashboard update with a stale etag (the fake: 409 ABORTED, as for IAM policies); the rules of a dashboard id, and whether a deleted dashboard's id can be used again at once (the fake: any path segment, reusable) | | |
"""  # noqa: E501 - the rule table keeps one row per line

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from typing import Any

from .common import JSON, PROJECT_NUMBER, ApiError, Call, apply_mask, not_found
from .logging_metrics import LOG_METRIC_TYPE, LoggingMetricsApi
from .rules import check_labels, duration, integer, invalid, string

# Cloud Monitoring: google/monitoring/v3/alert.proto AlertPolicy.
MAX_POLICY_DISPLAY_NAME = 512
MAX_POLICY_CONDITIONS = 6
_CHANNEL = re.compile(r"projects/[^/\s]+/notificationChannels/[^/\s]+")
POLICY_SEVERITIES = frozenset({"SEVERITY_UNSPECIFIED", "CRITICAL", "ERROR", "WARNING"})
# AlertPolicy.Condition: "oneof condition".
CONDITION_TYPES = (
    "conditionThreshold",
    "conditionAbsent",
    "conditionMatchedLog",
    "conditionMonitoringQueryLanguage",
    "conditionPrometheusQueryLanguage",
    "conditionSql",
)
MAX_CONDITION_FILTER = 2048
# MetricAbsence.duration: at least 120 s and a multiple of a minute (alert.proto); at most
# 23.5 hours ("Create metric-absence alerting policies": the trigger absence time).
MIN_ABSENCE_S, MAX_ABSENCE_S = 120, 84_600
# Aggregation.alignment_period: at least 60 s; at most 90,000 s (25 h) for alerting policies.
MIN_ALIGNMENT_S, MAX_ALERT_ALIGNMENT_S = 60, 90_000
THRESHOLD_COMPARISONS = frozenset({"COMPARISON_GT", "COMPARISON_LT"})
_METRIC_TYPE = re.compile(r'\bmetric\.type\s*=\s*"([^"]+)"')
_HAS_METRIC_TYPE = re.compile(r"\bmetric\.type\s*=")
_HAS_RESOURCE_TYPE = re.compile(r"\bresource\.type\s*=")


def check_alert_policy(
    policy: Any, *, creating: bool, metric_exists: Callable[[str], bool] | None = None
) -> None:
    """AlertPolicy's documented rules. ``metric_exists(metric_id)`` says whether a log-based
    metric exists; a condition on one that doesn't is refused, as Cloud Monitoring does."""
    if not isinstance(policy, dict):
        raise invalid("alert_policy", "alert_policy must be an object")
    if creating and "name" in policy:
        raise invalid(
            "alert_policy.name",
            "When calling the alertPolicies.create method, do not include the name field",
        )
    display_name = string(policy.get("displayName", ""), "alert_policy.display_name")
    if len(display_name) > MAX_POLICY_DISPLAY_NAME:
        raise invalid("alert_policy.display_name", "display_name is limited to 512 characters")
    conditions = policy.get("conditions") or []
    if not isinstance(conditions, list) or not 1 <= len(conditions) <= MAX_POLICY_CONDITIONS:
        raise invalid("alert_policy.conditions", "A policy can have from one to six conditions")
    for i, condition in enumerate(conditions):
        _check_condition(condition, f"alert_policy.conditions[{i}]", creating, metric_exists)
    channels = policy.get("notificationChannels") or []
    if not isinstance(channels, list):
        raise invalid("alert_policy.notification_channels", "notification_channels is a list")
    for i, channel in enumerate(channels):
        field = f"alert_policy.notification_channels[{i}]"
        if not _CHANNEL.fullmatch(string(channel, field)):
            raise invalid(
                field,
                f"Invalid notification channel {channel!r}: the format is "
                "projects/[PROJECT_ID_OR_NUMBER]/notificationChannels/[CHANNEL_ID]",
            )
    if policy.get("severity", "SEVERITY_UNSPECIFIED") not in POLICY_SEVERITIES:
        raise invalid("alert_policy.severity", f"Invalid severity {policy.get('severity')!r}")
    if "userLabels" in policy:
        check_labels(policy["userLabels"], "alert_policy.user_labels")


def _check_condition(
    condition: Any, field: str, creating: bool, metric_exists: Callable[[str], bool] | None
) -> None:
    if not isinstance(condition, dict):
        raise invalid(field, "a condition must be an object")
    kinds = [kind for kind in CONDITION_TYPES if kind in condition]
    if len(kinds) != 1:
        raise invalid(
            field,
            'Condition subtype (e.g. "condition_absent", "condition_threshold", etc.) is '
            "absent or unknown, or more than one is set",
        )
    if creating and "name" in condition:
        raise invalid(
            f"{field}.name",
            "When calling the alertPolicies.create method, do not include the name field in "
            "the conditions",
        )
    kind = kinds[0]
    if kind in {"conditionThreshold", "conditionAbsent"}:
        _check_metric_condition(kind, condition[kind], field, metric_exists)


def _check_metric_condition(
    kind: str, body: Any, field: str, metric_exists: Callable[[str], bool] | None
) -> None:
    snake = "condition_threshold" if kind == "conditionThreshold" else "condition_absent"
    where = f"{field}.{snake}"
    if not isinstance(body, dict):
        raise invalid(where, f"{snake} must be an object")
    filter_text = string(body.get("filter", ""), f"{where}.filter")
    if not filter_text or len(filter_text) > MAX_CONDITION_FILTER:
        raise invalid(f"{where}.filter", "filter is required and must not exceed 2048 characters")
    if not (_HAS_METRIC_TYPE.search(filter_text) and _HAS_RESOURCE_TYPE.search(filter_text)):
        raise invalid(
            f"{where}.filter", "The filter must specify the metric type and the resource type"
        )
    _check_aggregations(body.get("aggregations") or [], where)
    seconds = duration(body.get("duration", "0s"), f"{where}.duration")
    if seconds % 60:
        raise invalid(f"{where}.duration", "duration must be a multiple of a minute")
    if kind == "conditionAbsent" and not MIN_ABSENCE_S <= seconds <= MAX_ABSENCE_S:
        raise invalid(
            f"{where}.duration",
            f"The duration of a metric-absence condition is at least {MIN_ABSENCE_S}s and at "
            f"most 23.5 hours ({MAX_ABSENCE_S}s); {seconds:g}s is not allowed",
        )
    comparison = body.get("comparison", "COMPARISON_GT")
    if kind == "conditionThreshold" and comparison not in THRESHOLD_COMPARISONS:
        raise invalid(
            f"{where}.comparison",
            f"Invalid comparison {comparison!r}: only COMPARISON_LT and COMPARISON_GT are "
            "supported",
        )
    literal = _METRIC_TYPE.search(filter_text)
    metric = literal.group(1) if literal else ""
    if (
        metric_exists is not None
        and metric.startswith(LOG_METRIC_TYPE)
        and not metric_exists(metric.removeprefix(LOG_METRIC_TYPE))
    ):
        raise ApiError(
            404,
            f'Cannot find metric(s) that match type = "{metric}". If a metric was created '
            "recently, it could take up to 10 minutes to become available. Please try again "
            "soon.",
        )


def _check_aggregations(aggregations: Any, field: str) -> None:
    if not isinstance(aggregations, list):
        raise invalid(f"{field}.aggregations", "aggregations must be a list")
    for j, aggregation in enumerate(aggregations):
        where = f"{field}.aggregations[{j}]"
        if not isinstance(aggregation, dict):
            raise invalid(where, "an aggregation must be an object")
        aligner = aggregation.get("perSeriesAligner", "ALIGN_NONE")
        reducer = aggregation.get("crossSeriesReducer", "REDUCE_NONE")
        if reducer != "REDUCE_NONE" and aligner == "ALIGN_NONE":
            raise invalid(
                f"{where}.per_series_aligner",
                "If cross_series_reducer is specified, then per_series_aligner must be "
                "specified, and must not be ALIGN_NONE",
            )
        if aligner == "ALIGN_NONE":
            continue
        if "alignmentPeriod" not in aggregation:
            raise invalid(
                f"{where}.alignment_period",
                "alignment_period is required with a per-series aligner other than ALIGN_NONE",
            )
        period = duration(aggregation["alignmentPeriod"], f"{where}.alignment_period")
        if not MIN_ALIGNMENT_S <= period <= MAX_ALERT_ALIGNMENT_S:
            raise invalid(
                f"{where}.alignment_period",
                "alignment_period must be at least 60 seconds, and at most 90,000 seconds "
                "(25 hours) for alerting policies",
            )


# Cloud Monitoring dashboards (v1): Dashboard, MosaicLayout, Tile, Widget, XyChart, DataSet,
# TimeSeriesFilter and AlertChart, as documented in google/monitoring/dashboard/v1/*.proto
# (the gcloud SDK's monitoring_v1_messages.py carries the same comments).
DASHBOARD_LAYOUTS = ("gridLayout", "mosaicLayout", "rowLayout", "columnLayout")
WIDGET_CONTENTS = (
    "xyChart",
    "scorecard",
    "text",
    "blank",
    "alertChart",
    "timeSeriesTable",
    "collapsibleGroup",
    "logsPanel",
    "incidentList",
    "pieChart",
    "errorReportingPanel",
    "sectionHeader",
    "singleViewGroup",
)
MIN_MOSAIC_COLUMNS, MAX_MOSAIC_COLUMNS = 1, 48
_WIDGET_ID = re.compile(r"[A-Za-z0-9_-]+")
_ALERT_POLICY_NAME = re.compile(r"projects/[^/\s]+/alertPolicies/[^/\s]+")
_DASHBOARD_NAME = re.compile(r"projects/(?P<project>[^/\s]+)/dashboards/(?P<id>[^/\s]+)")


def check_dashboard(dashboard: Any, *, project: str, creating: bool) -> None:
    if not isinstance(dashboard, dict):
        raise invalid("dashboard", "dashboard must be an object")
    if not string(dashboard.get("displayName", ""), "dashboard.display_name"):
        raise invalid("dashboard.display_name", "display_name is required")
    if creating and "etag" in dashboard:
        raise invalid("dashboard.etag", "etag should not be passed during dashboard creation")
    if "name" in dashboard:
        match = _DASHBOARD_NAME.fullmatch(string(dashboard["name"], "dashboard.name"))
        if match is None or match["project"] not in {project, PROJECT_NUMBER}:
            raise invalid(
                "dashboard.name",
                f"Invalid dashboard name {dashboard['name']!r}: projects/{project}/dashboards/ID "
                "(the project must match the parent)",
            )
    layouts = [layout for layout in DASHBOARD_LAYOUTS if layout in dashboard]
    if len(layouts) > 1:
        raise invalid("dashboard.layout", "A dashboard has one layout (oneof layout)")
    if "mosaicLayout" in dashboard:
        _check_mosaic(dashboard["mosaicLayout"])
    for layout in ("gridLayout",):
        for i, widget in enumerate((dashboard.get(layout) or {}).get("widgets") or []):
            _check_widget(widget, f"dashboard.grid_layout.widgets[{i}]")


def _check_mosaic(mosaic: Any) -> None:
    field = "dashboard.mosaic_layout"
    if not isinstance(mosaic, dict):
        raise invalid(field, "mosaic_layout must be an object")
    columns = None
    if "columns" in mosaic:
        columns = integer(mosaic["columns"], f"{field}.columns")
        if not MIN_MOSAIC_COLUMNS <= columns <= MAX_MOSAIC_COLUMNS:
            raise invalid(
                f"{field}.columns", "The number of columns must be between 1 and 48, inclusive"
            )
    for i, tile in enumerate(mosaic.get("tiles") or []):
        where = f"{field}.tiles[{i}]"
        if not isinstance(tile, dict):
            raise invalid(where, "a tile must be an object")
        width = integer(tile.get("width", 0), f"{where}.width")
        height = integer(tile.get("height", 0), f"{where}.height")
        x_pos = integer(tile.get("xPos", 0), f"{where}.x_pos")
        y_pos = integer(tile.get("yPos", 0), f"{where}.y_pos")
        if width < 1 or height < 1:
            raise invalid(where, "Tiles must have a minimum width and height of 1")
        if x_pos < 0 or y_pos < 0:
            raise invalid(where, "x_pos and y_pos cannot be negative")
        if columns is not None and x_pos + width > columns:
            raise invalid(
                where, f"Tiles must be contained within the {columns} columns of the grid"
            )
        if "widget" in tile:
            _check_widget(tile["widget"], f"{where}.widget")


def _check_widget(widget: Any, field: str) -> None:
    if not isinstance(widget, dict):
        raise invalid(field, "a widget must be an object")
    contents = [content for content in WIDGET_CONTENTS if content in widget]
    if len(contents) > 1:
        raise invalid(field, "A widget has one content (oneof content): " + ", ".join(contents))
    if "id" in widget and not _WIDGET_ID.fullmatch(string(widget["id"], f"{field}.id")):
        raise invalid(f"{field}.id", "Widget ids may be made up of alphanumerics, - and _")
    if "xyChart" in widget:
        data_sets = (widget["xyChart"] or {}).get("dataSets") or []
        if not data_sets:
            raise invalid(f"{field}.xy_chart.data_sets", "data_sets is required")
        for j, data_set in enumerate(data_sets):
            where = f"{field}.xy_chart.data_sets[{j}]"
            query = data_set.get("timeSeriesQuery") if isinstance(data_set, dict) else None
            if not isinstance(query, dict) or not query:
                raise invalid(f"{where}.time_series_query", "time_series_query is required")
            if "timeSeriesFilter" in query:
                time_filter = query["timeSeriesFilter"] or {}
                if not string(time_filter.get("filter", ""), f"{where}.filter"):
                    raise invalid(
                        f"{where}.time_series_query.time_series_filter.filter",
                        "filter is required",
                    )
    if "alertChart" in widget:
        name = string((widget["alertChart"] or {}).get("name", ""), f"{field}.alert_chart.name")
        if not _ALERT_POLICY_NAME.fullmatch(name):
            raise invalid(
                f"{field}.alert_chart.name",
                f"Invalid alert policy name {name!r}: the format is "
                "projects/[PROJECT_ID_OR_NUMBER]/alertPolicies/[ALERT_POLICY_ID]",
            )


class MonitoringApi(LoggingMetricsApi):
    """Alert policies and dashboards; a log-based metric's condition asks the logging API."""

    alert_policies: dict[str, JSON]
    dashboards: dict[str, JSON]

    def _add_monitoring_routes(self) -> None:
        self._add_alert_policy_routes()
        self._add_dashboard_routes()

    def _add_alert_policy_routes(self) -> None:
        route = self._route

        # --- Cloud Monitoring: alert policies
        @route("GET", "monitoring", "/v3/projects/{project}/alertPolicies")
        def list_alert_policies(c: Call) -> JSON:
            prefix = f"projects/{c.params['project']}/alertPolicies/"
            found = [p for k, p in sorted(self.alert_policies.items()) if k.startswith(prefix)]
            return {"alertPolicies": found, "totalSize": len(found)} if found else {}

        @route("GET", "monitoring", "/v3/projects/{project}/alertPolicies/{policy}")
        def get_alert_policy(c: Call) -> JSON:
            return self._alert_policy(c.params["project"], c.params["policy"])

        @route("POST", "monitoring", "/v3/projects/{project}/alertPolicies")
        def create_alert_policy(c: Call) -> JSON:
            project = c.params["project"]
            check_alert_policy(
                c.body, creating=True, metric_exists=functools.partial(self._metric_seen, project)
            )
            name = f"projects/{project}/alertPolicies/{next(self._ids)}"
            policy = {**copy.deepcopy(c.body), "name": name}
            policy.setdefault("enabled", True)
            self._name_conditions(policy)
            self.alert_policies[name] = policy
            return policy

        @route("PATCH", "monitoring", "/v3/projects/{project}/alertPolicies/{policy}")
        def update_alert_policy(c: Call) -> JSON:
            project = c.params["project"]
            policy = copy.deepcopy(self._alert_policy(project, c.params["policy"]))
            mask = c.q("updateMask")
            if mask:
                apply_mask(policy, c.body, mask)
            else:  # no mask: the policy is replaced by the one sent
                policy = {**copy.deepcopy(c.body), "name": policy["name"]}
            check_alert_policy(
                policy, creating=False, metric_exists=functools.partial(self._metric_seen, project)
            )
            self._name_conditions(policy)
            self.alert_policies[policy["name"]] = policy
            return policy

        @route("DELETE", "monitoring", "/v3/projects/{project}/alertPolicies/{policy}")
        def delete_alert_policy(c: Call) -> JSON:
            name = self._alert_policy(c.params["project"], c.params["policy"])["name"]
            del self.alert_policies[name]
            return {}

    def _add_dashboard_routes(self) -> None:
        route = self._route

        # --- Cloud Monitoring: dashboards (v1)
        @route("GET", "monitoring", "/v1/projects/{project}/dashboards")
        def list_dashboards(c: Call) -> JSON:
            prefix = f"projects/{c.params['project']}/dashboards/"
            found = [d for k, d in sorted(self.dashboards.items()) if k.startswith(prefix)]
            return {"dashboards": found} if found else {}

        @route("GET", "monitoring", "/v1/projects/{project}/dashboards/{dashboard}")
        def get_dashboard(c: Call) -> JSON:
            return self._dashboard(c.params["project"], c.params["dashboard"])

        @route("POST", "monitoring", "/v1/projects/{project}/dashboards")
        def create_dashboard(c: Call) -> JSON:
            project = c.params["project"]
            check_dashboard(c.body, project=project, creating=True)
            dashboard: JSON = copy.deepcopy(c.body)
            dashboard_id = (
                dashboard["name"].rsplit("/", 1)[-1]
                if "name" in dashboard
                else str(next(self._ids))
            )
            name = f"projects/{project}/dashboards/{dashboard_id}"
            if name in self.dashboards:
                raise ApiError(409, f"Dashboard {name} already exists")
            dashboard.update(name=name, etag=self._etag())
            if c.q("validateOnly") != "true":
                self.dashboards[name] = dashboard
            return dashboard

        @route("PATCH", "monitoring", "/v1/projects/{project}/dashboards/{dashboard}")
        def update_dashboard(c: Call) -> JSON:
            project = c.params["project"]
            current = self._dashboard(project, c.params["dashboard"])
            check_dashboard(c.body, project=project, creating=False)
            sent = c.body.get("etag")
            if sent and sent != current["etag"]:
                raise ApiError(409, "etag mismatch: the dashboard changed concurrently", "ABORTED")
            dashboard = {**copy.deepcopy(c.body), "name": current["name"], "etag": self._etag()}
            if c.q("validateOnly") != "true":
                self.dashboards[current["name"]] = dashboard
            return dashboard

        @route("DELETE", "monitoring", "/v1/projects/{project}/dashboards/{dashboard}")
        def delete_dashboard(c: Call) -> JSON:
            name = self._dashboard(c.params["project"], c.params["dashboard"])["name"]
            del self.dashboards[name]
            return {}

    def _name_conditions(self, policy: JSON) -> None:
        """Cloud Monitoring names each condition; one sent without a name is a new one."""
        for condition in policy.get("conditions") or []:
            if isinstance(condition, dict) and "name" not in condition:
                condition["name"] = f"{policy['name']}/conditions/{next(self._ids)}"

    def _etag(self) -> str:
        return f"{next(self._ids):032x}"

    def _dashboard(self, project: str, dashboard: str) -> JSON:
        name = f"projects/{project}/dashboards/{dashboard}"
        if name not in self.dashboards:
            raise not_found(f"Dashboard {name}")
        return self.dashboards[name]

    def _alert_policy(self, project: str, policy: str) -> JSON:
        name = f"projects/{project}/alertPolicies/{policy}"
        if name not in self.alert_policies:
            raise not_found(f"Alert policy {name}")
        return self.alert_policies[name]
