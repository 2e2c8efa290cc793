//! The instance's table as the registry reads it: what is accepted, and every problem
//! reported with its key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use boxoffice_core::registry::{self, ConfigProblem};
use boxoffice_testkit::instance_from_toml;

/// A complete table, as docs/adding-a-provider.md's example has it; `patch` edits its text.
const ACME: &str = r#"
kind = "json"
url = "https://api.example.com/v1/shows?page=1"
timezone = "Europe/Madrid"
records = "/shows"
next_page = "/next"
max_pages = 1000

[headers]
X-Api-Key = "k"

[fields]
base_id = "/show_id"
event_id = "/session_id"
title = "/name"
starts_at = "/starts"
ends_at = "/ends"
online = "/online"
sold_out = "/sold_out"

[zones]
path = "/tickets"
price = "/price_cents"
price_scale = 100
capacity = "/left"
name = "/tier"
id = "/tier_id"
"#;

fn build(table: &str) -> Result<(), Vec<ConfigProblem>> {
    boxoffice_provider_json::link();
    instance_from_toml("acme", table).map(|_| ())
}

fn problems(table: &str) -> Vec<ConfigProblem> {
    build(table).unwrap_err()
}

fn keys(table: &str) -> Vec<String> {
    problems(table).into_iter().map(|problem| problem.key).collect()
}

#[test]
fn the_documented_table_is_accepted() {
    assert_eq!(build(ACME), Ok(()));
    let online_equals = ACME.replace(
        "online = \"/online\"",
        "online = { path = \"/status\", equals = \"onsale\" }",
    );
    assert_eq!(build(&online_equals), Ok(()));
    let numbered = ACME.replace(
        "next_page = \"/next\"",
        "page_param = \"page\"\nlast_page = \"/meta/last\"",
    );
    assert_eq!(build(&numbered), Ok(()));
    let minimal = "kind = \"json\"\nurl = \"https://x.example/\"\nrecords = \"\"\n\
                   [fields]\nbase_id = \"/id\"\ntitle = \"/t\"\nstarts_at = \"/s\"\n";
    assert_eq!(build(minimal), Ok(()));
}

#[test]
fn a_missing_required_key_is_named_with_its_table() {
    assert_eq!(
        keys(&ACME.replace("title = \"/name\"\n", "")),
        ["providers.acme.fields.title"]
    );
    assert_eq!(
        keys(&ACME.replace("price = \"/price_cents\"\n", "")),
        ["providers.acme.zones.price"]
    );
    assert_eq!(
        keys(&ACME.replace("records = \"/shows\"\n", "")),
        ["providers.acme.records"]
    );
    let message = &problems(&ACME.replace("starts_at = \"/starts\"\n", ""))[0].message;
    assert!(message.contains("missing field `starts_at`"), "{message}");
}

#[test]
fn a_pointer_that_does_not_start_with_a_slash_is_named() {
    let found = problems(&ACME.replace("title = \"/name\"", "title = \"name\""));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "providers.acme.fields.title");
    assert!(found[0].message.contains("\"/name\""), "{}", found[0].message);
    assert_eq!(
        keys(&ACME.replace("records = \"/shows\"", "records = \"shows\"")),
        ["providers.acme.records"]
    );
    assert_eq!(
        keys(&ACME.replace("price = \"/price_cents\"", "price = \"/a~2\"")),
        ["providers.acme.zones.price"]
    );
    assert_eq!(
        keys(&ACME.replace("next_page = \"/next\"", "next_page = \"next\"")),
        ["providers.acme.next_page"]
    );
}

#[test]
fn unknown_and_mistyped_keys_are_named() {
    assert_eq!(
        keys(&ACME.replace("kind = \"json\"", "kind = \"json\"\ncolour = 1")),
        ["providers.acme.colour"]
    );
    assert_eq!(
        keys(&ACME.replace("title = \"/name\"", "title = \"/name\"\nvenue = \"/v\"")),
        ["providers.acme.fields.venue"]
    );
    assert_eq!(
        keys(&ACME.replace("price_scale = 100", "price_scale = 0")),
        ["providers.acme.zones.price_scale"]
    );
    assert_eq!(
        keys(&ACME.replace("online = \"/online\"", "online = { path = \"/s\", equals = [1] }")),
        ["providers.acme.fields.online"]
    );
    let no_list = problems(&ACME.replace("online = \"/online\"", "online = { path = \"/s\" }"));
    assert_eq!(no_list.len(), 1, "{no_list:?}");
    assert_eq!(no_list[0].key, "providers.acme.fields.online");
    assert!(
        no_list[0].message.contains("`equals`, `in` and `not_in`"),
        "{}",
        no_list[0].message
    );
    assert_eq!(
        keys(&ACME.replace("url = \"https", "url = \"ftp")),
        ["providers.acme.url"]
    );
}

#[test]
fn next_page_and_page_param_are_exclusive() {
    let both = problems(&ACME.replace(
        "next_page = \"/next\"",
        "next_page = \"/next\"\npage_param = \"page\"",
    ));
    assert_eq!(both.len(), 1, "{both:?}");
    assert_eq!(both[0].key, "providers.acme.page_param");
    assert!(
        both[0].message.contains("next_page") && both[0].message.contains("page_param"),
        "{}",
        both[0].message
    );
    assert_eq!(
        keys(&ACME.replace("next_page = \"/next\"", "last_page = \"/last\"")),
        ["providers.acme.last_page"]
    );
}

#[test]
fn max_pages_stays_a_common_key() {
    let kind = registry::find("json")
        .map(|registration| (registration.keys)())
        .unwrap_or_default();
    let names: Vec<_> = kind
        .iter()
        .map(|key| key.name.as_str())
        .filter(|name| !name.contains('.'))
        .collect();
    assert_eq!(
        names,
        [
            "url",
            "headers",
            "query",
            "auth",
            "method",
            "body",
            "format",
            "records",
            "errors",
            "next_page",
            "page_param",
            "last_page",
            "pagination",
            "fields",
            "zones",
            "for_each"
        ]
    );
    assert!(!names.contains(&"max_pages") && !names.contains(&"timezone"));
    assert!(kind.iter().all(|key| !key.doc.is_empty()), "{kind:?}");
    // The keys of its tables are described too, a tag with the values it takes.
    let auth_type = kind
        .iter()
        .find(|key| key.name == "auth.type")
        .map(|key| key.doc.as_str());
    assert_eq!(auth_type, Some("Which: `bearer`, `basic`, `oauth2`."));
    for nested in [
        "fields.timezone",
        "zones.min_price",
        "pagination.cursor",
        "auth.token_url",
    ] {
        assert!(
            kind.iter().any(|key| key.name == nested),
            "{nested} is not described"
        );
    }
    let required: Vec<_> = kind
        .iter()
        .filter(|key| key.required && !key.name.contains('.'))
        .map(|key| key.name.as_str())
        .collect();
    // `records` and `fields` are required with format = "json" only: their docs say so.
    assert_eq!(required, ["url"]);
    for key in ["records", "fields"] {
        let doc = kind
            .iter()
            .find(|k| k.name == key)
            .map(|k| k.doc.replace('\n', " "))
            .unwrap_or_default();
        assert!(
            doc.contains("required with `format = \"json\"`")
                || doc.contains("Required with `format = \"json\"`"),
            "{key}: {doc}"
        );
    }
}

#[test]
fn a_disabled_instance_may_lack_its_header_secret_until_it_runs() {
    let unset = ACME.replace(
        "X-Api-Key = \"k\"",
        "X-Api-Key = { env = \"BOXOFFICE_JSON_TEST_SURELY_UNSET\" }",
    );
    assert_eq!(keys(&unset), ["providers.acme.headers.X-Api-Key"]);
    assert_eq!(build(&format!("enabled = false\n{unset}")), Ok(()));
}
