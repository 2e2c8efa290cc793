//! Feeds from local files (`file:///srv/feeds/partner.xml`): partners who drop feed
//! files on a shared disk are providers too. A file is read as a fetched document is,
//! through the same limits, archive, parsing and reports; its size and modification
//! time are its validator, so an unchanged file ends a run as "not modified", as a
//! 304 does.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use boxoffice_core::{Feed, Opened, ResponseHeaders, Validators};
use url::Url;

use crate::http::HttpError;

/// The path a `file:` URL names.
pub(crate) fn path_of(url: &Url) -> Result<PathBuf, HttpError> {
    url.to_file_path()
        .map_err(|_| HttpError::Refused(format!("{url} is not a path on this machine")))
}

/// Whether `page` may be read by a feed whose first document is `first`: a file in
/// the first one's directory or below it (a document cannot send the service reading
/// elsewhere on the disk).
pub(crate) fn within(first: &Path, page: &Path) -> bool {
    let Some(root) = first.parent() else {
        return false;
    };
    let clean = |path: &Path| {
        path.components()
            .all(|part| !matches!(part, std::path::Component::ParentDir))
    };
    clean(page) && page.starts_with(root)
}

/// The validator of a file: its size and modification time, as an entity tag.
fn tag_of(metadata: &std::fs::Metadata) -> String {
    let modified = metadata
        .modified()
        .ok()
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_nanos());
    format!("\"{}-{modified}\"", metadata.len())
}

/// The media type a file's name suggests, for messages ("not JSON: it is …").
fn media_type(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "json" => Some("application/json"),
        "xml" => Some("application/xml"),
        "ics" => Some("text/calendar"),
        "html" | "htm" => Some("text/html"),
        _ => None,
    }
}

/// Opens the file at `url`; "not modified" when `validators` name it as it is.
pub(crate) async fn open(url: &Url, validators: Option<&Validators>) -> Result<Opened, HttpError> {
    let path = path_of(url)?;
    let unreadable = |error: std::io::Error| {
        HttpError::Refused(format!("cannot read the feed file {}: {error}", path.display()))
    };
    let file = tokio::fs::File::open(&path).await.map_err(unreadable)?;
    let metadata = file.metadata().await.map_err(unreadable)?;
    if !metadata.is_file() {
        return Err(HttpError::Refused(format!(
            "the feed file {} is not a file",
            path.display()
        )));
    }
    let tag = tag_of(&metadata);
    if validators.and_then(|v| v.etag.as_deref()) == Some(tag.as_str()) {
        return Ok(Opened::NotModified);
    }
    let mut headers = ResponseHeaders::default();
    if let Some(kind) = media_type(&path) {
        headers.push("content-type", kind);
    }
    Ok(Opened::Feed(Feed {
        body: Box::new(tokio::io::BufReader::new(file)),
        length: Some(metadata.len()),
        validators: Validators {
            etag: Some(tag),
            last_modified: None,
        },
        location: Some(url.to_string()),
        headers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_a_file_feed_stay_in_its_directory() {
        let first = Path::new("/srv/feeds/partner/first.json");
        assert!(within(first, Path::new("/srv/feeds/partner/page2.json")));
        assert!(within(first, Path::new("/srv/feeds/partner/more/page3.json")));
        assert!(!within(first, Path::new("/etc/passwd")));
        assert!(!within(first, Path::new("/srv/feeds/partner/../other.json")));
    }

    #[tokio::test]
    async fn a_file_is_a_document_and_an_unchanged_one_is_not_modified() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("feed.json");
        std::fs::write(&path, b"{\"shows\": []}").map_err(|e| e.to_string())?;
        let url = Url::from_file_path(&path).map_err(|()| "not absolute".to_owned())?;
        let validators = match open(&url, None).await.map_err(|e| e.to_string())? {
            Opened::Feed(feed) => {
                assert_eq!(feed.length, Some(13));
                assert_eq!(feed.headers.content_type().as_deref(), Some("application/json"));
                feed.validators
            }
            Opened::NotModified => return Err("a first read is never unchanged".into()),
        };
        assert!(matches!(
            open(&url, Some(&validators)).await,
            Ok(Opened::NotModified)
        ));
        std::fs::write(&path, b"{\"shows\": [1]}").map_err(|e| e.to_string())?;
        assert!(matches!(open(&url, Some(&validators)).await, Ok(Opened::Feed(_))));
        let missing =
            Url::from_file_path(dir.path().join("gone.json")).map_err(|()| "not absolute".to_owned())?;
        let error = open(&missing, None)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("cannot read the feed file") && error.contains("gone.json"),
            "{error}"
        );
        Ok(())
    }
}
