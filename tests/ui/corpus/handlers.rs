//! Corpus: web handlers with extractor parameters, modelled on axum and
//! actix-web (local stand-in types: no web framework is a dependency).

use std::collections::HashMap;
use std::sync::Arc;

use breaker_core::circuit_breaker;

// ---- stand-ins for the framework's extractors and responses ----------------
pub struct State<S>(pub S);
pub struct Path<T>(pub T);
pub struct Query<T>(pub T);
pub struct Json<T>(pub T);
pub struct Extension<T>(pub T);
pub struct HeaderMap(pub HashMap<String, String>);
pub struct StatusCode(pub u16);

pub trait IntoResponse {
    fn into_response(self) -> Response;
}

pub struct Response {
    pub status: u16,
    pub body: String,
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: Arc<HashMap<u64, String>>,
}

#[derive(Debug)]
pub enum ApiError {
    NotFound,
    Unavailable(breaker_core::Error),
}

impl From<breaker_core::Error> for ApiError {
    fn from(e: breaker_core::Error) -> Self {
        ApiError::Unavailable(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

pub struct CreateUser {
    pub name: String,
}

pub struct Pagination {
    pub page: u32,
    pub per_page: u32,
}

// ---- handlers ---------------------------------------------------------------

// axum: destructuring extractors in the parameter list, `Result<Json<T>, E>`.
#[circuit_breaker(corpus_axum_get_user)]
pub async fn get_user(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Json<String>, ApiError> {
    let user = state.db.get(&id).cloned().ok_or(ApiError::NotFound)?;
    Ok(Json(user))
}

async fn create_user_unavailable(
    _state: State<AppState>,
    _headers: HeaderMap,
    _body: Json<CreateUser>,
) -> (StatusCode, Json<String>) {
    (StatusCode(503), Json("try later".to_owned()))
}

// axum: tuple response, header map and JSON body, with a fallback (the
// destructured parameters are handed whole to the fallback).
#[circuit_breaker(corpus_axum_create_user, fallback = create_user_unavailable)]
pub async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<CreateUser>,
) -> (StatusCode, Json<String>) {
    let _ = (state.db.len(), headers.0.len());
    (StatusCode(201), Json(body.name))
}

async fn list_cached(_q: Query<Pagination>, _ext: Extension<Arc<str>>) -> Response {
    Response {
        status: 200,
        body: "cached".into(),
    }
}

// axum: `Query` + `Extension` extractors returning a concrete response type.
#[circuit_breaker(corpus_axum_list, fallback = list_cached)]
pub async fn list(
    Query(Pagination { page, per_page }): Query<Pagination>,
    Extension(tenant): Extension<Arc<str>>,
) -> Response {
    Response {
        status: 200,
        body: format!("{tenant}: {page}/{per_page}"),
    }
}

async fn health_degraded() -> Response {
    Response {
        status: 503,
        body: String::new(),
    }
}

// axum: `-> impl IntoResponse`, the fallback returning the same concrete type
// (an `impl IntoResponse` fallback would be a second, different opaque type).
#[circuit_breaker(corpus_axum_health, fallback = health_degraded)]
pub async fn health() -> impl IntoResponse {
    Response {
        status: 200,
        body: "ok".into(),
    }
}

// actix-web: `web::Data<T>`-like shared state behind an `Arc`, `Result<impl IntoResponse, E>`.
#[circuit_breaker(corpus_actix_index)]
pub async fn index(
    data: Arc<AppState>,
    Path((user, item)): Path<(u64, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let name = data.db.get(&user).ok_or(ApiError::NotFound)?;
    Ok(Response {
        status: 200,
        body: format!("{name}/{item}"),
    })
}

// A middleware-like handler taking the next handler as a closure.
#[circuit_breaker(corpus_middleware)]
pub async fn with_auth<F, Fut>(headers: HeaderMap, next: F) -> Result<Response, ApiError>
where
    F: FnOnce() -> Fut + Send,
    Fut: std::future::Future<Output = Result<Response, ApiError>> + Send,
{
    if !headers.0.contains_key("authorization") {
        return Err(ApiError::NotFound);
    }
    next().await
}

fn assert_send<T: Send>(_: &T) {}

fn main() {
    let state = AppState {
        db: Arc::new(HashMap::new()),
    };
    let fut = get_user(State(state.clone()), Path(1));
    assert_send(&fut); // spawnable by a multi-threaded server
    drop(fut);
    drop(create_user(
        State(state.clone()),
        HeaderMap(HashMap::new()),
        Json(CreateUser { name: "x".into() }),
    ));
    drop(list(
        Query(Pagination {
            page: 1,
            per_page: 10,
        }),
        Extension(Arc::from("t")),
    ));
    drop(health());
    drop(index(Arc::new(state), Path((1, "a".into()))));
    drop(with_auth(HeaderMap(HashMap::new()), || async {
        Ok(Response {
            status: 200,
            body: String::new(),
        })
    }));
}
