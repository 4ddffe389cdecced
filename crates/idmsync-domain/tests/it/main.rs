//! The one integration-test binary of `idmsync-domain`: the planner's and the guard's rules,
//! table-driven, through the public API only. `fixture` holds the builders, the shared fake hashers,
//! `check` and an in-memory `apply` used for idempotence and multi-run stories.

mod admins;
mod batch;
mod departed;
mod documents;
mod fixture;
mod guard;
mod idempotence;
mod passwords;
mod plan_groups;
mod plan_users;
mod scale;
