//! Groups: the row each source group becomes and the deactivation of stored groups that left
//! the source. Groups have no password, capability or source-side status, so their rows stay
//! this small; their members are planned as edges (see `edges`).

use crate::change::{Event, GroupWrite};
use crate::model::{DeactivatedBy, SourceGroup, StoredGroup, UserStatus};

use super::{compare, identity_changes, Planner};

impl Planner<'_> {
    pub(super) fn group(&mut self, g: &SourceGroup) {
        let row = StoredGroup {
            source_id: g.source_id.clone(),
            external_id: g.external_id.clone(),
            locator: g.locator.clone(),
            name: g.name.clone(),
            status: UserStatus::Active,
        };
        let Some(&i) = self.group_index.get(&g.source_id) else {
            self.out.groups.push(GroupWrite {
                event: Event::Created,
                row,
            });
            return;
        };
        let st = &self.store.groups[i];
        let mut fields = identity_changes(
            (&st.external_id, st.locator.as_deref()),
            (&g.external_id, g.locator.as_deref()),
        );
        compare(&mut fields, "name", Some(&st.name), Some(&g.name));
        let event = if st.status == UserStatus::Inactive {
            Event::Reactivated(fields)
        } else if fields.is_empty() {
            return;
        } else {
            Event::Updated(fields)
        };
        self.out.groups.push(GroupWrite { event, row });
    }

    /// Active stored groups no longer `present` in the source become inactive.
    pub(super) fn unseen_groups(&mut self, present: &[bool]) {
        let store = self.store;
        for (st, _) in store.groups.iter().zip(present).filter(|(_, &p)| !p) {
            if st.status == UserStatus::Active {
                let mut row = st.clone();
                row.status = UserStatus::Inactive;
                self.out.groups.push(GroupWrite {
                    event: Event::Deactivated(DeactivatedBy::Sync),
                    row,
                });
            }
        }
    }
}
