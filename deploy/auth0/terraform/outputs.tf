output "write_back_client_id" {
  description = "visage's auth0.management.client_id."
  value       = auth0_client.write_back.client_id
}

output "write_back_client_secret" {
  description = "visage's auth0.management.client_secret (write it to the client_secret_file)."
  value       = auth0_client_credentials.write_back.client_secret
  sensitive   = true
}

output "management_scopes" {
  description = "What the write-back client may do on the Management API."
  value       = local.management_scopes
}
