"""deploy/kubernetes/ (issue 15): every manifest parses, and the invariants the pieces
depend on hold between them: the gateway runs non-root with a read-only root filesystem and
only NET_BIND_SERVICE, its probes ask /healthz where each daemon serves it (the resolver
on GATEHOUSE_METRICS's port, the forwarder one above, on an address the kubelet reaches),
the Service's fixed clusterIP is the configuration's `answer` and the example workload's
nameserver, the Service carries DNS and every port the allowlist names, and the
NetworkPolicy opens exactly the Service's ports to the gateway's pods. The ConfigMap's
gatehouse.conf passes --check in both binaries as in a pod (KUBERNETES_SERVICE_HOST set).
Where kubectl exists, `kubectl kustomize deploy/kubernetes` renders offline, every kind is
in it, and the ConfigMap's name carries its content's hash (an edit rolls the pods).

Run: /usr/bin/python3 -m pytest -q tests/integration/test_kubernetes.py
(the daemons from $GATEHOUSE_BUILD, default build/)
"""

import glob
import os
import re
import shutil
import subprocess

import pytest
import yaml

from gh_testlib import REPO, scaled

from test_readme import run_check

KDIR = os.path.join(REPO, "deploy", "kubernetes")
BINARIES = ["gatehouse-resolver", "gatehouse-forwarder"]
KINDS = {"Namespace", "ConfigMap", "Deployment", "Service", "NetworkPolicy",
         "PodDisruptionBudget"}
DNS_PORTS = {(53, "UDP"), (53, "TCP")}
WILDCARDS = ("0.0.0.0", "::", "[::]")


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def kustomization():
    return load(os.path.join(KDIR, "kustomization.yaml"))[0]


def objects():
    """Every object the kustomization's resources list, from the files as written."""
    out = []
    for r in kustomization()["resources"]:
        out += load(os.path.join(KDIR, r))
    return out


def one(objs, kind, namespace=None):
    found = [o for o in objs if o["kind"] == kind and
             (namespace is None or o["metadata"].get("namespace") == namespace)]
    assert len(found) == 1, "want one %s%s, have %d" % (
        kind, " in " + namespace if namespace else "", len(found))
    return found[0]


def gateway(objs):
    d = one(objs, "Deployment", "gatehouse")
    assert d["metadata"]["name"] == "gatehouse"
    return d


def config_text():
    gen = kustomization()["configMapGenerator"]
    assert len(gen) == 1 and gen[0]["files"] == ["gatehouse.conf"], gen
    with open(os.path.join(KDIR, "gatehouse.conf"), encoding="utf-8") as f:
        return f.read()


def daemon_containers(deploy):
    """{daemon name: container}: each container runs one daemon (its first argument)."""
    out = {}
    for c in deploy["spec"]["template"]["spec"]["containers"]:
        out[(c.get("args") or c.get("command"))[0]] = c
    assert sorted(out) == sorted(BINARIES), sorted(out)
    return out


def env_of(container):
    return {e["name"]: e["value"] for e in container.get("env", [])}


def gateway_env(deploy):
    """The GATEHOUSE_* environment, the same in both containers (both read one config)."""
    envs = [env_of(c) for c in daemon_containers(deploy).values()]
    assert envs[0] == envs[1], envs
    return envs[0]


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """--check of the ConfigMap's file with the Deployment's environment, as a pod starts:
    {binary: CompletedProcess}."""
    class Dir:        # run_check writes through gatehouse.write into gatehouse.workdir
        workdir = str(tmp_path_factory.mktemp("k8s"))

        def write(self, name, text):
            p = os.path.join(self.workdir, name)
            with open(p, "w", encoding="utf-8") as f:
                f.write(text)
            return p
    env = dict(gateway_env(gateway(objects())), KUBERNETES_SERVICE_HOST="10.96.0.1")
    return {b: run_check(Dir(), b, "conf", config_text(), env) for b in BINARIES}


def setting(checked, name):
    """A setting's value as --check prints the configuration it understood."""
    for line in checked["gatehouse-resolver"].stdout.splitlines():
        line = line.split("#")[0].rstrip()
        if line.split(" ", 1)[0] == name:
            return line.split(" ", 1)[1]
    raise AssertionError("--check printed no %s line" % name)


def allowlist_ports(checked):
    """The forwarder's ports, as the `configuration ok` line of --check names them."""
    m = re.search(r"configuration ok \(.*?ports ([0-9,]+)", checked["gatehouse-forwarder"].stderr)
    assert m, checked["gatehouse-forwarder"].stderr
    return {int(p) for p in m.group(1).split(",")}


def service_ports(svc):
    return {(p["port"], p.get("protocol", "TCP")) for p in svc["spec"]["ports"]}


# ---- the files -----------------------------------------------------------------------------

def test_every_manifest_parses_and_is_listed():
    listed = set(kustomization()["resources"])
    files = {os.path.basename(p) for p in glob.glob(os.path.join(KDIR, "*.yaml"))}
    assert listed == files - {"kustomization.yaml"}, \
        "kustomization.yaml's resources and the directory's manifests differ"
    objs = objects()
    for o in objs:
        assert o.get("apiVersion") and o.get("kind") and o["metadata"].get("name"), o
    # the ConfigMap comes from configMapGenerator, every other kind from a file
    assert {o["kind"] for o in objs} == KINDS - {"ConfigMap"}


@pytest.mark.parametrize("binary", BINARIES)
def test_configmap_passes_check(checked, binary):
    r = checked[binary]
    assert r.returncode == 0, "--check refused deploy/kubernetes/gatehouse.conf:\n" + r.stderr
    assert "configuration ok" in r.stderr


def test_listens_on_the_wildcard_and_answers_a_fixed_address(checked):
    assert setting(checked, "dns-listen").split()[0].rsplit(":", 1)[0] in WILDCARDS
    assert setting(checked, "forward-listen").split()[0] in WILDCARDS
    # answer pool is refused in Kubernetes, auto would answer the pod's own address
    answer = setting(checked, "answer")
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", answer), answer


# ---- the gateway's pods ----------------------------------------------------------------------

def test_deployment_replicas_image_and_anti_affinity():
    d = gateway(objects())
    spec, pod = d["spec"], d["spec"]["template"]
    assert spec["replicas"] == 2
    labels = pod["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    anti = pod["spec"]["affinity"]["podAntiAffinity"]
    terms = [t.get("podAffinityTerm", t) for k in anti.values() for t in k]
    assert any(t["topologyKey"] == "kubernetes.io/hostname" and
               t["labelSelector"]["matchLabels"].items() <= labels.items() for t in terms), terms
    # the Docker image (Dockerfile, docker-compose.yml: image: gatehouse)
    for c in daemon_containers(d).values():
        assert c["image"].split(":")[0] == "gatehouse", c["image"]


def test_deployment_runs_unprivileged():
    d = gateway(objects())
    podsc = d["spec"]["template"]["spec"]["securityContext"]
    for name, c in daemon_containers(d).items():
        sc = dict(podsc, **c.get("securityContext", {}))   # the container's wins
        assert sc.get("runAsNonRoot") is True, name
        assert sc.get("runAsUser") == 10001 and sc.get("runAsGroup") == 10001, name
        assert sc.get("readOnlyRootFilesystem") is True, name
        assert sc.get("allowPrivilegeEscalation") is False, name
        assert sc.get("privileged", False) is False, name
        assert sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}, name
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
    # what binds ports below 1024 as a non-root user
    assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"} in podsc["sysctls"]


def test_probes_ask_healthz_where_each_daemon_serves_it():
    """The resolver serves /healthz on GATEHOUSE_METRICS's port, the forwarder one above
    (gatehouse.conf(5), docker/healthcheck.sh); the kubelet connects to the pod's address,
    so the metrics listen on the wildcard, not on the image's loopback default."""
    d = gateway(objects())
    metrics = gateway_env(d).get("GATEHOUSE_METRICS")
    assert metrics, "GATEHOUSE_METRICS must be set: the image's is 127.0.0.1:9100"
    host, port = metrics.rsplit(":", 1)
    assert host in WILDCARDS, metrics
    want = {"gatehouse-resolver": int(port), "gatehouse-forwarder": int(port) + 1}
    for name, c in daemon_containers(d).items():
        for probe in ("readinessProbe", "livenessProbe"):
            get = c[probe]["httpGet"]
            assert get["path"] == "/healthz" and get["port"] == want[name], (name, probe, get)


def test_config_comes_from_the_configmap():
    d = gateway(objects())
    pod = d["spec"]["template"]["spec"]
    name = kustomization()["configMapGenerator"][0]["name"]
    vols = {v["name"]: v for v in pod["volumes"]}
    for c in daemon_containers(d).values():
        mounts = [m for m in c["volumeMounts"] if m["mountPath"] == "/etc/gatehouse"]
        assert len(mounts) == 1 and mounts[0].get("readOnly") is True, c["volumeMounts"]
        cm = vols[mounts[0]["name"]]["configMap"]
        assert cm["name"] == name
        assert cm["items"] == [{"key": "gatehouse.conf", "path": "gatehouse.conf"}]


def test_pdb_keeps_a_replica():
    objs = objects()
    pdb = one(objs, "PodDisruptionBudget", "gatehouse")
    labels = gateway(objs)["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert 1 <= pdb["spec"]["minAvailable"] < gateway(objs)["spec"]["replicas"]


# ---- the Service, the policy, the workload: one address, one set of ports --------------------

def test_service_is_the_answer_with_every_port(checked):
    objs = objects()
    svc = one(objs, "Service", "gatehouse")
    assert svc["spec"]["clusterIP"] == setting(checked, "answer"), \
        "the Service's clusterIP must be the configuration's `answer`"
    labels = gateway(objs)["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    want = DNS_PORTS | {(p, "TCP") for p in allowlist_ports(checked)}
    assert service_ports(svc) == want
    for p in svc["spec"]["ports"]:
        assert p.get("targetPort", p["port"]) == p["port"], p
    # and the containers declare them (the resolver DNS, the forwarder the rest)
    declared = {(p["containerPort"], p.get("protocol", "TCP"))
                for c in daemon_containers(gateway(objs)).values() for p in c["ports"]}
    assert want <= declared


def test_networkpolicy_opens_only_the_service_ports_to_the_gateway():
    objs = objects()
    pol = one(objs, "NetworkPolicy", "constrained")
    spec = pol["spec"]
    assert spec["podSelector"] == {} and spec["policyTypes"] == ["Egress"]
    assert len(spec["egress"]) == 1
    rule = spec["egress"][0]
    assert {(p["port"], p.get("protocol", "TCP")) for p in rule["ports"]} == \
        service_ports(one(objs, "Service", "gatehouse"))
    (peer,) = rule["to"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "gatehouse"}
    labels = gateway(objs)["spec"]["template"]["metadata"]["labels"]
    assert peer["podSelector"]["matchLabels"].items() <= labels.items()
    assert "ipBlock" not in peer


def test_example_workload_resolves_through_the_service():
    objs = objects()
    w = one(objs, "Deployment", "constrained")
    pod = w["spec"]["template"]["spec"]
    assert pod["dnsPolicy"] == "None"
    assert pod["dnsConfig"]["nameservers"] == [one(objs, "Service", "gatehouse")["spec"]["clusterIP"]]


def test_search_domains_lie_in_the_stub_zone_and_its_server_is_not_the_gateway():
    """The example pod's search domains resolve only if the gateway passes them to the
    cluster DNS: each must lie at or below the configuration's stub zone, whose server is
    the cluster DNS, not the gateway's own Service address (that would ask itself)."""
    with open(os.path.join(KDIR, "gatehouse.conf"), encoding="utf-8") as f:
        stubs = [l.split()[1:] for l in f if l.startswith("stub-zone ")]
    assert len(stubs) == 1, stubs
    zone, servers = stubs[0][0], stubs[0][1:]
    objs = objects()
    dep = one(objs, "Deployment", "constrained")
    searches = dep["spec"]["template"]["spec"]["dnsConfig"]["searches"]
    assert searches and all(d == zone or d.endswith("." + zone) for d in searches), searches
    assert searches[0] == "%s.svc.%s" % (dep["metadata"]["namespace"], zone)
    service_ip = one(objs, "Service", "gatehouse")["spec"]["clusterIP"]
    assert servers and service_ip not in [x.split(":")[0] for x in servers]


# ---- kubectl kustomize: renders offline ---------------------------------------------------------

def render(path):
    r = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=scaled(60))
    assert r.returncode == 0, "kubectl kustomize %s failed:\n%s" % (path, r.stderr)
    return [d for d in yaml.safe_load_all(r.stdout) if d is not None]


def configmap_ref(objs):
    vols = gateway(objs)["spec"]["template"]["spec"]["volumes"]
    (name,) = [v["configMap"]["name"] for v in vols if "configMap" in v]
    return name


@pytest.mark.skipif(shutil.which("kubectl") is None,
                    reason="kubectl is not installed: `kubectl kustomize deploy/kubernetes` not "
                           "rendered (apt-get install kubernetes-client: .ci/run does where none is)")
def test_kustomize_renders_and_an_edit_rolls_the_pods(tmp_path):
    objs = render(KDIR)
    assert {o["kind"] for o in objs} == KINDS
    cm = one(objs, "ConfigMap", "gatehouse")
    assert cm["data"]["gatehouse.conf"] == config_text()
    # the generated name carries a hash of the content, and the Deployment names it
    assert re.fullmatch(r"gatehouse-config-[a-z0-9]+", cm["metadata"]["name"]), cm["metadata"]
    assert configmap_ref(objs) == cm["metadata"]["name"]
    # an edit of gatehouse.conf changes the pod template: the pods roll
    copy = tmp_path / "kubernetes"
    shutil.copytree(KDIR, copy)
    with open(copy / "gatehouse.conf", "a", encoding="utf-8") as f:
        f.write("allow another.example 443\n")
    assert configmap_ref(render(str(copy))) != configmap_ref(objs)
