"""Built-in ``ci-issuer-metadata``: the claim → certificate mappings of Fulcio's public config.

Copied as data from ``fulcio: config/identity/config.yaml`` (the deployed Sigstore
configuration), so a certificate sceau issues for a GitHub/GitLab/Buildkite/CircleCI/
Codefresh token carries the same SAN and extension values as one from public Fulcio.
An instance config may replace any entry by name or add new ones.
"""

from __future__ import annotations

from typing import Any

# Extension names used in ``extension-templates`` → last arc under 1.3.6.1.4.1.57264.1
# (fulcio: pkg/certificate/extensions.go). 1.1/1.8 (issuer) and 1.24 (subject) always come
# from the token, never from templates.
EXTENSION_ARCS: dict[str, int] = {
    "github-workflow-trigger": 2,
    "github-workflow-sha": 3,
    "github-workflow-name": 4,
    "github-workflow-repository": 5,
    "github-workflow-ref": 6,
    "build-signer-uri": 9,
    "build-signer-digest": 10,
    "runner-environment": 11,
    "source-repository-uri": 12,
    "source-repository-digest": 13,
    "source-repository-ref": 14,
    "source-repository-identifier": 15,
    "source-repository-owner-uri": 16,
    "source-repository-owner-identifier": 17,
    "build-config-uri": 18,
    "build-config-digest": 19,
    "build-trigger": 20,
    "run-invocation-uri": 21,
    "source-repository-visibility-at-signing": 22,
    "deployment-environment": 23,
}

BUILTIN_CI_METADATA: dict[str, dict[str, Any]] = {
    "github-workflow": {
        "default-template-values": {"url": "https://github.com", "environment": ""},
        "extension-templates": {
            "github-workflow-trigger": "event_name",
            "github-workflow-sha": "sha",
            "github-workflow-name": "workflow",
            "github-workflow-repository": "repository",
            "github-workflow-ref": "ref",
            "build-signer-uri": "{{ .url }}/{{ .job_workflow_ref }}",
            "build-signer-digest": "job_workflow_sha",
            "runner-environment": "runner_environment",
            "source-repository-uri": "{{ .url }}/{{ .repository }}",
            "source-repository-digest": "sha",
            "source-repository-ref": "ref",
            "source-repository-identifier": "repository_id",
            "source-repository-owner-uri": "{{ .url }}/{{ .repository_owner }}",
            "source-repository-owner-identifier": "repository_owner_id",
            "build-config-uri": "{{ .url }}/{{ .workflow_ref }}",
            "build-config-digest": "workflow_sha",
            "build-trigger": "event_name",
            "run-invocation-uri": (
                "{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}"
                "/attempts/{{ .run_attempt }}"
            ),
            "source-repository-visibility-at-signing": "repository_visibility",
            "deployment-environment": "environment",
        },
        "subject-alternative-name-template": "{{ .url }}/{{ .job_workflow_ref }}",
    },
    "gitlab-pipeline": {
        "default-template-values": {"url": "https://gitlab.com", "environment": ""},
        "extension-templates": {
            "build-signer-uri": "https://{{ .ci_config_ref_uri }}",
            "build-signer-digest": "ci_config_sha",
            "runner-environment": "runner_environment",
            "source-repository-uri": "{{ .url }}/{{ .project_path }}",
            "source-repository-digest": "sha",
            "source-repository-ref": (
                'refs/{{if eq .ref_type "branch"}}heads/{{ else }}tags/{{end}}{{ .ref }}'
            ),
            "source-repository-identifier": "project_id",
            "source-repository-owner-uri": "{{ .url }}/{{ .namespace_path }}",
            "source-repository-owner-identifier": "namespace_id",
            "build-config-uri": "https://{{ .ci_config_ref_uri }}",
            "build-config-digest": "ci_config_sha",
            "build-trigger": "pipeline_source",
            "run-invocation-uri": "{{ .url }}/{{ .project_path }}/-/jobs/{{ .job_id }}",
            "source-repository-visibility-at-signing": "project_visibility",
            "deployment-environment": "environment",
        },
        "subject-alternative-name-template": "https://{{ .ci_config_ref_uri }}",
    },
    "buildkite-job": {
        "default-template-values": {"url": "https://buildkite.com"},
        "extension-templates": {
            "run-invocation-uri": (
                "{{.url}}/{{.organization_slug}}/{{.pipeline_slug}}/builds/{{.build_number}}"
                "#{{.job_id}}"
            ),
            "runner-environment": "runner_environment",
            "source-repository-digest": "build_commit",
            "build-trigger": "build_source",
        },
        "subject-alternative-name-template": "{{.url}}/{{.organization_slug}}/{{.pipeline_slug}}",
    },
    "codefresh-workflow": {
        "default-template-values": {
            "platform_url": "https://g.codefresh.io",
            "scm_repo_url": "",
            "scm_ref": "",
            "runner_environment": "",
        },
        "extension-templates": {
            "build-signer-uri": "{{.platform_url}}/build/{{ .workflow_id }}",
            "runner-environment": "runner_environment",
            "source-repository-uri": "scm_repo_url",
            "source-repository-ref": "scm_ref",
            "build-config-uri": "{{.platform_url}}/api/pipelines/{{ .pipeline_id }}",
            "run-invocation-uri": "{{.platform_url}}/build/{{ .workflow_id }}",
        },
        "subject-alternative-name-template": (
            "{{.platform_url}}/{{.account_name}}/{{.pipeline_name}}:{{.account_id}}"
            "/{{.pipeline_id}}"
        ),
    },
    "circleci-job": {
        "default-template-values": {
            "api_url": "https://circleci.com/api/v2",
            "platform_url": "https://app.circleci.com/",
        },
        "extension-templates": {
            "build-config-uri": (
                '{{.api_url}}/pipeline/{{(index . "oidc.circleci.com/pipeline-id")}}/config'
            ),
            "build-signer-uri": (
                '{{.api_url}}/projects/{{(index . "oidc.circleci.com/project-id")}}'
                '/pipeline-definitions/{{(index . "oidc.circleci.com/pipeline-definition-id")}}'
            ),
            "run-invocation-uri": (
                '{{.platform_url}}/workflow/{{(index . "oidc.circleci.com/workflow-id")}}'
                '/job/{{(index . "oidc.circleci.com/job-id")}}'
            ),
            "runner-environment": (
                '{{if eq (index . "oidc.circleci.com/ssh-rerun") "true"}}ssh-rerun'
                '{{ else }}""{{end}}'
            ),
            "source-repository-ref": '{{index . "oidc.circleci.com/vcs-ref"}}',
            "source-repository-uri": '{{index . "oidc.circleci.com/vcs-origin"}}',
        },
        "subject-alternative-name-template": (
            '{{.api_url}}/projects/{{(index . "oidc.circleci.com/project-id")}}'
            '/pipeline-definitions/{{(index . "oidc.circleci.com/pipeline-definition-id")}}'
        ),
    },
}
