//! Which page comes next: the document's link (`next_page`), or the page number in the
//! query incremented (`page_param`). The engine opens it in the same run and
//! transaction, stops at `max_pages` and fails a run whose pages loop.

use boxoffice_core::ProviderError;
use boxoffice_kit::display_url;
use serde_json::Value;
use url::Url;

use crate::parse::PageSummary;
use crate::pointer::Pointer;
use crate::values::{quote, whole};

/// How an instance's feed is paginated.
#[derive(Debug, Clone)]
pub enum Pagination {
    /// One document.
    Single,
    /// Each document links the next at this pointer.
    Links(Pointer),
    /// The query parameter `param` numbers the pages; the value at `last` (when
    /// given) is the last one.
    Numbers {
        /// The query parameter.
        param: String,
        /// Where each document says which page is the last.
        last: Option<Pointer>,
    },
}

impl Pagination {
    /// The page after the one read from `page` (its address after redirects), which
    /// `summary` sums up; `None` when the run ends there.
    pub fn next(&self, page: &Url, summary: &PageSummary) -> Result<Option<String>, ProviderError> {
        match self {
            Pagination::Single => Ok(None),
            Pagination::Links(pointer) => link(page, pointer, summary.next_page.as_ref()),
            Pagination::Numbers { param, last } => {
                if summary.records == 0 {
                    return Ok(None);
                }
                let current = page_number(page, param)?;
                if let (Some(pointer), Some(last)) = (last, &summary.last_page)
                    && !last.is_null()
                {
                    let last = whole(last).ok_or_else(|| {
                        ProviderError::Malformed(format!(
                            "the last page ({pointer}) {} is not a whole number",
                            quote(last)
                        ))
                    })?;
                    if current >= last {
                        return Ok(None);
                    }
                }
                Ok(Some(with_page(page, param, current + 1)))
            }
        }
    }
}

fn link(page: &Url, pointer: &Pointer, value: Option<&Value>) -> Result<Option<String>, ProviderError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => page
            .join(text.trim())
            .map(|url| Some(url.to_string()))
            // The link is not quoted: it may carry a token.
            .map_err(|error| {
                ProviderError::Malformed(format!(
                    "the next page ({pointer}) is not a URL reference: {error}"
                ))
            }),
        Some(other) => Err(ProviderError::Malformed(format!(
            "the next page ({pointer}) {} is not a string or null",
            quote(other)
        ))),
    }
}

/// The page number in `page`'s query, 1 when the parameter is absent.
fn page_number(page: &Url, param: &str) -> Result<u64, ProviderError> {
    match page.query_pairs().find(|(name, _)| name == param) {
        None => Ok(1),
        Some((_, value)) => value.trim().parse().map_err(|_| {
            ProviderError::Malformed(format!(
                "the page parameter {param:?} of {} is not a whole number",
                display_url(page)
            ))
        }),
    }
}

/// `page` with the parameter set to `number`, the rest of its query left byte for
/// byte as it was (re-encoding it could change what a token means).
fn with_page(page: &Url, param: &str, number: u64) -> String {
    let mut url = page.clone();
    let query = page.query().unwrap_or_default();
    let mut replaced = false;
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let name = part.split('=').next().unwrap_or_default();
            let decoded: String = url::form_urlencoded::parse(name.as_bytes())
                .next()
                .map(|(name, _)| name.into_owned())
                .unwrap_or_default();
            if !replaced && decoded == param {
                replaced = true;
                format!("{name}={number}")
            } else {
                part.to_owned()
            }
        })
        .collect();
    if !replaced {
        let name: String = url::form_urlencoded::byte_serialize(param.as_bytes()).collect();
        parts.push(format!("{name}={number}"));
    }
    url.set_query(Some(&parts.join("&")));
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap_or_else(|error| panic!("{error}"))
    }

    fn summary(records: u64, next: Option<Value>, last: Option<Value>) -> PageSummary {
        PageSummary {
            records,
            next_page: next,
            last_page: last,
            peak_buffer: 0,
        }
    }

    fn links() -> Pagination {
        Pagination::Links(Pointer::parse("/next").unwrap_or_else(|error| panic!("{error}")))
    }

    #[test]
    fn links_are_resolved_against_the_page_and_null_or_empty_ends_the_run() {
        let page = url("https://api.example.com/v1/shows?page=1");
        let next = |value: Option<Value>| links().next(&page, &summary(3, value, None));
        assert_eq!(
            next(Some(json!("?page=2"))).ok().flatten().as_deref(),
            Some("https://api.example.com/v1/shows?page=2")
        );
        assert_eq!(
            next(Some(json!("/v2/shows?cursor=x"))).ok().flatten().as_deref(),
            Some("https://api.example.com/v2/shows?cursor=x")
        );
        assert_eq!(
            next(Some(json!("https://other.example/p")))
                .ok()
                .flatten()
                .as_deref(),
            Some("https://other.example/p")
        );
        for end in [None, Some(json!(null)), Some(json!("")), Some(json!("  "))] {
            assert_eq!(next(end.clone()).ok(), Some(None), "{end:?}");
        }
        let error = next(Some(json!(2)))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("/next") && error.contains("2 is not a string"),
            "{error}"
        );
    }

    #[test]
    fn page_numbers_increment_the_parameter_and_keep_the_rest_of_the_query() {
        let numbers = |last: Option<&str>| Pagination::Numbers {
            param: "page".into(),
            last: last.map(|p| Pointer::parse(p).unwrap_or_else(|error| panic!("{error}"))),
        };
        let page = url("https://api.example.com/shows?key=a%2Bb&page=3&size=50");
        assert_eq!(
            numbers(None)
                .next(&page, &summary(2, None, None))
                .ok()
                .flatten()
                .as_deref(),
            Some("https://api.example.com/shows?key=a%2Bb&page=4&size=50")
        );
        let first = url("https://api.example.com/shows?key=x");
        assert_eq!(
            numbers(None)
                .next(&first, &summary(2, None, None))
                .ok()
                .flatten()
                .as_deref(),
            Some("https://api.example.com/shows?key=x&page=2")
        );
        // An empty page ends the run, and so does the last page.
        assert_eq!(
            numbers(None).next(&page, &summary(0, None, None)).ok(),
            Some(None)
        );
        let last = |value: Value| numbers(Some("/last")).next(&page, &summary(2, None, Some(value)));
        assert_eq!(last(json!(3)).ok(), Some(None));
        assert_eq!(last(json!("3")).ok(), Some(None));
        assert!(last(json!(4)).ok().flatten().is_some());
        assert!(last(json!(null)).ok().flatten().is_some());
        assert!(last(json!("many")).is_err());
        let bad = url("https://api.example.com/shows?page=two&token=s3cret");
        let error = numbers(None)
            .next(&bad, &summary(2, None, None))
            .err()
            .map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("\"page\"") && !e.contains("s3cret")),
            "{error:?}"
        );
    }
}
