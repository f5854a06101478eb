//! `/openapi.json`: the contract as OpenAPI 3, generated from the handlers' annotations.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "visage",
        description = "Avatars for apps that sign users in with Auth0."
    ),
    paths(
        crate::http::health::healthz,
        crate::http::health::readyz,
        crate::http::health::metrics,
        openapi_json,
        crate::http::page::index,
        crate::http::page::editor_js,
        crate::http::initials::initials,
        crate::http::avatar::avatar,
        crate::http::upload::upload_me,
        crate::http::upload::upload_user,
        crate::http::upload::delete_me,
        crate::http::upload::delete_user,
        crate::http::pictures::get_picture,
        crate::http::current::current,
        crate::http::hooks::auth0_hook,
    ),
    components(schemas(
        ErrorBody,
        crate::http::upload::UploadResponse,
        crate::http::hooks::HookAnswer
    ))
)]
pub(crate) struct ApiDoc;

/// Serialized once: the document is fixed at compile time.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let Ok(mut document) = serde_json::to_value(ApiDoc::openapi()) else {
        return String::new();
    };
    contract_details(&mut document);
    serde_json::to_string_pretty(&document).unwrap_or_default()
});

/// The hook's path: a shared secret of the tenant's streams, not a user's token.
const HOOK_PATH: &str = "/v1/hooks/auth0";

/// What the handlers' annotations leave out, added once for every operation: the bearer scheme
/// on `/v1` (the hook's own on the hook), the upload bodies (multipart and raw `image/*`), `ErrorBody` on every error, the
/// Gravatar-style aliases and every image type a route can answer with.
fn contract_details(document: &mut Value) {
    document["components"]["securitySchemes"]["bearer"] = json!({
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An RS256 access token of the Auth0 tenant `auth.issuer` for the API `auth.audience`",
    });
    document["components"]["securitySchemes"]["hook_token"] = json!({
        "type": "http",
        "scheme": "bearer",
        "description": "`hooks.auth0_token`, as the tenant's Log Stream or Event Stream sends it",
    });
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in operations.iter_mut() {
            if !matches!(
                method.as_str(),
                "get" | "post" | "delete" | "put" | "patch" | "head"
            ) {
                continue;
            }
            if path == HOOK_PATH {
                operation["security"] = json!([{ "hook_token": [] }]);
            } else if path.starts_with("/v1/") {
                operation["security"] = json!([{ "bearer": [] }]);
                operation["responses"]["401"]["description"] =
                    json!("unauthorized: no, malformed, expired or wrongly signed token");
            }
            if method == "post" && path.starts_with("/v1/") && path != HOOK_PATH {
                operation["requestBody"] = upload_body();
                add_param(
                    operation,
                    "crop",
                    "query",
                    "`x,y,w,h` in pixels of the upright image: the master is the largest centred square inside it",
                );
            }
            if let Some(types) = image_types(path) {
                let content: serde_json::Map<String, Value> = types
                    .iter()
                    .map(|t| {
                        (
                            (*t).to_owned(),
                            json!({ "schema": { "type": "string", "format": "binary" } }),
                        )
                    })
                    .collect();
                operation["responses"]["200"]["content"] = Value::Object(content);
                if operation["responses"]["200"]["description"].is_null() {
                    operation["responses"]["200"]["description"] = json!("The picture");
                }
                add_alias(operation, "size", "s");
            }
            if path.starts_with("/avatar/") {
                add_alias(operation, "default", "d");
                add_alias(operation, "rating", "r");
                add_alias(operation, "forcedefault", "f");
            }
            error_bodies(operation);
        }
    }
    avatar_without_hash(paths);
}

/// `GET /avatar/` (no hash: the fallback) is an operation of the contract of its own; a path
/// parameter cannot be empty, so it is the `/avatar/{hash}` operation without its `hash`.
fn avatar_without_hash(paths: &mut serde_json::Map<String, Value>) {
    let Some(mut item) = paths.get("/avatar/{hash}").cloned() else {
        return;
    };
    if let Some(list) = item["get"]["parameters"].as_array_mut() {
        list.retain(|p| p["in"] != "path");
    }
    item["get"]["operationId"] = json!("avatar_fallback");
    item["get"]["summary"] = json!("The fallback picture, as for a hash without a Gravatar");
    paths.insert("/avatar/".to_owned(), item);
}

/// The image types a public route can answer with (by `Accept` or `format`).
fn image_types(path: &str) -> Option<&'static [&'static str]> {
    if path.starts_with("/initials/") {
        Some(&[
            "image/png",
            "image/svg+xml",
            "image/jpeg",
            "image/webp",
            "image/avif",
        ])
    } else if path.starts_with("/avatar/") {
        Some(&[
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "image/avif",
        ])
    } else if path.starts_with("/pictures/") {
        Some(&["image/jpeg", "image/png", "image/webp", "image/avif"])
    } else {
        None
    }
}

fn upload_body() -> Value {
    let binary = json!({ "type": "string", "format": "binary" });
    let mut content = serde_json::Map::new();
    content.insert(
        "multipart/form-data".into(),
        json!({
            "schema": {
                "type": "object",
                "properties": {
                    "picture": { "type": "string", "format": "binary", "description": "The image file (or a part named `file`)" },
                    "file": { "type": "string", "format": "binary", "description": "Alternative name of the file part" },
                    "crop": { "type": "string", "description": "`x,y,w,h`, as the query parameter" },
                },
            },
        }),
    );
    for raw in ["image/png", "image/jpeg", "image/webp", "image/gif"] {
        content.insert(raw.into(), json!({ "schema": binary }));
    }
    json!({
        "required": true,
        "description": "A browser form's multipart body with one file part named `picture` (or `file`), or the raw image with its `Content-Type`; the format is sniffed from the bytes: PNG, JPEG, WebP or GIF (first frame)",
        "content": content,
    })
}

/// `ErrorBody` as JSON on every 4xx and 5xx answer.
fn error_bodies(operation: &mut Value) {
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        response["content"] = json!({
            "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } }
        });
        if response["description"].as_str().is_none_or(str::is_empty) {
            response["description"] = json!(format!("Error {status}"));
        }
    }
}

fn parameters(operation: &mut Value) -> Option<&mut Vec<Value>> {
    if !operation["parameters"].is_array() {
        operation["parameters"] = json!([]);
    }
    operation["parameters"].as_array_mut()
}

fn add_param(operation: &mut Value, name: &str, location: &str, description: &str) {
    let Some(list) = parameters(operation) else {
        return;
    };
    if !list.iter().any(|p| p["name"] == name) {
        list.push(json!({
            "name": name,
            "in": location,
            "required": false,
            "description": description,
            "schema": { "type": "string" },
        }));
    }
}

/// Adds the query parameter `alias` as a copy of `name` (when `name` is documented).
fn add_alias(operation: &mut Value, name: &str, alias: &str) {
    let Some(list) = parameters(operation) else {
        return;
    };
    if list.iter().any(|p| p["name"] == alias) {
        return;
    }
    let Some(original) = list.iter().find(|p| p["name"] == name).cloned() else {
        return;
    };
    let mut copy = original;
    copy["name"] = json!(alias);
    copy["description"] = json!(format!("Alias of `{name}`"));
    list.push(copy);
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3 description of the contract", content_type = "application/json")))]
pub(crate) async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}
