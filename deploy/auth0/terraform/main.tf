# visage's objects in an Auth0 tenant, as Terraform (the same as ../tenant.yaml for the Deploy
# CLI): the API, the write-back client and its grant, the post-login Action and its binding.

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
