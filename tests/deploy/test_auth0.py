"""deploy/auth0: tenant.yaml imported by the real Auth0 Deploy CLI into a stand-in tenant over
HTTPS (auth0_standin.py records what arrives), and the Terraform module parsed and held to the
same objects. Terraform itself is not installable here: the module is checked as HCL only."""

import json
import os
import re

import pytest
import yaml

from conftest import DEPLOY, REPO, missing, run, tool
from auth0_standin import TOKEN, Standin

CLI = REPO / "tests" / "clients" / "auth0-deploy" / "node_modules" / ".bin" / "a0deploy"
AUDIENCE = "https://visage.test/api"
PUBLIC_URL = "https://avatars.visage.test"
HOOK_TOKEN = "0f4c2b9e7d1a3c5e8b6d4f2a0c9e7b5d"


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    tool("node", "Debian package nodejs")
    tool("openssl", "Debian package openssl")
    if not CLI.exists():
        missing("the Auth0 Deploy CLI is not installed (npm ci in tests/clients/auth0-deploy)")
    work = tmp_path_factory.mktemp("auth0")
    cert, key = work / "cert.pem", work / "key.pem"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", cert])
    with Standin(cert, key) as standin:
        config = json.loads((DEPLOY / "auth0" / "config.example.json").read_text())
        del config["AUTH0_CLIENT_ID"], config["AUTH0_CLIENT_SECRET"]
        config["AUTH0_DOMAIN"] = standin.domain
        # A token of its own: the CLI skips the client-credentials exchange.
        config["AUTH0_ACCESS_TOKEN"] = TOKEN
        config["AUTH0_KEYWORD_REPLACE_MAPPINGS"].update(
            AUTH0_DOMAIN=standin.domain, VISAGE_AUDIENCE=AUDIENCE, VISAGE_PUBLIC_URL=PUBLIC_URL,
            VISAGE_HOOK_TOKEN=HOOK_TOKEN,
        )
        (work / "config.json").write_text(json.dumps(config))
        result = run(
            [CLI, "import", "--config_file", work / "config.json",
             "--input_file", DEPLOY / "auth0" / "tenant.yaml"],
            env=dict(os.environ, NODE_EXTRA_CA_CERTS=str(cert)), check=False, timeout=600,
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        yield standin, config


def posted(standin, path):
    bodies = [r["body"] for r in standin.tenant.requests if r["method"] == "POST" and r["path"] == path]
    assert len(bodies) == 1, f"one POST {path}, got {len(bodies)}: {standin.tenant.requests}"
    return bodies[0]


def test_the_api_has_rbac_and_permissions_in_the_token(imported):
    standin, _ = imported
    api = posted(standin, "/api/v2/resource-servers")
    assert api["identifier"] == AUDIENCE
    assert api["signing_alg"] == "RS256"
    assert api["enforce_policies"] is True
    assert api["token_dialect"] == "access_token_authz"
    assert [s["value"] for s in api["scopes"]] == ["write:avatars"]


def test_the_write_back_client_gets_least_privilege(imported):
    standin, config = imported
    client = posted(standin, "/api/v2/clients")
    assert client["app_type"] == "non_interactive"
    assert client["grant_types"] == ["client_credentials"]
    created = next(c for c in standin.tenant.clients if c["name"] == client["name"])
    grant = posted(standin, "/api/v2/client-grants")
    assert grant["client_id"] == created["client_id"]
    assert grant["audience"] == f"https://{standin.domain}/api/v2/"
    # The example configuration is for auth0.management.field = app_metadata.
    assert grant["scope"] == ["update:users_app_metadata"]


def test_the_action_is_the_tested_one_with_its_secrets_deployed_and_bound(imported):
    standin, _ = imported
    action = posted(standin, "/api/v2/actions/actions")
    assert action["code"] == (REPO / "actions" / "post-login.js").read_text()
    assert action["runtime"] == "node22"
    assert action["supported_triggers"] == [{"id": "post-login", "version": "v3"}]
    assert {s["name"]: s["value"] for s in action["secrets"]} == {
        "VISAGE_PUBLIC_URL": PUBLIC_URL, "VISAGE_OVERRIDE_IDP_PICTURE": "false",
    }
    created = next(a for a in standin.tenant.actions if a["name"] == action["name"])
    deploys = [r for r in standin.tenant.requests
               if r["method"] == "POST" and r["path"] == f"/api/v2/actions/actions/{created['id']}/deploy"]
    assert len(deploys) == 1
    bindings = [r["body"] for r in standin.tenant.requests
                if r["method"] == "PATCH" and r["path"] == "/api/v2/actions/triggers/post-login/bindings"]
    assert bindings == [{"bindings": [
        {"ref": {"type": "action_name", "value": action["name"]}, "display_name": action["name"]},
    ]}]


def test_the_log_stream_sends_every_log_to_the_hook_with_its_token(imported):
    standin, _ = imported
    stream = posted(standin, "/api/v2/log-streams")
    assert stream["type"] == "http"
    assert stream["sink"] == {
        "httpEndpoint": f"{PUBLIC_URL}/v1/hooks/auth0",
        "httpContentType": "application/json",
        "httpContentFormat": "JSONARRAY",
        # Auth0 sends this field as the whole Authorization header.
        "httpAuthorization": f"Bearer {HOOK_TOKEN}",
    }
    # No filter: no `sdu` is filtered out (visage ignores the other types).
    assert not stream.get("filters")


def test_the_import_deletes_nothing(imported):
    standin, config = imported
    assert config["AUTH0_ALLOW_DELETE"] is False
    assert [r for r in standin.tenant.requests if r["method"] == "DELETE"] == []


# --- Terraform: the same objects -------------------------------------------------------------


def unquote(value):
    return value[1:-1] if isinstance(value, str) and value.startswith('"') else value


@pytest.fixture(scope="module")
def terraform():
    try:
        import hcl2
    except ImportError:
        missing("python-hcl2 is not installed (PyPI python-hcl2; tests/deploy/run.sh installs it)")
    module = DEPLOY / "auth0" / "terraform"
    parsed = {f.name: hcl2.load(f.open()) for f in sorted(module.glob("*.tf"))}
    resources = {}
    for block in parsed["main.tf"]["resource"]:
        for kind, named in block.items():
            for name, body in named.items():
                resources[(unquote(kind), unquote(name))] = body
    return module, parsed, resources


def test_terraform_module_mirrors_tenant_yaml(terraform):
    module, parsed, resources = terraform
    tenant = yaml.safe_load(
        re.sub(r"@@\w+@@", "[]", (DEPLOY / "auth0" / "tenant.yaml").read_text())
    )
    api = resources[("auth0_resource_server", "visage")]
    yaml_api = tenant["resourceServers"][0]
    for key in ["signing_alg", "enforce_policies", "token_dialect", "allow_offline_access",
                "skip_consent_for_verifiable_first_party_clients", "token_lifetime"]:
        assert unquote(api[key]) == yaml_api[key], key
    scopes = resources[("auth0_resource_server_scopes", "visage")]["scopes"]
    assert [unquote(s["name"]) for s in scopes] == [s["value"] for s in yaml_api["scopes"]]

    client = resources[("auth0_client", "write_back")]
    yaml_client = tenant["clients"][0]
    assert unquote(client["name"]) == yaml_client["name"]
    assert unquote(client["app_type"]) == yaml_client["app_type"]
    assert [unquote(g) for g in client["grant_types"]] == yaml_client["grant_types"]

    action = resources[("auth0_action", "picture")]
    yaml_action = tenant["actions"][0]
    assert unquote(action["name"]) == yaml_action["name"]
    assert unquote(action["runtime"]) == yaml_action["runtime"]
    assert action["deploy"] is True
    code = re.fullmatch(r'\$\{file\("\$\{path\.module\}/(.+)"\)\}', action["code"]).group(1)
    assert (module / code).resolve() == (REPO / "actions" / "post-login.js").resolve()
    assert [(unquote(t["id"]), unquote(t["version"])) for t in action["supported_triggers"]] == [
        (t["id"], t["version"]) for t in yaml_action["supported_triggers"]
    ]
    secrets = parsed["main.tf"]["locals"][0]["action_secrets"]
    for secret in yaml_action["secrets"]:
        assert f"{secret['name']} = " in secrets, secret["name"]

    binding = resources[("auth0_trigger_action", "post_login")]
    assert unquote(binding["trigger"]) == "post-login"
    assert binding["action_id"] == "${auth0_action.picture.id}"
    assert unquote(binding["display_name"]) == tenant["triggers"]["post-login"][0]["display_name"]


def test_terraform_grant_is_least_privilege_for_each_field(terraform):
    _, parsed, resources = terraform
    grant = resources[("auth0_client_grant", "write_back")]
    assert grant["audience"] == '"https://${var.auth0_domain}/api/v2/"'
    assert grant["scopes"] == "${local.management_scopes}"
    scopes = parsed["main.tf"]["locals"][0]["management_scopes"]
    assert scopes == (
        '${concat(var.write_back_field == "app_metadata" ? ["update:users_app_metadata"] : '
        '["update:users"], var.reconcile ? ["read:users"] : [])}'
    )
    (field,) = [v for v in parsed["variables.tf"]["variable"] if '"write_back_field"' in v]
    assert unquote(field['"write_back_field"']["default"]) == "app_metadata"


def test_terraform_streams_mirror_tenant_yaml(terraform):
    _, parsed, resources = terraform
    tenant = yaml.safe_load(
        re.sub(r"@@\w+@@", "[]", (DEPLOY / "auth0" / "tenant.yaml").read_text())
    )
    (yaml_stream,) = tenant["logStreams"]
    stream = resources[("auth0_log_stream", "lifecycle")]
    assert stream["count"] == '${var.hook_token == null ? 0 : 1}'
    assert unquote(stream["name"]) == yaml_stream["name"]
    assert unquote(stream["type"]) == yaml_stream["type"]
    (sink,) = stream["sink"]
    assert unquote(sink["http_endpoint"]) == "${var.visage_public_url}/v1/hooks/auth0"
    assert unquote(sink["http_content_type"]) == yaml_stream["sink"]["httpContentType"]
    assert unquote(sink["http_content_format"]) == yaml_stream["sink"]["httpContentFormat"]
    assert unquote(sink["http_authorization"]) == "Bearer ${var.hook_token}"
    events = resources[("auth0_event_stream", "lifecycle")]
    assert [unquote(s) for s in events["subscriptions"]] == ["user.deleted", "user.updated"]
    (webhook,) = events["webhook_configuration"]
    assert unquote(webhook["webhook_endpoint"]) == "${var.visage_public_url}/v1/hooks/auth0"
    (auth,) = webhook["webhook_authorization"]
    assert unquote(auth["method"]) == "bearer" and auth["token"] == "${var.hook_token}"
    (token,) = [v for v in parsed["variables.tf"]["variable"] if '"hook_token"' in v]
    assert token['"hook_token"']["sensitive"] is True
