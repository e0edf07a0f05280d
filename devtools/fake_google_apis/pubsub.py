"""The fake Pub/Sub: topics and their IAM policies (``/pubsub/v1/projects/P/topics/T``).

A topic name's rule is also what Secret Manager checks a secret's rotation topics against, and
Cloud Functions an event trigger's topic. Topic IAM policy bindings follow the policy rules of
:mod:`.rules`. The sources are named as in the package docstring.

| rule | source | test |
|---|---|---|
| Pub/Sub topic name: projects/P/topics/T, T starting with a letter, 3-255 letters, digits, ``-_.~+%``, not starting with "goog" | google/pubsub/v1/pubsub.proto Topic.name | test_topic_name_allowed, test_topic_name_refused |
| topic and project IAM policies: the policy member and role rules (rules.py) | policy.proto Binding.members, Binding.role | test_topic_and_project_policies_follow_the_policy_rules |
| unknown: which labels.* a Pub/Sub topic accepts beyond the label rules; deploy.sh sends none | | |
"""  # noqa: E501 - the rule table keeps one row per line

from __future__ import annotations

import copy
import re
from typing import Any

from .common import JSON, ApiError, Call, IamPolicy, Routes, not_found
from .rules import check_labels, check_policy, invalid, string

# Pub/Sub: google/pubsub/v1/pubsub.proto Topic.name.
_TOPIC_NAME = re.compile(r"projects/(?P<project>[^/\s]+)/topics/(?P<topic>[^/\s]+)")
_TOPIC_ID = re.compile(r"[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}")


def check_topic_name(name: Any, field: str = "name") -> None:
    text = string(name, field)
    match = _TOPIC_NAME.fullmatch(text)
    topic = match["topic"] if match else ""
    if not _TOPIC_ID.fullmatch(topic) or topic.lower().startswith("goog"):
        raise invalid(
            field,
            f"Invalid topic name {text!r}: projects/PROJECT/topics/TOPIC, TOPIC starting with a "
            "letter, 3-255 letters, numbers, dashes, periods, underscores, tildes, plus or "
            'percent signs, and not starting with "goog"',
        )


class PubSubApi(Routes):
    """Topics and their IAM policies."""

    topics: dict[str, JSON]
    topic_policies: dict[str, IamPolicy]

    def _add_pubsub_routes(self) -> None:
        route = self._route

        # --- Pub/Sub
        @route("GET", "pubsub", "/v1/projects/{project}/topics/{topic}")
        def get_topic(c: Call) -> JSON:
            return self._topic(c.params["project"], c.params["topic"])

        @route("PUT", "pubsub", "/v1/projects/{project}/topics/{topic}")
        def create_topic(c: Call) -> JSON:
            name = f"projects/{c.params['project']}/topics/{c.params['topic']}"
            check_topic_name(name)
            if name in self.topics:
                raise ApiError(409, "Resource already exists in the project (resource=topic).")
            if "labels" in (c.body or {}):
                check_labels(c.body["labels"])
            self.topics[name] = {**copy.deepcopy(c.body or {}), "name": name}
            self.topic_policies[name] = IamPolicy()
            return self.topics[name]

        @route("DELETE", "pubsub", "/v1/projects/{project}/topics/{topic}")
        def delete_topic(c: Call) -> JSON:
            name = self._topic(c.params["project"], c.params["topic"])["name"]
            del self.topics[name]
            del self.topic_policies[name]
            return {}

        @route("GET", "pubsub", "/v1/projects/{project}/topics/{topic}:getIamPolicy")
        def get_topic_policy(c: Call) -> JSON:
            name = self._topic(c.params["project"], c.params["topic"])["name"]
            return self.topic_policies[name].as_json()

        @route("POST", "pubsub", "/v1/projects/{project}/topics/{topic}:setIamPolicy")
        def set_topic_policy(c: Call) -> JSON:
            name = self._topic(c.params["project"], c.params["topic"])["name"]
            check_policy(c.body.get("policy", {}))
            return self.topic_policies[name].replace(c.body.get("policy", {}))

    def _topic(self, project: str, topic: str) -> JSON:
        name = f"projects/{project}/topics/{topic}"
        if name not in self.topics:
            raise not_found("Resource not found (resource=" + topic + ").")
        return self.topics[name]
