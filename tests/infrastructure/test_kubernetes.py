"""Each overlay of infrastructure/k8s, rendered by kustomize, against the Kubernetes schemas
(kubernetes-validate's, strict: unknown fields are refused) and the CRD schemas committed in
infrastructure/k8s/schemas (Strimzi's Kafka and KafkaNodePool, spark-operator's SparkApplication);
then what a schema cannot see: probes, resources, secrets, one network policy per product."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from .conftest import INFRASTRUCTURE, REPO, run, tool

pytestmark = pytest.mark.unit

K8S = INFRASTRUCTURE / "k8s"
CRD_SCHEMAS = K8S / "schemas"
KUBERNETES_VERSION = "1.33"
ENVIRONMENTS = {"dev": "lakehouse-dev", "staging": "lakehouse-staging", "prod": "lakehouse"}
PRODUCTS = sorted(p.parent.parent.name for p in REPO.glob("products/*/config/product.yaml"))

Resource = dict[str, Any]


def render(overlay: Path) -> list[Resource]:
    done = run(tool("kustomize"), "build", "--load-restrictor", "LoadRestrictionsNone", overlay)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Resource]]:
    return {env: render(K8S / "overlays" / env) for env in ENVIRONMENTS}


@cache
def _crd_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    group, _, version = api_version.rpartition("/")
    path = CRD_SCHEMAS / group / f"{kind.lower()}_{version}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def problems(resource: Resource) -> list[str]:
    """Why ``resource`` does not match its schema; a kind without a schema is a problem too."""
    schema = _crd_schema(resource["apiVersion"], resource["kind"])
    if schema is not None:
        validator = jsonschema.Draft7Validator(schema)
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(resource)
        ]
    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [exc.message]
    except kubernetes_validate.ValidationError as exc:
        return [f"{'/'.join(map(str, exc.absolute_path))}: {exc.message}"]
    return []


def _named(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def _pod_specs(resources: list[Resource]) -> dict[str, Resource]:
    specs = {}
    for r in resources:
        if r["kind"] == "Deployment":
            specs[r["metadata"]["name"]] = r["spec"]["template"]["spec"]
        elif r["kind"] == "CronJob":
            specs[r["metadata"]["name"]] = r["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return specs


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_resource_matches_its_schema(rendered: dict[str, list[Resource]], env: str) -> None:
    found = {f"{r['kind']}/{r['metadata']['name']}": p for r in rendered[env] if (p := problems(r))}
    assert not found, json.dumps(found, indent=1)


def test_a_broken_manifest_is_refused(rendered: dict[str, list[Resource]]) -> None:
    deployment = copy.deepcopy(_named(rendered["prod"], "Deployment")["lakehouse-gateway"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["pathh"] = "/health"
    assert problems(deployment)
    kafka = copy.deepcopy(_named(rendered["prod"], "Kafka")["lakehouse"])
    kafka["spec"]["kafka"]["listeners"][0]["type"] = "everywhere"
    assert problems(kafka)
    spark = copy.deepcopy(next(iter(_named(rendered["prod"], "SparkApplication").values())))
    spark["spec"]["executor"]["instancess"] = 2
    assert problems(spark)
    assert problems({"apiVersion": "example.com/v1", "kind": "Unknown", "metadata": {"name": "x"}})


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_namespace_environment_and_no_committed_secret(rendered: dict[str, list[Resource]], env: str) -> None:
    resources = rendered[env]
    assert {r["metadata"].get("namespace") for r in resources} == {ENVIRONMENTS[env]}
    assert not [r for r in resources if r["kind"] == "Secret"], "secrets are referenced, never committed"
    (platform,) = [
        c for n, c in _named(resources, "ConfigMap").items() if n.startswith("lakehouse-platform-")
    ]
    assert platform["data"]["LAKEHOUSE_ENVIRONMENT"] == env
    referenced = {
        source["secretRef"]["name"]
        for spec in _pod_specs(resources).values()
        for container in spec["containers"]
        for source in container.get("envFrom", [])
        if "secretRef" in source
    }
    assert referenced == {"lakehouse-platform-secrets", *(f"{p}-secrets" for p in PRODUCTS)}


def test_long_running_containers_have_probes_and_resources(rendered: dict[str, list[Resource]]) -> None:
    claims = _named(rendered["prod"], "PersistentVolumeClaim")
    for name, spec in _pod_specs(rendered["prod"]).items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        state = next(v for v in spec["volumes"] if v["name"] == "state")
        assert state["persistentVolumeClaim"]["claimName"] in claims, f"{name}: a spool must outlive the pod"
        for container in spec["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) & set(resources["limits"]), name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        deployment = _named(rendered["prod"], "Deployment").get(name)
        if deployment is None:
            continue
        (container,) = spec["containers"]
        if deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "ingest":
            assert container["livenessProbe"]["tcpSocket"], name
            assert deployment["spec"]["replicas"] == 1, "one stream per checkpoint"
        else:
            assert container["livenessProbe"]["httpGet"]["path"] == "/health", name
            assert container["readinessProbe"]["httpGet"]["path"] == "/ready", name


@pytest.mark.parametrize("product", PRODUCTS)
def test_every_product_is_deployed(rendered: dict[str, list[Resource]], product: str) -> None:
    resources = rendered["prod"]
    declared = yaml.safe_load((REPO / "products" / product / "config" / "product.yaml").read_text())
    collects = "collector" in declared
    deployments = _named(resources, "Deployment")
    services = _named(resources, "Service")
    assert (f"{product}-ingest" in deployments) == collects, "event products stream Kafka → bronze"
    for process in {"api", "collector"} if collects else {"api"}:
        assert f"{product}-{process}" in deployments
        assert services[f"{product}-{process}"]["spec"]["selector"] == {
            "app.kubernetes.io/name": f"{product}-{process}"
        }
    assert f"{product}-pipeline" in _named(resources, "CronJob")
    policy = _named(resources, "NetworkPolicy")[product]
    assert policy["spec"]["podSelector"]["matchLabels"] == {"lakehouse.io/product": product}
    (config,) = [c for n, c in _named(resources, "ConfigMap").items() if n.startswith(f"{product}-config-")]
    assert yaml.safe_load(config["data"]["product.yaml"]) == declared, "generated from the product's YAML"
    for name, spec in _pod_specs(resources).items():
        if name.startswith(f"{product}-"):
            volume = next(v for v in spec["volumes"] if v["name"] == "config")
            assert volume["configMap"]["name"] == config["metadata"]["name"], name


def test_platform_resources(rendered: dict[str, list[Resource]]) -> None:
    resources = rendered["prod"]
    assert "lakehouse-gateway" in _named(resources, "Deployment")
    ingress = _named(resources, "Ingress")["lakehouse-gateway"]
    assert (
        ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "lakehouse-gateway"
    )
    hosts = {
        env: _named(rendered[env], "Ingress")["lakehouse-gateway"]["spec"]["rules"][0]["host"]
        for env in ENVIRONMENTS
    }
    assert len(set(hosts.values())) == len(ENVIRONMENTS), hosts
    (pool,) = _named(resources, "KafkaNodePool").values()
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}, "KRaft: no ZooKeeper"
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] in _named(resources, "Kafka")
    assert _named(resources, "SparkApplication"), "Spark jobs run through spark-operator"
