//! Users: the row each source user becomes, its password and its admin capability, and what
//! happens to stored users the source did not return. Users are the only entries with a
//! lifecycle of their own (enabled in the source, deactivated by whom, reactivated or not) and
//! with secrets, which is why they do not share the simpler path of groups.

use crate::change::{Event, EventKey, FieldChange, UserWrite};
use crate::ids::{ExternalId, SourceId};
use crate::model::{DeactivatedBy, SourcePassword, SourceUser, StoredUser, UserStatus};
use crate::options::Reactivate;
use crate::parallel;
use crate::password::PasswordHash;

use super::{compare, identity_changes, key, Planner};

/// A password made ready to store: the hash, whether the password changed, and whether
/// hashing failed.
pub(super) struct Hashed {
    hash: Option<PasswordHash>,
    changed: bool,
    failed: bool,
}

impl Planner<'_> {
    fn is_admin(&mut self, external_id: &ExternalId, locator: Option<&str>) -> bool {
        let mut hit = false;
        for name in std::iter::once(external_id.as_str()).chain(locator) {
            if let Some(matched) = self.admins.get_mut(self.fold.key(name).as_ref()) {
                *matched = true;
                hit = true;
            }
        }
        hit
    }

    fn may_reactivate(&self, by: Option<DeactivatedBy>) -> bool {
        match self.options.reactivate {
            Reactivate::Any => true,
            Reactivate::None => false,
            Reactivate::Sync => by != Some(DeactivatedBy::Admin),
        }
    }

    /// The clear passwords of `users`, in order, each made ready to store ([`Self::password`])
    /// on the planner's threads: a first sync hashes every one of them with argon2, tens of
    /// milliseconds each. Sources without clear passwords (LDAP) cost nothing here.
    pub(super) fn clear_passwords(&self, users: &[SourceUser]) -> Vec<Hashed> {
        let clear: Vec<&SourceUser> = users
            .iter()
            .filter(|u| matches!(u.password, SourcePassword::Clear(_)))
            .collect();
        if clear.is_empty() {
            return Vec::new();
        }
        let store = self.store;
        let stored = |u: &SourceUser| {
            let i = *self.user_index.get(&u.source_id)?;
            store.users[i].password_hash.as_ref()
        };
        parallel::map(
            &clear,
            self.options.threads,
            |_| 1,
            |u| self.password(u, stored(u)),
        )
    }

    /// The hash to store for `u`'s password, and whether the password itself changed (what
    /// the run log says; a new check or a rehash of the same password is no such change).
    ///
    /// A clear password costs an argon2 verification only when the stored hash's check does not
    /// vouch for it (no check yet, another key, a changed password), and a hash only when it
    /// changed or the stored hash's parameters are outdated: a run where nothing changed
    /// computes one keyed check per user and nothing slow.
    fn password(&self, u: &SourceUser, stored: Option<&PasswordHash>) -> Hashed {
        let kept = |changed| Hashed {
            hash: stored.cloned(),
            changed,
            failed: false,
        };
        let p = match &u.password {
            SourcePassword::Unmanaged => return kept(false),
            SourcePassword::Absent => {
                return Hashed {
                    hash: None,
                    changed: stored.is_some(),
                    failed: false,
                }
            }
            SourcePassword::Clear(p) => p,
        };
        let hasher = self.hasher;
        let same = match stored {
            Some(h) => {
                let check = hasher.check(&u.source_id, p, h);
                let vouched = check.is_some() && check.as_deref() == h.check();
                let same = vouched || hasher.verify(p, h);
                if same && !hasher.needs_rehash(h) {
                    let hash = if vouched {
                        h.clone()
                    } else {
                        h.clone().with_check(check)
                    };
                    return Hashed {
                        hash: Some(hash),
                        changed: false,
                        failed: false,
                    };
                }
                same
            }
            None => false,
        };
        match hasher.hash(p) {
            Some(h) => {
                let check = hasher.check(&u.source_id, p, &h);
                Hashed {
                    hash: Some(h.with_check(check)),
                    changed: !same,
                    failed: false,
                }
            }
            None => Hashed {
                failed: true,
                ..kept(false)
            },
        }
    }

    /// The hash [`Self::clear_passwords`] made for `u`, else `u`'s other kind of password; a
    /// hash that could not be made keeps the stored one, with a warning.
    fn stored_password(
        &mut self,
        u: &SourceUser,
        stored: Option<&PasswordHash>,
        hashed: Option<Hashed>,
    ) -> (Option<PasswordHash>, bool) {
        let hashed = hashed.unwrap_or_else(|| self.password(u, stored));
        if hashed.failed {
            self.warn(
                EventKey::SkippedPassword,
                format!(
                    "{}: the password could not be hashed; kept as it was",
                    u.external_id
                ),
            );
        }
        (hashed.hash, hashed.changed)
    }

    /// Records a grant or a revocation when `was` and `now` differ.
    fn capability(&mut self, sid: &SourceId, ext: &ExternalId, was: bool, now: bool) {
        match (was, now) {
            (false, true) => self.out.admins_granted.push(key(sid, ext)),
            (true, false) => self.out.admins_revoked.push(key(sid, ext)),
            _ => {}
        }
    }

    /// Plans `u`'s row; `hashed` is its clear password made ready by [`Self::clear_passwords`].
    pub(super) fn user(&mut self, u: SourceUser, hashed: Option<Hashed>) {
        let admin = self.is_admin(&u.external_id, u.locator.as_deref());
        let Some(&i) = self.user_index.get(&u.source_id) else {
            let (password_hash, _) = self.stored_password(&u, None, hashed);
            let (status, deactivated_by) = if u.enabled {
                (UserStatus::Active, None)
            } else {
                (UserStatus::Inactive, Some(DeactivatedBy::Source))
            };
            self.capability(&u.source_id, &u.external_id, false, admin);
            self.out.users.push(UserWrite {
                event: Event::Created,
                row: row(u, status, deactivated_by, admin, password_hash),
            });
            return;
        };
        let store = self.store;
        let st = &store.users[i];
        let (password_hash, password_changed) =
            self.stored_password(&u, st.password_hash.as_ref(), hashed);
        let mut fields = identity_changes(
            (&st.external_id, st.locator.as_deref()),
            (&u.external_id, u.locator.as_deref()),
        );
        compare(
            &mut fields,
            "first_name",
            Some(&st.first_name),
            Some(&u.first_name),
        );
        compare(
            &mut fields,
            "last_name",
            Some(&st.last_name),
            Some(&u.last_name),
        );
        compare(
            &mut fields,
            "email",
            st.email.as_deref(),
            u.email.as_deref(),
        );
        if password_changed {
            fields.push(FieldChange::secret("password"));
        }
        // What else of the password's row changed (a new check, a rehash) is written without
        // a word, so that the next run finds the password cheaply.
        let rewritten = st.password_hash != password_hash;
        let active = st.status == UserStatus::Active;
        let (status, deactivated_by, event) = match (u.enabled, active) {
            (true, true) => (UserStatus::Active, None, Event::Updated(fields)),
            (true, false) if self.may_reactivate(st.deactivated_by) => {
                (UserStatus::Active, None, Event::Reactivated(fields))
            }
            (false, true) => (
                UserStatus::Inactive,
                Some(DeactivatedBy::Source),
                Event::Deactivated(DeactivatedBy::Source),
            ),
            (_, false) => (
                UserStatus::Inactive,
                st.deactivated_by,
                Event::Updated(fields),
            ),
        };
        let event = match event {
            Event::Updated(f) if f.is_empty() && st.admin == admin && !rewritten => return,
            Event::Updated(f) if f.is_empty() && st.admin == admin => Event::Silent,
            Event::Updated(f) if f.is_empty() => Event::Capability,
            e => e,
        };
        self.capability(&u.source_id, &u.external_id, st.admin, admin);
        self.out.users.push(UserWrite {
            event,
            row: row(u, status, deactivated_by, admin, password_hash),
        });
    }

    /// Stored users the source did not return: the active ones no longer `present` (all of them
    /// in a full run) are deactivated; in both modes their admin capability follows
    /// `sync.admins`, so that a user who left the directory and the list is not an administrator
    /// again when someone reactivates it by hand.
    pub(super) fn unseen_users(&mut self, seen: &[bool], present: &[bool]) {
        let store = self.store;
        let unseen = store.users.iter().zip(seen.iter().zip(present));
        for (st, (_, &present)) in unseen.filter(|(_, (&seen, _))| !seen) {
            let admin = self.is_admin(&st.external_id, st.locator.as_deref());
            let deactivate =
                (!present || self.gone(&st.external_id)) && st.status == UserStatus::Active;
            if !deactivate && admin == st.admin {
                continue;
            }
            self.capability(&st.source_id, &st.external_id, st.admin, admin);
            let mut row = st.clone();
            row.admin = admin;
            let event = if deactivate {
                row.status = UserStatus::Inactive;
                row.deactivated_by = Some(DeactivatedBy::Sync);
                Event::Deactivated(DeactivatedBy::Sync)
            } else {
                Event::Capability
            };
            self.out.users.push(UserWrite { event, row });
        }
    }

    /// Whether a user run asked the source for `login` and got nothing.
    pub(super) fn gone(&self, login: &ExternalId) -> bool {
        let key = self.fold.key(login.as_str());
        self.options.gone.iter().any(|g| self.fold.key(g) == key)
    }

    pub(super) fn unmatched_admins(&mut self) {
        let mut unmatched: Vec<String> = self
            .options
            .admins
            .iter()
            .filter(|a| self.admins.get(self.fold.key(a).as_ref()) == Some(&false))
            .cloned()
            .collect();
        unmatched.sort();
        unmatched.dedup();
        for a in unmatched {
            self.warn(
                EventKey::SkippedCapability,
                format!("tenant-admin {a} matches no user of the source"),
            );
        }
    }
}

/// The row to write for the source user `u`.
fn row(
    u: SourceUser,
    status: UserStatus,
    deactivated_by: Option<DeactivatedBy>,
    admin: bool,
    password_hash: Option<PasswordHash>,
) -> StoredUser {
    StoredUser {
        source_id: u.source_id,
        external_id: u.external_id,
        locator: u.locator,
        first_name: u.first_name,
        last_name: u.last_name,
        email: u.email,
        status,
        deactivated_by,
        admin,
        password_hash,
    }
}
