//! Multi-row statements without exceeding the backend's bind-parameter limit: every bulk write
//! and every `IN` list goes through [`in_batches`], sized by [`rows_per_statement`].

/// Binds a statement keeps for itself besides its rows (a tenant id, a group id).
const OWN_BINDS: usize = 4;

/// How many items binding `binds_per_item` parameters each fit in one statement under
/// `max_binds` (at least one).
pub(crate) fn rows_per_statement(max_binds: usize, binds_per_item: usize) -> usize {
    (max_binds.saturating_sub(OWN_BINDS) / binds_per_item.max(1)).max(1)
}

/// Calls `write` with consecutive batches of at most `size` `items`. The iterator is consumed
/// lazily, so millions of log lines never sit in memory at once.
///
/// # Errors
/// The first error of `write`, after which no further batch is written.
pub(crate) fn in_batches<T, E>(
    items: impl IntoIterator<Item = T>,
    size: usize,
    mut write: impl FnMut(Vec<T>) -> Result<(), E>,
) -> Result<(), E> {
    let mut items = items.into_iter();
    loop {
        let batch: Vec<T> = items.by_ref().take(size.max(1)).collect();
        if batch.is_empty() {
            return Ok(());
        }
        write(batch)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQLITE: usize = 32_766;

    fn sizes(n: usize, binds_per_item: usize) -> Vec<usize> {
        let mut sizes = Vec::new();
        in_batches(0..n, rows_per_statement(SQLITE, binds_per_item), |batch| {
            sizes.push(batch.len());
            Ok::<_, ()>(())
        })
        .expect("never fails");
        sizes
    }

    #[test]
    fn batches_respect_the_bind_limit_and_keep_every_item() {
        assert_eq!(sizes(0, 14), Vec::<usize>::new());
        assert_eq!(sizes(5, 14), vec![5]);
        let big = sizes(20_000, 14);
        assert!(big.iter().all(|&s| s * 14 + OWN_BINDS <= SQLITE));
        assert_eq!(big.iter().sum::<usize>(), 20_000);
        assert_eq!(sizes(40_000, 1), vec![32_762, 7_238]);
        assert_eq!(rows_per_statement(65_535, 2), 32_765);
        assert_eq!(rows_per_statement(3, 14), 1);
    }

    #[test]
    fn the_first_error_stops_the_batches() {
        let mut calls = 0;
        let result = in_batches(0..100_000, 2, |_| {
            calls += 1;
            Err("boom")
        });
        assert_eq!((result, calls), (Err("boom"), 1));
    }
}
