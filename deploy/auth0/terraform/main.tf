# visage's objects in an Auth0 tenant, as Terraform (the same as ../tenant.yaml for the Deploy
# CLI): the API, the write-back client and its grant, the post-login Action and its binding,
# and the lifecycle hook's Log Stream (and, optionally, Event Stream).

locals {
  # Least privilege on the Management API: app_metadata alone is update:users_app_metadata;
  # user_metadata and the root picture need update:users; reconcile reads users.
  management_scopes = concat(
    var.write_back_field == "app_metadata" ? ["update:users_app_metadata"] : ["update:users"],
    var.reconcile ? ["read:users"] : [],
  )
  action_secrets = merge(
    {
      VISAGE_PUBLIC_URL           = var.visage_public_url
      VISAGE_OVERRIDE_IDP_PICTURE = tostring(var.override_idp_picture)
    },
    var.visage_picture_base_url == null ? {} : { VISAGE_PICTURE_BASE_URL = var.visage_picture_base_url },
  )
}

resource "auth0_resource_server" "visage" {
  name        = "visage"
  identifier  = var.visage_audience
  signing_alg = "RS256"
  # RBAC, and "Add Permissions in the Access Token": an admin's token carries `permissions`,
  # and a user cannot give themselves write:avatars by asking for the scope.
  enforce_policies                                = true
  token_dialect                                   = "access_token_authz"
  allow_offline_access                            = false
  skip_consent_for_verifiable_first_party_clients = true
  token_lifetime                                  = 86400
}

resource "auth0_resource_server_scopes" "visage" {
  resource_server_identifier = auth0_resource_server.visage.identifier
  scopes {
    name        = "write:avatars"
    description = "Change any user's picture (auth.admin_scope)"
  }
}

# visage's write-back (auth0.management.client_id and its secret): client credentials only.
resource "auth0_client" "write_back" {
  name        = "visage write-back"
  description = "visage writes the uploaded picture's URL to the user's profile"
  app_type    = "non_interactive"
  grant_types = ["client_credentials"]
  jwt_configuration {
    alg = "RS256"
  }
}

resource "auth0_client_credentials" "write_back" {
  client_id             = auth0_client.write_back.id
  authentication_method = "client_secret_post"
}

resource "auth0_client_grant" "write_back" {
  client_id = auth0_client.write_back.id
  audience  = "https://${var.auth0_domain}/api/v2/"
  scopes    = local.management_scopes
}

# actions/post-login.js, tested by `node --test actions/`.
resource "auth0_action" "picture" {
  name    = "visage picture"
  runtime = "node22"
  deploy  = true
  code    = file("${path.module}/../../../actions/post-login.js")

  supported_triggers {
    id      = "post-login"
    version = "v3"
  }

  dynamic "secrets" {
    for_each = local.action_secrets
    content {
      name  = secrets.key
      value = secrets.value
    }
  }
}

# Adds the Action to the post-login flow, leaving any other Action of the flow where it is.
resource "auth0_trigger_action" "post_login" {
  trigger      = "post-login"
  action_id    = auth0_action.picture.id
  display_name = "visage picture"
}

# The lifecycle hook (POST /v1/hooks/auth0): the tenant's logs, of which visage applies `sdu`
# (a deleted user's pictures are erased) and ignores the rest. Auth0 sends http_authorization as
# the whole Authorization header, hence "Bearer ". Same as logStreams in ../tenant.yaml.
resource "auth0_log_stream" "lifecycle" {
  count = var.hook_token == null ? 0 : 1
  name  = "visage lifecycle"
  type  = "http"
  sink {
    http_endpoint       = "${var.visage_public_url}/v1/hooks/auth0"
    http_content_type   = "application/json"
    http_content_format = "JSONARRAY"
    http_authorization  = "Bearer ${var.hook_token}"
  }
}

# The same hook as CloudEvents: user.deleted erases, user.updated moves or drops the /avatar
# links of a changed or unverified email.
resource "auth0_event_stream" "lifecycle" {
  count            = var.hook_token != null && var.event_stream ? 1 : 0
  name             = "visage-lifecycle"
  destination_type = "webhook"
  subscriptions    = ["user.deleted", "user.updated"]
  webhook_configuration {
    webhook_endpoint = "${var.visage_public_url}/v1/hooks/auth0"
    webhook_authorization {
      method = "bearer"
      token  = var.hook_token
    }
  }
}
