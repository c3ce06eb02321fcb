//! Paged listings (`STREAM.NAMES`, `CONSUMER.LIST`, ...) as a stream that requests the next
//! page when the current one is used up.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::stream::unfold;

use crate::proto::has_more;

/// The items of a paged listing; each page is requested as the previous one is read.
#[must_use = "streams do nothing unless polled"]
pub struct Paged<T, E> {
    inner: Pin<Box<dyn Stream<Item = Result<T, E>> + Send>>,
}

impl<T, E> std::fmt::Debug for Paged<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paged").finish_non_exhaustive()
    }
}

impl<T, E> Stream for Paged<T, E> {
    type Item = Result<T, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Builds a listing from `fetch(offset) -> (items, total)`.
pub(crate) fn paged<T, E, F, Fut>(fetch: F) -> Paged<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
    F: Fn(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(Vec<T>, u64), E>> + Send + 'static,
{
    let state = (fetch, 0u64, VecDeque::<T>::new(), false);
    let inner = unfold(state, |(fetch, mut offset, mut items, mut done)| async move {
        loop {
            if let Some(item) = items.pop_front() {
                return Some((Ok(item), (fetch, offset, items, done)));
            }
            if done {
                return None;
            }
            match fetch(offset).await {
                Ok((page, total)) => {
                    done = !has_more(offset, page.len(), total);
                    offset += page.len() as u64;
                    items.extend(page);
                }
                Err(e) => return Some((Err(e), (fetch, offset, items, true))),
            }
        }
    });
    Paged { inner: Box::pin(inner) }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use futures_util::{FutureExt, StreamExt};

    use super::paged;

    /// Every item a stream of ready futures yields.
    fn drain<T, E>(mut stream: super::Paged<T, E>) -> Vec<Result<T, E>> {
        let mut out = Vec::new();
        while let Some(item) = stream.next().now_or_never().expect("ready futures only") {
            out.push(item);
        }
        out
    }

    #[test]
    fn pages_are_requested_until_the_total() {
        let requests = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&requests);
        // 5 items served 2 per page.
        let stream = paged(move |offset| {
            seen.fetch_add(1, Ordering::Relaxed);
            let page: Vec<u64> = (offset..(offset + 2).min(5)).collect();
            std::future::ready(Ok::<_, ()>((page, 5)))
        });
        let items: Vec<u64> = drain(stream).into_iter().map(Result::unwrap).collect();
        assert_eq!(items, [0, 1, 2, 3, 4]);
        assert_eq!(requests.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn an_error_or_an_empty_page_ends_the_listing() {
        let stream =
            paged(|offset| std::future::ready(if offset == 0 { Ok((vec![1u8], 10)) } else { Err("boom") }));
        assert_eq!(drain(stream), [Ok(1), Err("boom")]);
        // A server whose total never comes: an empty page ends it instead of looping.
        let stream = paged(|_| std::future::ready(Ok::<(Vec<u8>, u64), ()>((Vec::new(), 10))));
        assert!(drain(stream).is_empty());
    }
}
