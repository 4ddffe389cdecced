//! Integration tests of the diesel store against real SQLite files, one fresh database per test.

mod apply;
mod migrate;
mod runs;
mod support;
mod url;
mod views;
