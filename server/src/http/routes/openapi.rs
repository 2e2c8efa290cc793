//! The served OpenAPI document, assembled in Rust with one owner per part:
//!
//! - `/search` and its schemas: the published contract (`docs/api/search-api.yaml`,
//!   kept in the repository), served unchanged; the extensions its handler declares
//!   (parameters, statuses) are appended after it, never in its place;
//! - every other route: derived from the handlers' `#[utoipa::path]` and the Rust
//!   types they answer (`Envelope<T>`, `SyncReport`…), gathered by the router itself
//!   (utoipa-axum), so a route cannot be served undocumented nor documented unserved;
//! - what every route may answer because of the middleware (414, 429, 500, 503) is
//!   added here, next to no handler.
//!
//! The contract is OpenAPI 3.0 (`nullable`), utoipa writes 3.1 (`type: [x, "null"]`):
//! the document is served as 3.0.3, the derived parts written down to it.

use serde_json::{Map, Value, json};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The published search contract, as kept in the repository.
pub const CONTRACT_YAML: &str = include_str!("../../../../docs/api/search-api.yaml");

/// What is not a route's: the title, the security scheme, shared schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Boxoffice",
        description = "Boxoffice serves the Fever Providers API's /search exactly as published, plus item details, health, and an admin API (bearer token)."
    ),
    components(schemas(crate::http::error::ErrorEnvelope)),
    modifiers(&AdminToken),
    tags(
        (name = "search", description = "The public contract"),
        (name = "events", description = "Item details"),
        (name = "operations", description = "Health, readiness, metrics, the status page"),
        (name = "admin", description = "Operators' API (bearer token)"),
    )
)]
struct ApiDoc;

struct AdminToken;

impl utoipa::Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "adminToken",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Statuses every route may answer because of the layers in front of it.
fn layer_responses(public: bool) -> Vec<(&'static str, &'static str)> {
    let mut statuses = vec![
        ("414", "The query string is longer than `server.max_query_bytes`"),
        (
            "429",
            "Too many requests from this client (`server.rate_limit`); see `Retry-After`",
        ),
        ("500", "An unexpected error (logged)"),
    ];
    if public {
        statuses.push((
            "503",
            "The request took longer than `server.request_timeout`, or the store is unavailable",
        ));
    }
    statuses
}

/// The document: the contract's `/search`, the routes' own parts, downgraded to 3.0.
pub fn document(routes: utoipa::openapi::OpenApi) -> Value {
    let mut derived = ApiDoc::openapi();
    derived.merge(routes);
    let mut document = serde_json::to_value(&derived).unwrap_or_default();
    to_openapi_30(&mut document);
    document["openapi"] = json!("3.0.3");
    let contract = contract();
    splice_search(&mut document, &contract);
    if let Some(paths) = document["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let public = !path.starts_with("/admin");
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
                    continue;
                };
                for (status, description) in layer_responses(public) {
                    responses.entry(status).or_insert_with(|| {
                        json!({
                            "description": description,
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
                        })
                    });
                }
            }
        }
    }
    document
}

/// The contract, parsed.
pub fn contract() -> Value {
    serde_yaml_ng::from_str(CONTRACT_YAML).unwrap_or_default()
}

/// Puts the contract's `/search` in place of the derived one, unchanged, followed by
/// the derived one's extensions; and the contract's schemas over the derived ones.
fn splice_search(document: &mut Value, contract: &Value) {
    let derived = document["paths"]["/search"]["get"].take();
    let mut operation = contract["paths"]["/search"]["get"].clone();
    let known: Vec<Value> = operation["parameters"]
        .as_array()
        .map(|params| params.iter().map(|p| p["name"].clone()).collect())
        .unwrap_or_default();
    if let (Some(params), Some(extra)) = (
        operation["parameters"].as_array_mut(),
        derived["parameters"].as_array(),
    ) {
        params.extend(extra.iter().filter(|p| !known.contains(&p["name"])).cloned());
    }
    if let (Some(responses), Some(extra)) = (
        operation["responses"].as_object_mut(),
        derived["responses"].as_object(),
    ) {
        for (status, response) in extra {
            responses
                .entry(status.clone())
                .or_insert_with(|| response.clone());
        }
    }
    document["paths"]["/search"] = json!({ "get": operation });
    if let (Some(schemas), Some(published)) = (
        document["components"]["schemas"].as_object_mut(),
        contract["components"]["schemas"].as_object(),
    ) {
        for (name, schema) in published {
            schemas.insert(name.clone(), schema.clone());
        }
    }
}

/// Writes utoipa's OpenAPI 3.1 schema forms down to 3.0: `type: [t, "null"]` and
/// `oneOf: [{type: null}, s]` become `nullable: true`.
pub fn to_openapi_30(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(to_openapi_30),
        Value::Object(object) => {
            // The parent first: it must still see its variants' `type: null`.
            downgrade_schema(object);
            object.values_mut().for_each(to_openapi_30);
        }
        _ => {}
    }
}

fn downgrade_schema(object: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = object.get("type") {
        let others: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        let nullable = others.len() < types.len();
        match others.as_slice() {
            [single] => {
                object.insert("type".into(), single.clone());
            }
            _ => {
                object.remove("type");
            }
        }
        if nullable {
            object.insert("nullable".into(), Value::Bool(true));
        }
    }
    for key in ["oneOf", "anyOf"] {
        let Some(Value::Array(variants)) = object.get(key) else {
            continue;
        };
        let others: Vec<Value> = variants
            .iter()
            .filter(|v| v.get("type") != Some(&json!("null")))
            .cloned()
            .collect();
        if others.len() == variants.len() {
            continue;
        }
        object.remove(key);
        object.insert("nullable".into(), Value::Bool(true));
        match others.as_slice() {
            [single] if single.get("$ref").is_some() => {
                object.insert("allOf".into(), json!([single]));
            }
            [Value::Object(single)] => {
                for (name, part) in single {
                    object.entry(name.clone()).or_insert_with(|| part.clone());
                }
            }
            _ => {
                object.insert(key.into(), Value::Array(others));
            }
        }
    }
    if object.get("type") == Some(&json!("null")) {
        object.remove("type");
        object.insert("nullable".into(), Value::Bool(true));
    }
    // 3.0 spells `examples` of a schema `example`.
    if let Some(Value::Array(examples)) = object.get("examples")
        && object.contains_key("type")
        && let Some(first) = examples.first().cloned()
    {
        object.remove("examples");
        object.insert("example".into(), first);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_forms_are_written_down_to_openapi_30() {
        let mut schema = json!({
            "properties": {
                "a": {"type": ["string", "null"], "format": "date"},
                "b": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/X"}]},
                "c": {"oneOf": [{"type": "null"}, {"type": "integer", "minimum": 0}]},
                "d": {"type": "integer", "examples": [3]},
            }
        });
        to_openapi_30(&mut schema);
        let p = &schema["properties"];
        assert_eq!(
            p["a"],
            json!({"type": "string", "format": "date", "nullable": true})
        );
        assert_eq!(
            p["b"],
            json!({"nullable": true, "allOf": [{"$ref": "#/components/schemas/X"}]})
        );
        assert_eq!(p["c"], json!({"nullable": true, "type": "integer", "minimum": 0}));
        assert_eq!(p["d"], json!({"type": "integer", "example": 3}));
    }

    #[test]
    fn the_contract_parses() {
        let contract = contract();
        assert_eq!(contract["paths"]["/search"]["get"]["operationId"], "searchEvents");
        assert!(contract["components"]["schemas"]["EventSummary"].is_object());
    }
}
