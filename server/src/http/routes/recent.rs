//! Answers of costly public pages (`/status`, `/metrics`: each reads the store and
//! renders everything) kept for a second: however many clients ask, each process
//! renders them at most once a second, and at once after a commit.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::StatusCode;
use bytes::Bytes;

/// How long an answer is served again.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// A rendered answer.
#[derive(Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The last answer of one page, with when and for which data version it was made.
#[derive(Default)]
pub struct Recent {
    last: tokio::sync::Mutex<Option<(Instant, i64, Answer)>>,
}

impl Recent {
    /// The answer made less than a second ago for data `version`, or `render`'s.
    /// One renders at a time: those who ask meanwhile wait for its answer.
    pub async fn get_or_render<F>(&self, version: i64, render: impl FnOnce() -> F) -> Answer
    where
        F: Future<Output = Answer>,
    {
        let mut last = self.last.lock().await;
        if let Some((at, made_for, answer)) = last.as_ref()
            && *made_for == version
            && at.elapsed() < FRESH_FOR
        {
            return answer.clone();
        }
        let answer = render().await;
        *last = Some((Instant::now(), version, answer.clone()));
        answer
    }
}

impl axum::response::IntoResponse for Answer {
    fn into_response(self) -> axum::response::Response {
        (self.status, self.headers, self.body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn answer(body: &'static str) -> Answer {
        Answer {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    #[tokio::test]
    async fn an_answer_is_rendered_once_a_second_and_again_for_new_data() {
        let recent = Recent::default();
        let renders = AtomicUsize::new(0);
        let render = || async {
            renders.fetch_add(1, Ordering::Relaxed);
            answer("page")
        };
        for _ in 0..5 {
            assert_eq!(recent.get_or_render(1, render).await.body, "page");
        }
        assert_eq!(renders.load(Ordering::Relaxed), 1);
        recent.get_or_render(2, render).await;
        assert_eq!(
            renders.load(Ordering::Relaxed),
            2,
            "a new data version renders again"
        );
        tokio::time::sleep(FRESH_FOR).await;
        recent.get_or_render(2, render).await;
        assert_eq!(
            renders.load(Ordering::Relaxed),
            3,
            "a second later it renders again"
        );
    }
}
