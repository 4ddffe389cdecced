//! An order-keeping parallel map for the planner's one heavy loop (resolving a million member
//! references), on scoped threads of the standard library: the work is pure, so the result
//! is the same whatever the number of threads, and no thread outlives the call.

use std::num::NonZeroUsize;

/// `items.iter().map(f)`, on up to `threads` threads: the items are cut into contiguous runs of
/// about equal `weight` (a group's member count), the first run is mapped on the calling thread
/// and the results come back in the items' order.
///
/// # Panics
/// Re-raises a panic of `f` from any thread.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    threads: NonZeroUsize,
    weight: impl Fn(&T) -> usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let runs = split(items, threads.get(), weight);
    let Some((first, rest)) = runs.split_first() else {
        return Vec::new();
    };
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = rest
            .iter()
            .map(|run| scope.spawn(move || run.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = Vec::with_capacity(items.len());
        out.extend(first.iter().map(f));
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// Cuts `items` into at most `parts` contiguous, non-empty runs of about equal total weight
/// (each item weighs at least 1, so that empty groups are spread too).
fn split<T>(items: &[T], parts: usize, weight: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let weights: Vec<usize> = items.iter().map(|item| weight(item).max(1)).collect();
    let total: usize = weights.iter().sum();
    let share = total.div_ceil(parts.max(1)).max(1);
    let mut runs = Vec::with_capacity(parts);
    let (mut start, mut sum) = (0, 0);
    for (i, w) in weights.iter().enumerate() {
        sum += w;
        if sum >= share && runs.len() + 1 < parts {
            runs.push(&items[start..=i]);
            (start, sum) = (i + 1, 0);
        }
    }
    if start < items.len() {
        runs.push(&items[start..]);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).expect("positive")
    }

    #[test]
    fn runs_cover_the_items_in_order_with_balanced_weight() {
        let items = [5, 1, 1, 1, 1, 1, 5, 5];
        let runs = split(&items, 2, |&w| w);
        assert_eq!(runs, vec![&items[..6], &items[6..]]);
        assert_eq!(split(&items, 1, |&w| w), vec![&items[..]]);
        let many = split(&items, 20, |&w| w);
        assert_eq!(many.concat(), items);
        assert!(many.iter().all(|run| !run.is_empty()));
        assert!(split(&[] as &[usize], 3, |&w| w).is_empty());
        let empty_groups = [0; 6];
        assert_eq!(split(&empty_groups, 3, |&w| w).len(), 3);
    }

    #[test]
    fn the_result_is_the_sequential_map_whatever_the_threads() {
        let items: Vec<usize> = (0..1000).collect();
        let expected: Vec<usize> = items.iter().map(|i| i * 3).collect();
        for n in 1..=5 {
            assert_eq!(map(&items, threads(n), |&i| i % 7, |&i| i * 3), expected);
        }
        assert!(map(&[] as &[usize], threads(4), |_| 1, |&i| i).is_empty());
    }

    #[test]
    #[should_panic(expected = "item 900")]
    fn a_panic_on_another_thread_reaches_the_caller() {
        let items: Vec<usize> = (0..1000).collect();
        map(
            &items,
            threads(2),
            |_| 1,
            |&i| {
                assert!(i != 900, "item 900");
                i
            },
        );
    }
}
