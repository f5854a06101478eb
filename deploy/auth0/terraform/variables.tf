variable "auth0_domain" {
  description = "The tenant's own domain (TENANT.auth0.com, not a custom domain): the Management API's audience is https://{auth0_domain}/api/v2/."
  type        = string
}

variable "visage_audience" {
  description = "Identifier of visage's API: auth.audience."
  type        = string
}

variable "visage_public_url" {
  description = "visage's server.public_url: the Action accepts uploaded pictures under it and builds avatar URLs from it."
  type        = string
}

variable "visage_picture_base_url" {
  description = "visage's storage.public_base_url when pictures are served from a CDN; null when they come from visage."
  type        = string
  default     = null
}

variable "override_idp_picture" {
  description = "Whether social users (Google, GitHub...) get visage's picture instead of their provider's."
  type        = bool
  default     = false
}

variable "write_back_field" {
  description = "visage's auth0.management.field; decides the write-back client's least privilege."
  type        = string
  default     = "app_metadata"
  validation {
    condition     = contains(["user_metadata", "app_metadata", "root"], var.write_back_field)
    error_message = "write_back_field is one of user_metadata, app_metadata, root."
  }
}

variable "reconcile" {
  description = "Grant read:users too, for `visage reconcile` (deletes the pictures of users Auth0 no longer knows)."
  type        = bool
  default     = false
}

variable "hook_token" {
  description = "visage's hooks.auth0_token: with it, a Log Stream posts the tenant's logs to visage's lifecycle hook (deleted users' pictures are erased); null: no stream."
  type        = string
  default     = null
  sensitive   = true
}

variable "event_stream" {
  description = "Also an Event Stream (user.deleted, user.updated: changed emails move the /avatar links) to the same hook, with the same token; where the tenant's plan has Event Streams."
  type        = bool
  default     = false
}
