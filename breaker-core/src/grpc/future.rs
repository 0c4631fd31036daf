//! The response future of a guarded gRPC call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use super::body::GrpcBody;
use super::status::{Failures, record, rejection, status_of};
use crate::OwnedPermit;

pin_project! {
    /// The future of a call through a [`GrpcService`](super::GrpcService):
    /// admitted, it hands the permit to the response's body (or records the
    /// call at once when the status is in the headers); dropped before the
    /// response, the call is cancelled.
    pub struct GrpcFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Admitted {
            #[pin]
            future: F,
            permit: Option<OwnedPermit>,
            failures: Failures,
        },
        Rejected {
            rejection: Option<crate::Error>,
        },
    }
}

impl<F> GrpcFuture<F> {
    pub(super) fn admitted(future: F, permit: OwnedPermit, failures: Failures) -> Self {
        GrpcFuture {
            kind: Kind::Admitted {
                future,
                permit: Some(permit),
                failures,
            },
        }
    }

    pub(super) fn rejected(rejection: crate::Error) -> Self {
        GrpcFuture {
            kind: Kind::Rejected {
                rejection: Some(rejection),
            },
        }
    }
}

impl<F, B, E> Future for GrpcFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: std::fmt::Display,
{
    type Output = Result<Response<GrpcBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Admitted {
                future,
                permit,
                failures,
            } => {
                let result = ready!(future.poll(cx));
                let failures = *failures;
                Poll::Ready(match result {
                    Ok(response) => {
                        let (parts, body) = response.into_parts();
                        // A trailers-only response: the status is here, and
                        // the body carries nothing more.
                        let permit = match (status_of(&parts.headers), permit.take()) {
                            (Some(status), Some(permit)) => {
                                record(permit, Some(status), failures);
                                None
                            }
                            (None, permit) => permit,
                            (Some(_), None) => None,
                        };
                        Ok(Response::from_parts(
                            parts,
                            GrpcBody::watched(body, permit, failures),
                        ))
                    }
                    Err(error) => {
                        if let Some(permit) = permit.take() {
                            permit.failure_with(|| error.to_string());
                        }
                        Err(error)
                    }
                })
            }
            KindProj::Rejected { rejection: held } => {
                let error = held
                    .take()
                    .expect("a GrpcFuture is not polled after it completed");
                Poll::Ready(Ok(rejection(&error, GrpcBody::empty())))
            }
        }
    }
}
