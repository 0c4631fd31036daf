//! `key = expr`: a keyed call site finds its keyed breaker once, then the
//! key's breaker on each call. The key's type is checked here with a message
//! that says what a key must be.

use std::any::{Any, TypeId};
use std::fmt::{self, Display};
use std::sync::OnceLock;
use std::time::Duration;

use super::Site;
use crate::keyed::call::KeyedCall;
use crate::keyed::{Keyed, KeyedBreaker};
use crate::{Breaker, Error};

/// A keyed call site's keyed breaker (`key = ...`): the global registry's
/// keyed breaker of the site's name, found on the first call and kept, for
/// the key type of that call. Keyed sites submit no [`Registration`](super::Registration): their
/// breakers are the keys', created on their first calls.
#[derive(Debug)]
pub struct KeyedHandle {
    site: &'static Site,
    label: &'static str,
    max_keys: usize,
    idle: u64,
    /// What the `KeyedBreaker<K>` of the first call's key type shares, and
    /// that type: compared without a call through `dyn Any`'s table. Kept
    /// as the shared part itself, not a clone of the handle on it, so that a
    /// call reaches the keys in one load from this static.
    set: OnceLock<(TypeId, &'static (dyn Any + Send + Sync))>,
}

impl KeyedHandle {
    /// A handle for `site`, usable in a `static`; `idle` in nanoseconds (the
    /// macro has checked `1 <= max_keys <= MAX_KEYS` and `idle > 0`).
    pub const fn new(
        site: &'static Site,
        label: &'static str,
        max_keys: usize,
        idle: u64,
    ) -> KeyedHandle {
        KeyedHandle {
            site,
            label,
            max_keys,
            idle,
            set: OnceLock::new(),
        }
    }

    /// The breaker of `key`, with a reference count of its own, for a call
    /// that neither runs inside a [`ticket`](Self::ticket)'s `with` nor
    /// holds a [`KeyedCall`] (a retried or timed one): found in this
    /// thread's recent keys, or in the keyed breaker's table.
    #[inline]
    pub fn breaker<Q: Key + ?Sized>(&'static self, key: &Q) -> Breaker {
        match self.kept::<<Q as ToOwned>::Owned>() {
            Some(keyed) => keyed.ticket(key).with(Breaker::clone),
            // A generic function called with a second key type.
            None => self.keyed::<<Q as ToOwned>::Owned>().get(key),
        }
    }

    /// Asks the breaker of `key` to admit one call of an async function:
    /// the call, holding that breaker, or the rejection. The breaker is
    /// found as [`ticket`](Self::ticket) finds it, and stays pinned in this
    /// thread's recent keys until the call may move (see [`KeyedCall`]).
    #[inline(always)]
    pub fn acquire<Q: Key + ?Sized>(&'static self, key: &Q) -> Result<KeyedCall, Error> {
        KeyedCall::pinned(self.ticket(key).0)
    }

    /// The breaker of `key`, to run one call on with [`KeyTicket::with`]:
    /// without a lock or a reference count when this thread called the key
    /// recently. The key is borrowed only here.
    #[inline(always)]
    pub fn ticket<Q: Key + ?Sized>(&'static self, key: &Q) -> KeyTicket<<Q as ToOwned>::Owned> {
        match self.kept::<<Q as ToOwned>::Owned>() {
            Some(keyed) => KeyTicket(keyed.ticket(key)),
            // A generic function called with a second key type.
            None => KeyTicket(self.keyed::<<Q as ToOwned>::Owned>().ticket(key)),
        }
    }

    /// The keyed breaker kept for the first call's key type, if it is `K`.
    #[inline(always)]
    fn kept<K>(&'static self) -> Option<&'static Keyed<K>>
    where
        K: std::hash::Hash + Eq + Display + Send + Sync + 'static,
    {
        let (kind, keyed) = self.set.get_or_init(|| {
            let keyed: &'static (dyn Any + Send + Sync) = self.keyed::<K>().leak();
            (TypeId::of::<Keyed<K>>(), keyed)
        });
        if *kind != TypeId::of::<Keyed<K>>() {
            return None;
        }
        // SAFETY: `kind` is the `TypeId` of the value `keyed` points at, set
        // with it.
        Some(unsafe { &*(*keyed as *const (dyn Any + Send + Sync)).cast::<Keyed<K>>() })
    }

    #[cold]
    fn keyed<K>(&'static self) -> KeyedBreaker<K>
    where
        K: std::hash::Hash + Eq + Display + Send + Sync + 'static,
    {
        let built = KeyedBreaker::builder(self.site.name)
            .label(self.label)
            .config(self.site.config())
            .max_keys(self.max_keys)
            .idle(Duration::from_nanos(self.idle))
            .registry(crate::registry())
            .build();
        match built {
            Ok(keyed) => keyed,
            Err(error) => {
                tracing::error!(
                    target: "breaker",
                    breaker = self.site.name,
                    function = self.site.function,
                    "#[circuit_breaker] keyed settings refused at run time ({error}); using the defaults"
                );
                KeyedBreaker::builder(self.site.name)
                    .config(self.site.config())
                    .registry(crate::registry())
                    .build()
                    .unwrap_or_else(|_| unreachable!("the default settings are valid"))
            }
        }
    }
}

/// A key's breaker found by [`KeyedHandle::ticket`], for one call.
pub struct KeyTicket<K>(crate::keyed::Ticket<K>);

impl<K: 'static> KeyTicket<K> {
    /// Runs `f` (the call: admission, body, outcome) on the key's breaker.
    #[inline(always)]
    pub fn with<R>(self, f: impl FnOnce(&Breaker) -> R) -> R {
        self.0.with(f)
    }
}

impl<K> fmt::Debug for KeyTicket<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyTicket")
    }
}

/// The value of `key = ...`, as a keyed breaker's table looks it up: `Hash +
/// Eq + Display`, with an owned form to keep.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot key a circuit breaker",
    label = "the value of `key = ...`",
    note = "a key must be `Hash + Eq + Display`, with an owned form (`ToOwned`) that is `Send + Sync + 'static`: a `&str`, a `String`, an integer, or a type that derives `Clone, Hash, PartialEq, Eq` and implements `Display`"
)]
pub trait Key:
    std::hash::Hash
    + Eq
    + Display
    + ToOwned<Owned: std::hash::Hash + Eq + Display + Send + Sync + 'static>
{
}

#[diagnostic::do_not_recommend]
impl<T> Key for T
where
    T: std::hash::Hash + Eq + Display + ToOwned + ?Sized,
    T::Owned: std::hash::Hash + Eq + Display + Send + Sync + 'static,
{
}

/// The key expression's value, borrowed, for autoref specialization: a
/// reference is looked up by what it points at (`req.host()`, a `&str`,
/// is looked up as a `str` and kept as a `String`), anything else as itself.
pub struct KeyProbe<'a, V: ?Sized>(pub &'a V);

/// A reference key: looked up by what it points at.
pub trait KeyOfRef<'a> {
    /// What the reference points at.
    type Key: ?Sized;
    /// It.
    fn __cb_key(&self) -> &'a Self::Key;
}

impl<'a, 'b: 'a, T: ?Sized> KeyOfRef<'a> for KeyProbe<'a, &'b T> {
    type Key = T;
    fn __cb_key(&self) -> &'a T {
        self.0
    }
}

/// Any other key: looked up as itself.
pub trait KeyOfValue<'a> {
    /// The key's type.
    type Key: ?Sized;
    /// It.
    fn __cb_key(&self) -> &'a Self::Key;
}

impl<'a, V: ?Sized> KeyOfValue<'a> for &KeyProbe<'a, V> {
    type Key = V;
    fn __cb_key(&self) -> &'a V {
        self.0
    }
}
