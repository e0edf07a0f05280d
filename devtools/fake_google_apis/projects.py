"""The project-level APIs every deploy starts with: Resource Manager (the project, its IAM
policy), Service Usage (enabling services, service agents, their operations), and the OAuth
token endpoint an activated service-account key asks for its tokens.

The sources are named as in the package docstring; project IAM policy bindings follow the
policy rules of :mod:`.rules`.

| rule | source | test |
|---|---|---|
| services:batchEnable: at most 20 services | google/api/serviceusage/v1/serviceusage.proto BatchEnableServicesRequest.service_ids | test_batch_enable_takes_at_most_20_services |
| unknown: what generateServiceIdentity answers for a project whose agent exists; the fake answers the same email every time | | |
"""  # noqa: E501 - the rule table keeps one row per line

from __future__ import annotations

from typing import Any

from .common import JSON, PROJECT_NUMBER, Call, IamPolicy, Routes
from .rules import check_policy, invalid

BATCH_ENABLE_TYPE = "type.googleapis.com/google.api.serviceusage.v1.BatchEnableServicesResponse"
SERVICE_IDENTITY_TYPE = "type.googleapis.com/google.api.serviceusage.v1beta1.ServiceIdentity"

# Service Usage: serviceusage.proto BatchEnableServicesRequest.service_ids.
MAX_BATCH_ENABLE = 20


def check_batch_enable(service_ids: Any) -> None:
    if not isinstance(service_ids, list):
        raise invalid("service_ids", "service_ids must be a list")
    if len(service_ids) > MAX_BATCH_ENABLE:
        raise invalid(
            "service_ids",
            f"{len(service_ids)} services in one request; a single request can enable a "
            f"maximum of {MAX_BATCH_ENABLE}",
        )


class ProjectApis(Routes):
    """OAuth tokens, projects and their IAM policies, and services."""

    enabled_services: dict[str, set[str]]
    project_policies: dict[str, IamPolicy]

    def _add_project_routes(self) -> None:
        route = self._route

        # --- OAuth token endpoint, for an activated service-account key whose token_uri is here.
        @route("POST", "oauth2", "/token")
        def token(_c: Call) -> JSON:
            return {"access_token": "fake-access-token", "expires_in": 3600, "token_type": "Bearer"}

        # --- Cloud Resource Manager
        @route("GET", "cloudresourcemanager", "/v1/projects/{project}")
        def get_project_v1(c: Call) -> JSON:
            p = c.params["project"]
            return {"projectId": p, "projectNumber": PROJECT_NUMBER, "lifecycleState": "ACTIVE"}

        @route("GET", "cloudresourcemanager", "/v3/projects/{project}")
        def get_project_v3(c: Call) -> JSON:
            p = c.params["project"]
            return {"name": f"projects/{PROJECT_NUMBER}", "projectId": p, "state": "ACTIVE"}

        @route("POST", "cloudresourcemanager", "/v1/projects/{project}:getIamPolicy")
        def get_project_policy(c: Call) -> JSON:
            return self.project_policies.setdefault(c.params["project"], IamPolicy()).as_json()

        @route("POST", "cloudresourcemanager", "/v1/projects/{project}:setIamPolicy")
        def set_project_policy(c: Call) -> JSON:
            check_policy(c.body.get("policy", {}))
            policy = self.project_policies.setdefault(c.params["project"], IamPolicy())
            return policy.replace(c.body.get("policy", {}))

        # --- Service Usage
        @route("GET", "serviceusage", "/v1/projects/{project}/services")
        def list_services(c: Call) -> JSON:
            enabled = sorted(self.enabled_services.get(c.params["project"], set()))
            services = [self._service(c.params["project"], s, "ENABLED") for s in enabled]
            return {"services": services} if services else {}

        @route("GET", "serviceusage", "/v1/projects/{project}/services/{service}")
        def get_service(c: Call) -> JSON:
            p, s = c.params["project"], c.params["service"]
            state = "ENABLED" if s in self.enabled_services.get(p, set()) else "DISABLED"
            return self._service(p, s, state)

        @route("POST", "serviceusage", "/v1/projects/{project}/services:batchEnable")
        def batch_enable(c: Call) -> JSON:
            p = c.params["project"]
            check_batch_enable(c.body.get("serviceIds", []))
            ids = list(c.body.get("serviceIds", []))
            self.enabled_services.setdefault(p, set()).update(ids)
            services = [self._service(p, s, "ENABLED") for s in ids]
            return self._done_operation(
                f"operations/acf.{next(self._ids)}",
                {"@type": BATCH_ENABLE_TYPE, "services": services},
            )

        @route(
            "POST",
            "serviceusage",
            "/v1beta1/projects/{project}/services/{service}:generateServiceIdentity",
        )
        def generate_service_identity(c: Call) -> JSON:
            agent = c.params["service"].removesuffix(".googleapis.com")
            email = f"service-{PROJECT_NUMBER}@gcp-sa-{agent}.iam.gserviceaccount.com"
            return self._done_operation(
                f"operations/finished.DONE_OPERATION.{next(self._ids)}",
                {
                    "@type": SERVICE_IDENTITY_TYPE,
                    "email": email,
                    "uniqueId": str(200000000000000000000 + next(self._ids)),
                },
            )

        @route("GET", "serviceusage", "/v1/{name*}")
        def get_usage_operation(c: Call) -> JSON:
            return self._get_operation(c.params["name"])

    @staticmethod
    def _service(project: str, service: str, state: str) -> JSON:
        return {
            "name": f"projects/{PROJECT_NUMBER}/services/{service}",
            "parent": f"projects/{PROJECT_NUMBER}",
            "config": {"name": service, "title": service},
            "state": state,
        }

    def _done_operation(self, name: str, response: JSON) -> JSON:
        operation = {"name": name, "done": True, "response": response}
        self.operations[name] = operation
        return operation
