//! The replay's queue of what is due: a binary min-heap of (time, order,
//! slot), the earliest first.
//!
//! `std`'s `BinaryHeap` does the same, but it holds the element it sifts
//! in a stack slot written as words and read back as a wider load, a
//! store-forwarding stall on every pop: a sixth of the replay thread. Here
//! the element being sifted stays in registers and every move is a move of
//! whole fields.

/// Something due at `t`: among those due at one instant, the lower `order`
/// first; `slot` says where it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Due {
    /// When, in ns.
    pub t: u64,
    /// Its place among those due at the same instant.
    pub order: u64,
    /// Where the engine keeps what is due.
    pub slot: usize,
}

impl Due {
    /// Whether `self` comes before `other`.
    #[inline(always)]
    fn before(&self, other: &Due) -> bool {
        (self.t, self.order, self.slot) < (other.t, other.order, other.slot)
    }
}

/// What is due, earliest first.
#[derive(Debug, Default)]
pub struct DueQueue {
    heap: Vec<Due>,
}

impl DueQueue {
    /// The earliest, if any.
    #[inline]
    pub fn peek(&self) -> Option<&Due> {
        self.heap.first()
    }

    /// Adds `due`. Inlined: out of line, `due` was passed through memory,
    /// written as words and read back wider.
    #[inline(always)]
    pub fn push(&mut self, due: Due) {
        let mut hole = self.heap.len();
        self.heap.push(due);
        while hole > 0 {
            let parent = (hole - 1) / 2;
            let above = self.heap[parent];
            if !due.before(&above) {
                break;
            }
            self.heap[hole] = above;
            hole = parent;
        }
        self.heap[hole] = due;
    }

    /// Takes the earliest out.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<Due> {
        let last = self.heap.pop()?;
        let Some(&first) = self.heap.first() else {
            return Some(last);
        };
        // `last` sinks from the top into the hole the first leaves.
        let len = self.heap.len();
        let mut hole = 0;
        loop {
            let left = 2 * hole + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && self.heap[right].before(&self.heap[left]) {
                right
            } else {
                left
            };
            let below = self.heap[child];
            if !below.before(&last) {
                break;
            }
            self.heap[hole] = below;
            hole = child;
        }
        self.heap[hole] = last;
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    proptest! {
        #[test]
        fn pops_in_the_order_std_does(ops in proptest::collection::vec((any::<bool>(), 0u64..20, 0u64..4), 0..300)) {
            let mut ours = DueQueue::default();
            let mut std = BinaryHeap::new();
            for (slot, (push, t, order)) in ops.into_iter().enumerate() {
                if push {
                    let due = Due { t, order, slot };
                    ours.push(due);
                    std.push(Reverse(due));
                } else {
                    prop_assert_eq!(ours.pop(), std.pop().map(|Reverse(d)| d));
                }
                prop_assert_eq!(ours.peek(), std.peek().map(|Reverse(d)| d));
            }
            while let Some(Reverse(d)) = std.pop() {
                prop_assert_eq!(ours.pop(), Some(d));
            }
            prop_assert_eq!(ours.pop(), None);
        }
    }
}
