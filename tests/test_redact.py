"""meshcheck.redact: every credential shape is redacted, and nothing else is touched (the suite's own
messages of a healthy run, and of its failures, come out unchanged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from meshcheck.redact import REDACTED, redact, redact_obj
from meshcheck.sim import scenario as scenarios
from meshcheck.sim.extras import fake_secrets
from tests.harness import ROOT

JWT = ("eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphIn0."
       "c2lnbmF0dXJlLW9mLWEtZmFrZS10b2tlbg")
OPAQUE = "0f3c9d8e7b6a5f4e3d2c1b0a99887766"
# Provider shapes are put together here, so that no scanner takes this file for a leak.
GITHUB = "gh" + "p_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
GITHUB_FINE = "github" + "_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
SLACK = "xo" + "xb-" + "123456789012-abcdefghijkl"


def gone(secret: str, text: str) -> None:
    out = redact(text)
    assert secret not in out, out
    assert redact(out) == out, "redacting twice changes nothing more"


# --- each shape -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    f"Authorization: Bearer {OPAQUE}",
    f'{{"Authorization": "Bearer {OPAQUE}"}}',
    f"curl -H 'authorization: bearer {OPAQUE}' https://x",
    f"proxy-authorization=Basic {OPAQUE}",
    f"Bearer {OPAQUE}",
    f"sent header bearer {OPAQUE} to upstream",
])
def test_bearer_tokens_and_authorization_headers(text: str) -> None:
    gone(OPAQUE, text)
    assert "Bearer" not in redact(text)  # the marker never says Bearer: a search for the word finds only leaks


def test_authorization_keeps_its_header_name() -> None:
    assert redact(f"Authorization: Basic {OPAQUE}") == f"Authorization: {REDACTED}"


@pytest.mark.parametrize("text", [JWT, f"token={JWT}", f"GET /api?id_token={JWT}&x=1", f"jwt {JWT}.", f'"{JWT}"'])
def test_jwts(text: str) -> None:
    gone(JWT, text)
    gone(JWT.split(".")[1], text)


@pytest.mark.parametrize("key", ["token", "client-key-data", "client-certificate-data", "password"])
def test_kubeconfig_credentials(key: str) -> None:
    value = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2Zz09"
    kubeconfig = f"users:\n- name: admin\n  user:\n    {key}: {value}\n    username: admin\n"
    out = redact(kubeconfig)
    assert value not in out and f"    {key}: {REDACTED}\n" in out and "username: admin" in out


@pytest.mark.parametrize("label", ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY",
                                   "ENCRYPTED PRIVATE KEY"])
def test_pem_private_keys(label: str) -> None:
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
    text = f"tls.key: |\n  -----BEGIN {label}-----\n  {body}\n  -----END {label}-----\nnext: line"
    out = redact(text)
    assert body not in out and "PRIVATE KEY" not in out and "next: line" in out


def test_a_truncated_private_key_is_redacted_to_the_end() -> None:
    out = redact("key:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
    assert "MIIEvQ" not in out


def test_certificates_are_no_secret() -> None:
    cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----"
    assert redact(cert) == cert


@pytest.mark.parametrize("text,secret", [
    ("token=abc123def", "abc123def"),
    ("api_key=AIzaFakeKey", "AIzaFakeKey"),
    ("apiKey: s3cr3t-value", "s3cr3t-value"),
    ("x-api-key=Fake-Envoy-Key-2718", "Fake-Envoy-Key-2718"),
    ("password=hunter2 user=bob", "hunter2"),
    ("DB_PASSWORD='correct horse'", "correct horse"),
    ('{"clientSecret": "abc-123"}', "abc-123"),
    ("secret=shh", "shh"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ('{"message":"fraud check https://x/check?api_key=K-31337 answered 503"}', "K-31337"),
    ("gRPC config: x-api-key=K-2718 rejected", "K-2718"),
    ("postgres://payments:Pa55-word@db:5432/pay", "Pa55-word"),
    ("https://admin:hunter2@grafana.example.com/api", "hunter2"),
])
def test_key_value_credentials(text: str, secret: str) -> None:
    gone(secret, text)


def test_only_the_value_goes() -> None:
    assert redact("connecting with password=hunter2 user=bob") == f"connecting with password={REDACTED} user=bob"
    assert redact("https://admin:hunter2@host/x") == f"https://admin:{REDACTED}@host/x"


@pytest.mark.parametrize("secret", [GITHUB, GITHUB_FINE, AWS, SLACK])
def test_provider_tokens(secret: str) -> None:
    gone(secret, f"export X={secret} # in a log line")
    gone(secret, f"found {secret} in the environment")


def test_empty_and_placeholder_values_stay() -> None:
    for text in ("token: null", "password: ''", 'token=""', "secret: true", "token:", "password: |"):
        assert redact(text) == text


# --- objects ------------------------------------------------------------------------------------------


def test_secret_data_is_blanked_and_its_last_applied_annotation_too() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "db", "annotations": {
                  "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"password":"aHVudGVyMg=="}}',
                  "owner": "team-a"}},
              "data": {"password": "aHVudGVyMg==", "user": "Ym9i"}, "stringData": {"url": "postgres://db"}}
    out = redact_obj(secret)
    assert out["data"] == {"password": REDACTED, "user": REDACTED}
    assert out["stringData"] == {"url": REDACTED}
    assert out["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": REDACTED,
                                              "owner": "team-a"}
    assert secret["data"]["user"] == "Ym9i", "the original is left alone"


def test_env_vars_named_like_secrets() -> None:
    env = [{"name": "API_TOKEN", "value": "t0k3n"}, {"name": "DB_PASSWORD", "value": "pw"},
           {"name": "CLIENT_SECRET", "value": "s"}, {"name": "SIGNING_KEY", "value": "k"},
           {"name": "PORT", "value": "8080"}, {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "db",
                                                                                                    "key": "pw"}}}]
    out = redact_obj({"spec": {"containers": [{"name": "server", "env": env}]}})
    values = {e["name"]: e.get("value") for e in out["spec"]["containers"][0]["env"]}
    assert values == {"API_TOKEN": REDACTED, "DB_PASSWORD": REDACTED, "CLIENT_SECRET": REDACTED,
                      "SIGNING_KEY": REDACTED, "PORT": "8080", "FROM_SECRET": None}
    assert out["spec"]["containers"][0]["env"][-1]["valueFrom"] == {"secretKeyRef": {"name": "db", "key": "pw"}}


def test_kubeconfig_objects_and_credential_keys() -> None:
    kubeconfig = {"users": [{"name": "u", "user": {"token": "abc", "client-key-data": "LS0t",
                                                   "client-certificate-data": "LS0t", "username": "u"}}],
                  "clusters": [{"cluster": {"certificate-authority-data": "LS0tCA==", "server": "https://x"}}]}
    out = redact_obj(kubeconfig)
    assert out["users"][0]["user"] == {"token": REDACTED, "client-key-data": REDACTED,
                                       "client-certificate-data": REDACTED, "username": "u"}
    assert out["clusters"] == kubeconfig["clusters"], "a CA is no secret"


def test_strings_inside_objects_are_redacted_and_others_kept() -> None:
    obj = {"message": f"Authorization: Bearer {OPAQUE}", "count": 3, "ok": True, "list": [JWT, None],
           "secretName": "tls-cert", "automountServiceAccountToken": False}
    out = redact_obj(obj)
    assert OPAQUE not in json.dumps(out) and JWT not in json.dumps(out)
    assert out["count"] == 3 and out["ok"] is True and out["list"][1] is None
    assert out["secretName"] == "tls-cert" and out["automountServiceAccountToken"] is False


def test_the_secrets_everywhere_scenario_is_redacted_whatever_the_form() -> None:
    """Each made-up credential the scenario plants goes, from the scenario written as YAML or JSON."""
    model = scenarios.load("secrets-everywhere")
    planted = fake_secrets()
    assert len(planted) >= 8
    body = {k: v for k, v in model.items() if k != "fake_secrets"}
    for text in (json.dumps(body), json.dumps(body, indent=2), json.dumps(redact_obj(body))):
        assert not [secret for secret in planted if secret in redact(text)]
    import yaml

    dumped = yaml.safe_dump(body)
    assert all(s in dumped for s in planted), "every listed secret is planted somewhere"
    assert not [s for s in planted if s in redact(dumped)]


# --- precise: ordinary text is left alone ---------------------------------------------------------------

ORDINARY = [
    "ServiceAccount kubernetes-dashboard/admin-user is bound to cluster-admin by ClusterRoleBinding admin-user "
    "and can get a token through TokenRequest (kubectl create token)",
    "no token can be obtained for ServiceAccount kube-system/dashboard-admin: the API has no TokenRequest and no "
    "service-account-token Secret names it",
    "the kubeconfig's bearer token, client certificate and CA (in a file only its owner can read)",
    "authorization is not as the profile requires: no AuthorizationPolicy denies by default in online-boutique",
    "the kubeconfig's user may not use the service proxy: grant it get on services/proxy (the grader role in "
    "manifests/grader/grader.yaml has it)",
    "Kiali's tracing link http://tracing.istio-system/jaeger reaches Service istio-system/tracing by its cluster DNS "
    "name tracing.istio-system, port 80",
    "Grafana has the Prometheus data source 'Prometheus' (http://prometheus:9090)",
    'sum(rate(istio_requests_total{reporter="destination",destination_workload="frontend"}[5m]))',
    "Back-off restarting failed container server in pod frontend-5d8f_online-boutique(0c13e13d-da03-bd61)",
    "Secret online-boutique/tls-cert of type kubernetes.io/service-account-token",
    "a Secret of type kubernetes.io/service-account-token annotated with kubernetes.io/service-account.name=admin",
    "keys: 3, tokens=5, key=value, monkey=banana, secretName=tls, tokenizer=fast, passwordless=true",
    "2024-06-01T10:00:01.000000Z\tinfo\tEnvoy proxy is ready",
    "[2024-06-01 10:00:02,123] loadgenerator/INFO/locust.main: Starting Locust 2.20.0",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert redact(text) == text


def test_the_suite_s_failure_messages_are_unchanged() -> None:
    """What the project's scenario tests expect the suite to say when a check fails, word for word."""
    from tests.test_scenarios import EXPECT

    fragments = {f for expect in EXPECT.values() for f in (*expect.fail.values(), *expect.skip.values())}
    assert len(fragments) > 50
    assert [f for f in fragments if redact(f) != f] == []


def test_long_input_takes_linear_time() -> None:
    """About 0.4 s in all on an idle machine; a pattern that backtracks quadratically took 10 s for one."""
    began = time.monotonic()
    for text in ("a-" * 50_000, "abc." * 30_000, "x: " * 30_000, "a://b:" * 30_000, "token" * 20_000,
                 "eyJ" + "a" * 100_000, '"' * 50_000):
        redact(text)
    assert time.monotonic() - began < 8.0


# --- a healthy run, as the suite reports it ---------------------------------------------------------------

COLLECTOR = textwrap.dedent('''
    """Writes every CheckResult of the run to $MESHCHECK_RESULTS (a test helper, loaded with -p)."""
    import json
    import os

    from meshcheck.plugin import STATE


    def pytest_sessionfinish(session):
        state = session.config.stash.get(STATE, None)
        results = [] if state is None else [r for _, r in state.results]
        with open(os.environ["MESHCHECK_RESULTS"], "w") as out:
            json.dump([{"check": r.check, "passed": r.passed, "message": r.message, "remediation": r.remediation,
                        "diagnostics": r.diagnostics, "objects": list(r.objects)} for r in results], out,
                      default=str)
''')


def run_collecting(tmp_path: Path, scenario: str, *args: str) -> list[dict]:
    (tmp_path / "meshcheck_collect.py").write_text(COLLECTOR)
    out = tmp_path / "results.json"
    env = {**os.environ, "MESHCHECK_RESULTS": str(out),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH")]))}
    subprocess.run([sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "-p",
                    "meshcheck_collect", "--cluster=sim", f"--sim-scenario={scenario}", "--basetemp",
                    str(tmp_path / "base"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return json.loads(out.read_text())


def test_a_healthy_run_s_messages_are_unchanged(tmp_path: Path) -> None:
    results = run_collecting(tmp_path, "healthy")
    assert len(results) >= 45 and all(r["passed"] for r in results)
    for result in results:
        assert redact(result["message"]) == result["message"], result["check"]
        assert redact(result["remediation"]) == result["remediation"], result["check"]
        diagnostics = json.loads(json.dumps(result["diagnostics"], default=str))
        assert redact_obj(diagnostics) == diagnostics, result["check"]
