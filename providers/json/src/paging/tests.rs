//! Each strategy on hand-made page summaries.

use super::*;
use serde_json::json;

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn pointer(text: &str) -> Pointer {
    Pointer::parse(text).unwrap()
}

fn paging(table: Value) -> Paging {
    let config: Pagination = serde_json::from_value(table).unwrap();
    Paging::new(Some(config))
}

fn summary(records: u64, captured: &[(&str, Value)]) -> PageSummary {
    PageSummary {
        records,
        records_found: true,
        captured: captured.iter().map(|(p, v)| (pointer(p), v.clone())).collect(),
        peak_buffer: 0,
    }
}

/// What follows the page at `page` that said `summary` (with `headers`).
fn next_of(
    paging: &Paging,
    page: &str,
    summary: &PageSummary,
    headers: &[(&str, &str)],
) -> Result<Next, String> {
    let request = PageRef::decode(page);
    let location = url(&request.url);
    let mut kept = ResponseHeaders::default();
    for (name, value) in headers {
        kept.push(name, value);
    }
    paging
        .next(&PageSeen {
            number: 1,
            request: &request,
            location: &location,
            headers: &kept,
            summary,
        })
        .map_err(|error| error.to_string())
}

fn page(text: &str) -> Result<Next, String> {
    Ok(Next::Page(PageRef::at(&url(text))))
}

fn ended(next: &Result<Next, String>) -> bool {
    matches!(next, Ok(Next::End(_)))
}

#[test]
fn links_resolve_against_the_page_and_null_or_empty_ends_the_run() {
    let links = paging(json!({"type": "next_link", "next": "/next"}));
    let from = "https://api.example.com/v1/shows?page=1";
    let next = |value: Value| next_of(&links, from, &summary(3, &[("/next", value)]), &[]);
    assert_eq!(
        next(json!("?page=2")),
        page("https://api.example.com/v1/shows?page=2")
    );
    assert_eq!(
        next(json!("/v2/shows?cursor=x")),
        page("https://api.example.com/v2/shows?cursor=x")
    );
    assert_eq!(
        next(json!("https://other.example/p")),
        page("https://other.example/p")
    );
    for end in [json!(null), json!(""), json!("  ")] {
        assert!(ended(&next(end.clone())), "{end:?}");
    }
    assert!(ended(&next_of(&links, from, &summary(3, &[]), &[])));
    let error = next(json!(2)).unwrap_err();
    assert!(
        error.contains("/next") && error.contains("2 is not a string"),
        "{error}"
    );
}

#[test]
fn a_token_where_a_link_was_expected_is_said_as_such() {
    let links = paging(json!({"type": "next_link", "next": "/pagination/continuation"}));
    let error = next_of(
        &links,
        "https://api.example.com/v3/events/",
        &summary(3, &[("/pagination/continuation", json!("dGhpcyBpcyBwYWdlIDI"))]),
        &[],
    )
    .err()
    .unwrap_or_default();
    assert!(
        error.contains("token") && error.contains("type = \"cursor\"") && !error.contains("dGhpcyBp"),
        "{error}"
    );
}

#[test]
fn page_numbers_count_from_one_or_zero_and_keep_the_rest_of_the_query() {
    let numbers = paging(json!({"type": "page_number", "param": "page"}));
    let at = "https://api.example.com/shows?key=a%2Bb&page=3&size=50";
    assert_eq!(
        next_of(&numbers, at, &summary(2, &[]), &[]),
        page("https://api.example.com/shows?key=a%2Bb&page=4&size=50")
    );
    assert_eq!(
        next_of(
            &numbers,
            "https://api.example.com/shows?key=x",
            &summary(2, &[]),
            &[]
        ),
        page("https://api.example.com/shows?key=x&page=2")
    );
    // A page without records ends the run.
    assert!(ended(&next_of(&numbers, at, &summary(0, &[]), &[])));
    let from_zero = paging(json!({"type": "page_number", "param": "page", "first": 0}));
    assert_eq!(
        next_of(
            &from_zero,
            "https://app.example.com/events.json?size=4",
            &summary(4, &[]),
            &[]
        ),
        page("https://app.example.com/events.json?size=4&page=1")
    );
    let bad = "https://api.example.com/shows?page=two&token=s3cret";
    let error = next_of(&numbers, bad, &summary(2, &[]), &[])
        .err()
        .unwrap_or_default();
    assert!(error.contains("\"page\"") && !error.contains("s3cret"), "{error}");
}

#[test]
fn the_last_page_is_known_by_its_number_the_page_count_or_the_total() {
    let at = |number: u64| format!("https://api.example.com/e?page={number}");
    let last = paging(json!({"type": "page_number", "param": "page", "last_page": "/last"}));
    let with_last = |value: Value| summary(2, &[("/last", value)]);
    assert!(ended(&next_of(&last, &at(3), &with_last(json!(3)), &[])));
    assert!(ended(&next_of(&last, &at(3), &with_last(json!("3")), &[])));
    assert!(!ended(&next_of(&last, &at(3), &with_last(json!(4)), &[])));
    assert!(!ended(&next_of(&last, &at(3), &with_last(json!(null)), &[])));
    assert!(next_of(&last, &at(3), &with_last(json!("many")), &[]).is_err());

    // Ticketmaster: 0-based pages and a page count.
    let count =
        paging(json!({"type": "page_number", "param": "page", "first": 0, "page_count": "/page/totalPages"}));
    let pages = |n: u64| summary(4, &[("/page/totalPages", json!(n))]);
    assert!(!ended(&next_of(&count, &at(0), &pages(2), &[])));
    assert!(ended(&next_of(&count, &at(1), &pages(2), &[])));
    assert!(ended(&next_of(&count, &at(0), &pages(0), &[])));

    // SeatGeek: a total and the page size the API used.
    let total = paging(
        json!({"type": "page_number", "param": "page", "total": "/meta/total", "page_size": "/meta/per_page"}),
    );
    let meta = |total: u64| summary(4, &[("/meta/total", json!(total)), ("/meta/per_page", json!(4))]);
    assert!(!ended(&next_of(&total, &at(1), &meta(7), &[])));
    assert!(ended(&next_of(&total, &at(2), &meta(7), &[])));
    assert!(ended(&next_of(&total, &at(1), &meta(4), &[])));
}

#[test]
fn offsets_move_by_the_records_read_and_stop_at_a_short_page_or_the_total() {
    let offsets = paging(json!({"type": "offset", "param": "offset", "size_param": "limit", "size": 10}));
    assert_eq!(
        offsets
            .first_url(&url("https://api.example.com/v1/events/"))
            .as_str(),
        "https://api.example.com/v1/events/?limit=10"
    );
    let at = "https://api.example.com/v1/events/?limit=10&offset=20";
    assert_eq!(
        next_of(&offsets, at, &summary(10, &[]), &[]),
        page("https://api.example.com/v1/events/?limit=10&offset=30")
    );
    assert!(ended(&next_of(&offsets, at, &summary(7, &[]), &[])));
    assert!(ended(&next_of(&offsets, at, &summary(0, &[]), &[])));
    let counted = paging(json!({"type": "offset", "param": "offset", "total": "/count"}));
    assert!(ended(&next_of(
        &counted,
        at,
        &summary(10, &[("/count", json!(30))]),
        &[]
    )));
    assert!(!ended(&next_of(
        &counted,
        at,
        &summary(10, &[("/count", json!(31))]),
        &[]
    )));
    // Without a size configured, the URL's own says how large a page is.
    let from_url = paging(json!({"type": "offset", "param": "offset", "size_param": "limit"}));
    assert!(ended(&next_of(&from_url, at, &summary(9, &[]), &[])));
}

#[test]
fn a_cursor_goes_back_as_a_parameter_or_into_the_body_until_none_is_given() {
    let eventbrite = paging(json!({
        "type": "cursor", "cursor": "/pagination/continuation", "param": "continuation",
        "has_more": "/pagination/has_more_items",
    }));
    let at = "https://www.eventbriteapi.com/v3/organizations/1/events/?status=live";
    let said = |more: bool| {
        summary(
            4,
            &[
                ("/pagination/continuation", json!("dGhpcw")),
                ("/pagination/has_more_items", json!(more)),
            ],
        )
    };
    assert_eq!(
        next_of(&eventbrite, at, &said(true), &[]),
        page("https://www.eventbriteapi.com/v3/organizations/1/events/?status=live&continuation=dGhpcw")
    );
    assert!(ended(&next_of(&eventbrite, at, &said(false), &[])));
    assert!(ended(&next_of(&eventbrite, at, &summary(4, &[]), &[])));

    let graphql = paging(
        json!({"type": "cursor", "cursor": "/data/events/pageInfo/endCursor", "body": "/variables/after"}),
    );
    let next = next_of(
        &graphql,
        "https://api.example.com/graphql",
        &summary(2, &[("/data/events/pageInfo/endCursor", json!("Y3Vy"))]),
        &[],
    );
    assert_eq!(
        next,
        Ok(Next::Page(PageRef {
            url: "https://api.example.com/graphql".into(),
            cursor: Some("Y3Vy".into()),
            each: None,
        }))
    );

    let header = paging(json!({"type": "cursor", "cursor_header": "X-Next-Cursor", "param": "cursor"}));
    assert_eq!(
        next_of(
            &header,
            "https://api.example.com/e",
            &summary(1, &[]),
            &[("X-Next-Cursor", "abc")]
        ),
        page("https://api.example.com/e?cursor=abc")
    );
    assert!(ended(&next_of(
        &header,
        "https://api.example.com/e",
        &summary(1, &[]),
        &[]
    )));
}

#[test]
fn the_link_header_names_the_next_page() {
    let link = paging(json!({"type": "link_header"}));
    let at = "https://api.example.com/events?page=1";
    let headers = [(
        "Link",
        r#"<https://api.example.com/events?page=1>; rel="first", <https://api.example.com/events?page=2&a=b,c>; rel="next last""#,
    )];
    assert_eq!(
        next_of(&link, at, &summary(3, &[]), &headers),
        page("https://api.example.com/events?page=2&a=b,c")
    );
    let relative = [("link", "</events?page=3>; rel=next")];
    assert_eq!(
        next_of(&link, at, &summary(3, &[]), &relative),
        page("https://api.example.com/events?page=3")
    );
    assert!(ended(&next_of(
        &link,
        at,
        &summary(3, &[]),
        &[("Link", r#"<x>; rel="prev""#)]
    )));
}

#[test]
fn stop_after_ends_the_run_after_that_many_pages() {
    let deep = paging(json!({"type": "page_number", "param": "page", "first": 0, "stop_after": 1}));
    assert!(ended(&next_of(
        &deep,
        "https://app.example.com/e.json?page=0",
        &summary(4, &[]),
        &[]
    )));
}

#[test]
fn has_more_false_ends_any_pagination() {
    let numbers = paging(json!({"type": "page_number", "param": "page", "has_more": "/more"}));
    let at = "https://api.example.com/e?page=1";
    assert!(ended(&next_of(
        &numbers,
        at,
        &summary(5, &[("/more", json!(false))]),
        &[]
    )));
    assert!(!ended(&next_of(
        &numbers,
        at,
        &summary(5, &[("/more", json!(true))]),
        &[]
    )));
    assert!(next_of(&numbers, at, &summary(5, &[("/more", json!("no"))]), &[]).is_err());
}

#[test]
fn keys_that_a_type_does_not_read_are_problems() {
    let problems = |table: Value| -> Vec<String> {
        let config: Pagination = serde_json::from_value(table).unwrap();
        config.problems(false).into_iter().map(|p| p.key).collect()
    };
    assert_eq!(problems(json!({"type": "next_link"})), ["pagination.next"]);
    assert_eq!(
        problems(json!({"type": "page_number", "param": "page", "cursor": "/c"})),
        ["pagination.cursor"]
    );
    assert_eq!(
        problems(json!({"type": "cursor", "param": "c"})),
        ["pagination.cursor"]
    );
    assert_eq!(
        problems(json!({"type": "cursor", "cursor": "/c", "body": "/variables/after"})),
        ["pagination.body"]
    );
    assert_eq!(
        problems(json!({"type": "page_number", "param": "page", "first": 2})),
        ["pagination.first"]
    );
    assert!(problems(json!({"type": "link_header"})).is_empty());
}
