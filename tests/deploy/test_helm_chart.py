"""The Helm chart renders (defaults and overrides) into manifests that Kubernetes' own API
schemas accept, offline, and wires what an operator relies on: probes, autoscaling, the
migration hook, non-root pods and secrets that only come from the cluster."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from agent_platform.settings import Settings
from tests.deploy.helm_render import TemplateError, manifests, render_chart

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "agent-platform"
K8S_VERSION = kubernetes_validate.utils.latest_version()
WORKLOADS = {"web", "agent-worker", "worker", "scheduler"}
OVERRIDES: dict[str, Any] = {
    "image": {"repository": "registry.example.com/agent-platform", "tag": "1.2.3"},
    "existingSecret": "prod-platform",
    "localSecretKeySecret": "prod-platform-key",
    "config": {"SECRET_STORE": "vault", "BASE_URL": "https://agents.example.com", "PORT": "8080"},
    "web": {"replicas": 3},
    "agentWorker": {"autoscaling": {"enabled": False}, "replicas": 4},
    "worker": {"autoscaling": {"maxReplicas": 9}},
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "host": "agents.example.com",
        "tlsSecret": "agents-tls",
        "annotations": {"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"},
    },
}


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


@pytest.fixture(scope="module")
def defaults() -> list[dict[str, Any]]:
    return manifests(render_chart(CHART))


@pytest.fixture(scope="module")
def overridden() -> list[dict[str, Any]]:
    return manifests(render_chart(CHART, OVERRIDES, release="prod", namespace="agents"))


def _validate(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {exc}")


def test_default_values_render_manifests_that_kubernetes_accepts(
    defaults: list[dict[str, Any]],
) -> None:
    _validate(defaults)
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in defaults)
    assert kinds == [
        ("ConfigMap", "agent-platform-config"),
        ("Deployment", "agent-platform-agent-worker"),
        ("Deployment", "agent-platform-scheduler"),
        ("Deployment", "agent-platform-web"),
        ("Deployment", "agent-platform-worker"),
        ("HorizontalPodAutoscaler", "agent-platform-agent-worker"),
        ("HorizontalPodAutoscaler", "agent-platform-worker"),
        ("Job", "agent-platform-migrate"),
        ("Service", "agent-platform-web"),
    ]
    if shutil.which("helm"):  # the real thing where it exists; never required
        lint = subprocess.run(["helm", "lint", str(CHART)], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        out = subprocess.run(
            ["helm", "template", "agent-platform", str(CHART)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        theirs = [d for d in yaml.safe_load_all(out) if d]
        assert sorted((d["kind"], d["metadata"]["name"]) for d in theirs) == kinds

        def key(doc: dict[str, Any]) -> tuple[str, str]:
            return doc["kind"], doc["metadata"]["name"]

        assert sorted(theirs, key=key) == sorted(defaults, key=key)


def test_overridden_values_render_manifests_that_kubernetes_accepts(
    overridden: list[dict[str, Any]],
) -> None:
    _validate(overridden)
    deployments = _by_kind(overridden, "Deployment")
    assert set(deployments) == {f"prod-{w}" for w in WORKLOADS}
    for deployment in deployments.values():
        assert _container(deployment)["image"] == "registry.example.com/agent-platform:1.2.3"
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        assert volumes[1]["secret"]["secretName"] == "prod-platform-key"
    assert deployments["prod-web"]["spec"]["replicas"] == 3
    assert deployments["prod-agent-worker"]["spec"]["replicas"] == 4
    assert set(_by_kind(overridden, "HorizontalPodAutoscaler")) == {"prod-worker"}
    assert (
        _by_kind(overridden, "HorizontalPodAutoscaler")["prod-worker"]["spec"]["maxReplicas"] == 9
    )
    ingress = _by_kind(overridden, "Ingress")["prod-web"]
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "agents.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "prod-web"
    web_port = _container(deployments["prod-web"])["ports"][0]["containerPort"]
    assert web_port == int(OVERRIDES["config"]["PORT"])
    assert ingress["spec"]["tls"] == [{"hosts": ["agents.example.com"], "secretName": "agents-tls"}]
    config = _by_kind(overridden, "ConfigMap")["prod-config"]["data"]
    assert config["SECRET_STORE"] == "vault"
    assert config["SECRET_KEY_FILE"] == "/var/run/secrets/agent-platform/secret.key"
    without_key = manifests(render_chart(CHART, {"localSecretKeySecret": ""}))
    _validate(without_key)
    web = _by_kind(without_key, "Deployment")["agent-platform-web"]["spec"]["template"]["spec"]
    assert [v["name"] for v in web["volumes"]] == ["data", "prometheus"]
    assert (
        "SECRET_KEY_FILE" not in _by_kind(without_key, "ConfigMap")["agent-platform-config"]["data"]
    )


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def _mounts(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Mount path -> the pod volume mounted there."""
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    return {m["mountPath"]: volumes[m["name"]] for m in _container(deployment)["volumeMounts"]}


def test_every_pod_that_counts_serves_metrics_from_a_fresh_multiprocess_dir(
    defaults: list[dict[str, Any]],
) -> None:
    """Web pods sum their server processes on PORT; worker pods serve their own (a forked RQ
    job writes files the parent must find) on METRICS_PORT. METRICS_TOKEN comes from the
    Secret like every other secret, so no pod names it."""
    deployments = _by_kind(defaults, "Deployment")
    for component, port in (("web", 3000), ("worker", 9100), ("agent-worker", 9100)):
        deployment = deployments[f"agent-platform-{component}"]
        container = _container(deployment)
        directory = _env(container)["PROMETHEUS_MULTIPROC_DIR"]
        assert _mounts(deployment)[directory]["emptyDir"]["medium"] == "Memory", component
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }, component
        assert port in [p["containerPort"] for p in container["ports"]], component
        assert "METRICS_TOKEN" not in _env(container), component
        if component != "web":
            assert _env(container)["METRICS_PORT"] == str(port)
            assert {"name": "metrics", "containerPort": port} in container["ports"]
    assert "METRICS_PORT" not in _env(_container(deployments["agent-platform-web"]))
    scheduler = _container(deployments["agent-platform-scheduler"])
    assert "ports" not in scheduler  # it serves nothing
    quiet = manifests(
        render_chart(CHART, {"metrics": {"workerPort": 9500, "podAnnotations": False}})
    )
    _validate(quiet)
    worker = _by_kind(quiet, "Deployment")["agent-platform-worker"]
    assert "annotations" not in worker["spec"]["template"]["metadata"]
    assert _env(_container(worker))["METRICS_PORT"] == "9500"


def test_web_pods_share_page_state_through_redis(
    defaults: list[dict[str, Any]], overridden: list[dict[str, Any]]
) -> None:
    """Three web pods (the overrides) serve one URL: each takes REFLEX_REDIS_URL from the
    Secret's REDIS_URL, so a tab's websocket may reconnect to any pod, also during a rollout."""
    web = _env(_container(_by_kind(overridden, "Deployment")["prod-web"]))
    assert web["REFLEX_REDIS_URL"] == {
        "secretKeyRef": {"name": "prod-platform", "key": "REDIS_URL"}
    }
    assert web["WEB_PROCESSES"] == "1"
    two = manifests(render_chart(CHART, {"web": {"processes": 2, "stateInRedis": False}}))
    _validate(two)
    web = _env(_container(_by_kind(two, "Deployment")["agent-platform-web"]))
    assert web["WEB_PROCESSES"] == "2" and "REFLEX_REDIS_URL" not in web
    assert "REFLEX_REDIS_URL" in _env(
        _container(_by_kind(defaults, "Deployment")["agent-platform-web"])
    )


def test_web_probes_use_health_and_ready(defaults: list[dict[str, Any]]) -> None:
    web = _container(_by_kind(defaults, "Deployment")["agent-platform-web"])
    assert web["args"] == ["web"]
    assert web["ports"] == [{"name": "http", "containerPort": 3000}]
    assert web["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert web["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert web["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    config = _by_kind(defaults, "ConfigMap")["agent-platform-config"]["data"]
    assert config["PORT"] == "3000"  # the app listens where the probes knock
    service = _by_kind(defaults, "Service")["agent-platform-web"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pod_labels = _by_kind(defaults, "Deployment")["agent-platform-web"]["spec"]["template"][
        "metadata"
    ]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_hpas_scale_the_two_worker_deployments(defaults: list[dict[str, Any]]) -> None:
    deployments = _by_kind(defaults, "Deployment")
    hpas = _by_kind(defaults, "HorizontalPodAutoscaler")
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()}
    assert targets == {"agent-platform-agent-worker", "agent-platform-worker"}
    for hpa in hpas.values():
        ref = hpa["spec"]["scaleTargetRef"]
        assert (ref["apiVersion"], ref["kind"]) == ("apps/v1", "Deployment")
        target = deployments[ref["name"]]
        # The HPA owns the replica count: a Deployment field would fight it at every upgrade.
        assert "replicas" not in target["spec"]
        assert _container(target)["resources"]["requests"]["cpu"]  # utilization needs it
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert _container(deployments["agent-platform-agent-worker"])["args"] == ["agent-worker"]
    assert _container(deployments["agent-platform-worker"])["args"] == ["worker"]


def test_one_scheduler_never_two(defaults: list[dict[str, Any]]) -> None:
    scheduler = _by_kind(defaults, "Deployment")["agent-platform-scheduler"]
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"] == {"type": "Recreate"}
    assert _container(scheduler)["args"] == ["scheduler"]
    assert "agent-platform-scheduler" not in _by_kind(defaults, "HorizontalPodAutoscaler")


def test_the_migration_is_a_hook_that_runs_before_install_and_upgrade(
    defaults: list[dict[str, Any]],
) -> None:
    job = _by_kind(defaults, "Job")["agent-platform-migrate"]
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    container = pod["containers"][0]
    assert container["args"] == ["migrate"]
    # At pre-install only what exists before the release does: the cluster Secret.
    assert container["envFrom"] == [{"secretRef": {"name": "agent-platform-secrets"}}]


def test_every_pod_runs_as_a_user_with_settings_and_secrets_from_the_cluster(
    defaults: list[dict[str, Any]],
) -> None:
    pods = [
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for d in defaults
        if d["kind"] in ("Deployment", "Job")
    ]
    assert len(pods) == 5
    for name, pod in pods:
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] != 0, name
        assert pod["automountServiceAccountToken"] is False, name
        container = pod["containers"][0]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], name
        assert container["resources"]["requests"] and container["resources"]["limits"], name
        sources = container["envFrom"]
        assert {"secretRef": {"name": "agent-platform-secrets"}} in sources, name
        if pod.get("restartPolicy") != "Never":  # the Deployments (the Job: see the hook test)
            assert {"configMapRef": {"name": "agent-platform-config"}} in sources, name
            key = next(v for v in pod["volumes"] if v["name"] == "secret-key")
            assert key["secret"]["secretName"] == "agent-platform-secret-key", name


def _secret_settings() -> set[str]:
    names = {name.upper() for name in Settings.model_fields}
    secret = {n for n in names if re.search(r"SECRET|TOKEN|PASSWORD|API_KEY", n)}
    secret -= {"SECRET_STORE", "SECRET_KEY_FILE"}  # a choice and a path, not secrets
    return secret | {"DATABASE_URL", "REDIS_URL", "REFLEX_REDIS_URL"}  # URLs with passwords


def test_no_secret_in_any_template_or_value(
    defaults: list[dict[str, Any]], overridden: list[dict[str, Any]]
) -> None:
    secrets = _secret_settings()
    assert {"VAULT_TOKEN", "VAULT_SECRET_ID", "STRIPE_SECRET_KEY", "DATABASE_URL"} <= secrets
    for docs in (defaults, overridden):
        assert not [d for d in docs if d["kind"] == "Secret"], "the chart must not make Secrets"
        for config in _by_kind(docs, "ConfigMap").values():
            assert not secrets & set(config["data"]), "secret settings belong in the Secret"
        for doc in docs:
            for container in (
                doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
            ):
                # Named in `env` only when taken from the Secret (valueFrom), never as a value.
                written = {e["name"] for e in container.get("env", []) if "value" in e}
                assert not secrets & written, doc["metadata"]["name"]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert not secrets & set(values["config"])
    credential = re.compile(
        r"://[^/\s:@]*:[^/\s@]+@|BEGIN [A-Z ]*PRIVATE KEY|sk_live_|sk-[A-Za-z0-9]"
    )
    for path in [CHART / "values.yaml", *sorted((CHART / "templates").glob("*"))]:
        assert not credential.search(path.read_text()), path


def test_the_renderer_follows_helm_and_refuses_what_the_subset_leaves_out(
    tmp_path: Path,
) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("name: demo\nversion: 0.1.0\nappVersion: '2.0'\n")
    (chart / "values.yaml").write_text("a: {b: 3, enabled: true, list: [x, y]}\nempty: ''\n")
    template = chart / "templates" / "t.yaml"

    def render(text: str, overrides: dict[str, Any] | None = None) -> str:
        template.write_text(text)
        return render_chart(chart, overrides)["templates/t.yaml"]

    assert render("n: {{ .Values.a.b }}\nv: {{ .Chart.AppVersion | quote }}") == 'n: 3\nv: "2.0"'
    assert render("x:\n  {{- toYaml .Values.a.list | nindent 2 }}\n") == "x:\n  - x\n  - y\n"
    assert render("{{- if .Values.a.enabled }}\nyes\n{{- else }}\nno\n{{- end }}") == "\nyes"
    assert render("{{ if .Values.empty }}yes{{ else }}no{{ end }}") == "no"
    assert render("{{ .Values.empty | default .Release.Name }}") == "agent-platform"
    assert render("{{ .Values.a.b }}", {"a": {"b": 7}}) == "7"
    assert render("{{/* note */}}{{ if not .Values.a.enabled }}x{{ end }}") == ""
    for outside in (
        "{{ .Values.a.missing }}",
        "{{ range .Values.a.list }}x{{ end }}",
        '{{ include "name" . }}',
        "{{ upper .Release.Name }}",
        "{{ if .Values.a.enabled }}unclosed",
        '{{ required "empty is required" .Values.empty }}',
    ):
        with pytest.raises(TemplateError):
            render(outside)
