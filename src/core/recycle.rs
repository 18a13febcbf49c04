//! Recycled buffers: the large buffers an inference batch needs and drops (converted activations,
//! Q, K, V, attention context) come from a per-thread pool and go back to it, so each batch writes
//! into the pages of the last one instead of faulting fresh ones in (an int8 encode of
//! all-MiniLM-L6-v2 spent 5 % of its time in page faults before).
//!
//! A buffer taken from the pool holds **stale values** of its last use (only its growth is
//! zeroed): callers overwrite every element they read. The pool keeps at most [`KEEP`] buffers of
//! [`KEEP_BYTES`] in all per thread; what does not fit is freed.

use std::cell::RefCell;

/// Buffers kept per thread and type.
const KEEP: usize = 8;
/// Bytes kept per thread and type.
const KEEP_BYTES: usize = 64 << 20;

/// An element type with a per-thread pool.
pub(crate) trait Recycle: Copy + Default + 'static {
    /// Runs `f` on this thread's pool, or returns `None` while the thread is being torn down.
    fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> Option<R>;
}

macro_rules! recycle {
    ($($t:ty),*) => {$(
        impl Recycle for $t {
            fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> Option<R> {
                thread_local! {
                    static POOL: RefCell<Vec<Vec<$t>>> = const { RefCell::new(Vec::new()) };
                }
                POOL.try_with(|p| f(&mut p.borrow_mut())).ok()
            }
        }
    )*};
}
recycle!(f32, u32, i32);

/// A buffer of `len` elements from this thread's pool: the smallest kept one that holds `len`,
/// else the largest (grown), else a new one. Its elements are unspecified (stale) values.
pub(crate) fn take<T: Recycle>(len: usize) -> Vec<T> {
    let mut v = T::with_pool(|pool| {
        let fits = (0..pool.len())
            .filter(|&i| pool[i].capacity() >= len)
            .min_by_key(|&i| pool[i].capacity());
        let pick = fits.or_else(|| (0..pool.len()).max_by_key(|&i| pool[i].capacity()));
        pick.map(|i| pool.swap_remove(i))
    })
    .flatten()
    .unwrap_or_default();
    v.truncate(len);
    v.resize(len, T::default());
    v
}

/// Returns `v` to this thread's pool, or frees it where the pool is full.
pub(crate) fn give<T: Recycle>(v: Vec<T>) {
    if v.capacity() == 0 {
        return;
    }
    let bytes = |v: &Vec<T>| v.capacity() * std::mem::size_of::<T>();
    T::with_pool(|pool| {
        let kept: usize = pool.iter().map(bytes).sum();
        if pool.len() < KEEP && kept + bytes(&v) <= KEEP_BYTES {
            pool.push(v);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_buffer_is_reused_and_resized() {
        let mut a = take::<f32>(1000);
        assert_eq!(a.len(), 1000);
        a.iter_mut().for_each(|v| *v = 7.0);
        let ptr = a.as_ptr();
        give(a);
        // Smaller: the same allocation, truncated, its values stale.
        let b = take::<f32>(10);
        assert_eq!((b.len(), b.as_ptr()), (10, ptr));
        assert!(b.iter().all(|&v| v == 7.0));
        give(b);
        // Larger: grown, the growth zeroed.
        let c = take::<f32>(2000);
        assert_eq!(c.len(), 2000);
        assert!(c[..10].iter().all(|&v| v == 7.0) && c[10..].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn the_pool_is_bounded() {
        let bufs: Vec<Vec<u32>> = (0..KEEP + 3).map(|_| take::<u32>(16)).collect();
        bufs.into_iter().for_each(give);
        assert_eq!(u32::with_pool(|p| p.len()), Some(KEEP));
        // Too large to keep.
        give(vec![0u32; KEEP_BYTES / 4 + 1]);
        assert_eq!(u32::with_pool(|p| p.len()), Some(KEEP));
        u32::with_pool(|p| p.clear());
        give(vec![0u32; KEEP_BYTES / 4 + 1]);
        assert_eq!(u32::with_pool(|p| p.len()), Some(0));
    }
}
