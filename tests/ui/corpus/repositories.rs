//! Corpus: generic repositories and data-access layers over a serializable
//! entity, as in sqlx/diesel/sea-orm-backed services and Redis caches.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub enum RepoError {
    NotFound,
    Unavailable(breaker_core::Error),
}

impl From<breaker_core::Error> for RepoError {
    fn from(e: breaker_core::Error) -> Self {
        RepoError::Unavailable(e)
    }
}

impl std::fmt::Display for RepoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Stand-in for `serde::Serialize + DeserializeOwned`.
pub trait Entity: Clone + Debug + Send + Sync + 'static {
    type Id: Copy + Eq + Hash + Send + Sync;
    const TABLE: &'static str;
    fn id(&self) -> Self::Id;
    fn to_json(&self) -> String;
}

pub struct Repo<T: Entity> {
    rows: Mutex<HashMap<T::Id, T>>,
}

impl<T: Entity> Repo<T> {
    // Sync read by id, generic entity, `Result<Option<T>, E>`.
    #[circuit_breaker(corpus_repo_find)]
    pub fn find(&self, id: T::Id) -> Result<Option<T>, RepoError> {
        Ok(self.rows.lock().expect("lock").get(&id).cloned())
    }

    // Async insert taking the entity by value.
    #[circuit_breaker(corpus_repo_insert, fail_max = 3, reset = 5s)]
    pub async fn insert(&self, entity: T) -> Result<T::Id, RepoError> {
        let id = entity.id();
        let _json = entity.to_json();
        self.rows.lock().expect("lock").insert(id, entity);
        Ok(id)
    }

    // Async batch read with an iterator argument and an owned `Vec` result.
    #[circuit_breaker(corpus_repo_find_many, timeout = 500ms)]
    pub async fn find_many<I>(&self, ids: I) -> Result<Vec<T>, RepoError>
    where
        I: IntoIterator<Item = T::Id> + Send,
        I::IntoIter: Send,
    {
        let rows = self.rows.lock().expect("lock").clone();
        ids.into_iter()
            .map(|id| rows.get(&id).cloned().ok_or(RepoError::NotFound))
            .collect()
    }

    fn cached_count(&self) -> usize {
        0
    }

    // A count with a fallback, using the associated const.
    #[circuit_breaker(corpus_repo_count, fallback = Self::cached_count)]
    pub fn count(&self) -> usize {
        let _table = T::TABLE;
        self.rows.lock().expect("lock").len()
    }

    // A closure-taking update (`update_with(id, |row| ..)`).
    #[circuit_breaker(corpus_repo_update_with)]
    pub fn update_with<F>(&self, id: T::Id, f: F) -> Result<T, RepoError>
    where
        F: FnOnce(&mut T),
    {
        let mut rows = self.rows.lock().expect("lock");
        let row = rows.get_mut(&id).ok_or(RepoError::NotFound)?;
        f(row);
        Ok(row.clone())
    }
}

// A cache keyed by a generic key, with two type parameters and a `where` clause
// (moka/redis-rs style `get<K, V>`).
pub struct Cache<K, V> {
    inner: Arc<Mutex<HashMap<K, V>>>,
}

impl<K, V> Cache<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    #[circuit_breaker(corpus_cache_get)]
    pub async fn get<Q>(&self, key: &Q) -> Result<Option<V>, RepoError>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized + Sync,
    {
        Ok(self.inner.lock().expect("lock").get(key).cloned())
    }
}

// A typed query builder carrying a phantom type (`sqlx::query_as::<_, T>` style).
pub struct QueryAs<'q, T> {
    pub sql: &'q str,
    _row: PhantomData<fn() -> T>,
}

impl<'q, T: Entity + Default> QueryAs<'q, T> {
    #[circuit_breaker(corpus_query_as_fetch_one)]
    pub async fn fetch_one(self, _pool: &Repo<T>) -> Result<T, RepoError> {
        let _ = self.sql;
        Ok(T::default())
    }
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub id: u64,
}

impl Entity for User {
    type Id = u64;
    const TABLE: &'static str = "users";
    fn id(&self) -> u64 {
        self.id
    }
    fn to_json(&self) -> String {
        format!("{{\"id\":{}}}", self.id)
    }
}

fn main() {
    let repo = Repo::<User> {
        rows: Mutex::new(HashMap::new()),
    };
    let _ = repo.find(1);
    drop(repo.insert(User { id: 1 }));
    drop(repo.find_many(vec![1, 2]));
    let _ = repo.count();
    let _ = repo.update_with(1, |u| u.id = 2);
    let cache = Cache::<String, u32> {
        inner: Arc::new(Mutex::new(HashMap::new())),
    };
    drop(cache.get("k"));
    let q = QueryAs::<User> {
        sql: "select",
        _row: PhantomData,
    };
    drop(q.fetch_one(&repo));
}
