//! The response body of a guarded gRPC call: it carries the call's permit
//! until the status arrives in the trailers.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::status::{Failures, record, status_of};
use crate::OwnedPermit;

pin_project! {
    /// The body of a response through a [`GrpcService`](super::GrpcService).
    ///
    /// A call whose status comes in the trailers (every call that sent a
    /// message) is recorded when they arrive; a body that ends without them
    /// is a failure, and one dropped before its end (a stream the client
    /// stopped reading) a cancelled call. The body of a rejection is empty.
    pub struct GrpcBody<B> {
        #[pin]
        inner: Inner<B>,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<B> {
        // The inner service's body, watched for the trailers.
        Watched {
            #[pin]
            body: B,
            permit: Option<OwnedPermit>,
            failures: Failures,
        },
        // No body: a rejection (its status is in the headers).
        Empty,
    }
}

impl<B> GrpcBody<B> {
    pub(super) fn watched(body: B, permit: Option<OwnedPermit>, failures: Failures) -> Self {
        GrpcBody {
            inner: Inner::Watched {
                body,
                permit,
                failures,
            },
        }
    }

    pub(super) fn empty() -> Self {
        GrpcBody {
            inner: Inner::Empty,
        }
    }
}

impl<B: Body> Body for GrpcBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let InnerProj::Watched {
            body,
            permit,
            failures,
        } = self.project().inner.project()
        else {
            return Poll::Ready(None);
        };
        let frame = ready!(body.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref() {
                    if let Some(permit) = permit.take() {
                        record(permit, status_of(trailers), *failures);
                    }
                }
            }
            Some(Err(_)) => {
                if let Some(permit) = permit.take() {
                    permit.failure_with(|| "the response body broke off".to_owned());
                }
            }
            None => {
                if let Some(permit) = permit.take() {
                    record(permit, None, *failures);
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Watched { body, .. } => body.is_end_stream(),
            Inner::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Watched { body, .. } => body.size_hint(),
            Inner::Empty => SizeHint::with_exact(0),
        }
    }
}
