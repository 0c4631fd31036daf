//! The response future of a guarded service: it carries the call's permit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::{Classify, Reject};
use crate::OwnedPermit;
use crate::breaker::FailOnUnwind;

pin_project! {
    /// The future of a call through a [`BreakerService`](super::BreakerService).
    ///
    /// Admitted, it owns the call's permit and records the outcome when the
    /// inner future resolves; dropped before that, the call is cancelled. A
    /// panic inside the inner future is a failure, as with
    /// [`Breaker::call_async`](crate::Breaker::call_async).
    pub struct ResponseFuture<F, C, R> {
        #[pin]
        kind: Kind<F, C, R>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, C, R> {
        Admitted {
            #[pin]
            future: F,
            permit: Option<OwnedPermit>,
            classify: C,
            reject: R,
        },
        Rejected {
            rejection: Option<crate::Error>,
            reject: R,
        },
    }
}

impl<F, C, R> ResponseFuture<F, C, R> {
    pub(super) fn admitted(future: F, permit: OwnedPermit, classify: C, reject: R) -> Self {
        ResponseFuture {
            kind: Kind::Admitted {
                future,
                permit: Some(permit),
                classify,
                reject,
            },
        }
    }

    pub(super) fn rejected(rejection: crate::Error, reject: R) -> Self {
        ResponseFuture {
            kind: Kind::Rejected {
                rejection: Some(rejection),
                reject,
            },
        }
    }
}

impl<F, T, E, C, R> Future for ResponseFuture<F, C, R>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
    R: Reject<T, E>,
{
    type Output = Result<T, R::Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Admitted {
                future,
                permit,
                classify,
                reject,
            } => {
                // Armed for one poll: a panic inside it records a failure on
                // its way out, where a plain drop would record a cancellation.
                let armed = FailOnUnwind(permit.take());
                let poll = future.poll(cx);
                *permit = armed.release();
                let result = ready!(poll);
                if let Some(permit) = permit.take() {
                    if classify.is_failure(&result) {
                        permit.failure_with(|| classify.describe(&result));
                    } else {
                        permit.success();
                    }
                }
                Poll::Ready(result.map_err(|error| reject.inner(error)))
            }
            KindProj::Rejected { rejection, reject } => match rejection.take() {
                Some(rejection) => Poll::Ready(reject.rejected(rejection)),
                None => panic!("a breaker's ResponseFuture was polled after it completed"),
            },
        }
    }
}
