//! The merge rules, one test each, on reads built in memory.

use idmsync_domain::plan::{SourceData, Unreadable};
use idmsync_domain::{MemberRef, SourceId, SourcePassword, SourceUser};
use idmsync_source_merge::{merge::merge, Links, MatchBy, MergeOptions, Read};
use idmsync_test_doubles::{group, user};

fn id(s: &str) -> SourceId {
    SourceId::new(s).expect("id")
}

/// A person of a source: `sid` as the source knows them, `login`, `email`.
fn person(sid: &str, login: &str, email: Option<&str>) -> SourceUser {
    let mut u = user(login);
    u.source_id = id(sid);
    u.email = email.map(str::to_string);
    u
}

fn read(source: &str, users: Vec<SourceUser>) -> Read {
    Read {
        source: source.into(),
        data: SourceData {
            users,
            ..SourceData::default()
        },
    }
}

/// The employees' users over the contractors', merged by e-mail given `links`.
fn employees_over_contractors(
    employees: Vec<SourceUser>,
    contractors: Vec<SourceUser>,
    links: &Links,
) -> SourceData {
    merge(
        vec![
            read("employees", employees),
            read("contractors", contractors),
        ],
        links,
        by_email(),
    )
}

fn by_email() -> MergeOptions {
    MergeOptions::default()
}

fn held(data: &SourceData) -> Vec<&Unreadable> {
    data.unreadable.iter().filter(|u| u.conflict).collect()
}

#[test]
fn one_person_in_two_sources_is_one_user_the_higher_source_winning_field_by_field() {
    let mut employee = person("guid-1", "cjones", Some("Carol.Jones@Example.com"));
    employee.last_name = String::new();
    employee.first_name = "Carol".into();
    let mut contractor = person("c1", "c.jones", Some("carol.jones@example.com "));
    contractor.first_name = "Caroline".into();
    contractor.last_name = "Jones".into();
    contractor.password = SourcePassword::Absent;

    let data = employees_over_contractors(vec![employee], vec![contractor], &Links::default());

    assert_eq!(data.users.len(), 1, "{data:?}");
    let u = &data.users[0];
    assert_eq!(
        u.source_id,
        id("guid-1"),
        "a new person takes the higher source's id"
    );
    assert_eq!(u.external_id.as_str(), "cjones");
    assert_eq!(u.first_name, "Carol", "the higher source's value wins");
    assert_eq!(
        u.last_name, "Jones",
        "the lower source fills what the higher lacks"
    );
    assert_eq!(u.email.as_deref(), Some("Carol.Jones@Example.com"));
    assert_eq!(
        u.password,
        SourcePassword::Absent,
        "only the contractors manage passwords"
    );
    assert_eq!(data.documents.len(), 1);
    assert_eq!(
        data.documents[0].body,
        r#"{"sources":{"contractors":"c1","employees":"guid-1"}}"#
    );
}

#[test]
fn a_person_keeps_the_id_earlier_runs_gave_them_when_a_higher_source_adds_them() {
    let first = employees_over_contractors(
        vec![],
        vec![person("c1", "cjones", Some("c@example.com"))],
        &Links::default(),
    );
    assert_eq!(first.users[0].source_id, id("c1"));
    let links = Links::from_documents(first.documents.clone());

    let later = employees_over_contractors(
        vec![person("guid-1", "carol", Some("c@example.com"))],
        vec![person("c1", "cjones", Some("c@example.com"))],
        &links,
    );
    assert_eq!(later.users.len(), 1);
    assert_eq!(later.users[0].source_id, id("c1"), "the row is kept");
    assert_eq!(
        later.users[0].external_id.as_str(),
        "carol",
        "the employee's login wins"
    );

    let unchanged = employees_over_contractors(
        vec![person("guid-1", "carol", Some("c@example.com"))],
        vec![person("c1", "cjones", Some("c@example.com"))],
        &Links::from_documents(later.documents.clone()),
    );
    assert_eq!(unchanged.users[0].source_id, id("c1"));
    assert!(
        unchanged.documents.is_empty(),
        "links unchanged: nothing to write"
    );
}

#[test]
fn one_login_claimed_by_two_different_people_holds_both_back() {
    let data = employees_over_contractors(
        vec![person("guid-1", "jsmith", Some("john@example.com"))],
        vec![person("c7", "jsmith", Some("jane@example.com"))],
        &Links::default(),
    );
    assert!(data.users.is_empty(), "{data:?}");
    let held = held(&data);
    assert_eq!(held.len(), 2);
    for h in &held {
        assert!(
            h.reason
                .contains("\"jsmith\" is claimed by 2 different people"),
            "{}",
            h.reason
        );
        assert!(
            h.reason.contains("employees and contractors"),
            "{}",
            h.reason
        );
    }
    let ids: Vec<_> = held.iter().filter_map(|h| h.source_id.clone()).collect();
    assert_eq!(ids, vec![id("guid-1"), id("c7")]);
}

#[test]
fn an_email_on_two_entries_of_one_source_is_not_guessed_into_another_sources_person() {
    let data = employees_over_contractors(
        vec![
            person("guid-1", "ann", Some("team@example.com")),
            person("guid-2", "bob", Some("team@example.com")),
        ],
        vec![person("c1", "carl", Some("team@example.com"))],
        &Links::default(),
    );
    assert!(data.users.is_empty(), "{data:?}");
    let held = held(&data);
    assert_eq!(
        held.len(),
        1,
        "the three entries are one held entity: {held:?}"
    );
    assert!(held[0]
        .reason
        .contains("on 2 entries of employees and also in contractors"));
}

#[test]
fn entries_of_one_source_never_merge_with_each_other() {
    let data = merge(
        vec![read(
            "employees",
            vec![
                person("guid-1", "ann", Some("team@example.com")),
                person("guid-2", "bob", Some("team@example.com")),
            ],
        )],
        &Links::default(),
        by_email(),
    );
    assert_eq!(data.users.len(), 2);
    assert!(held(&data).is_empty());
}

#[test]
fn a_person_stays_enabled_while_any_source_enables_them() {
    let mut leaver = person("guid-1", "cjones", Some("c@example.com"));
    leaver.enabled = false;
    let data = employees_over_contractors(
        vec![leaver],
        vec![person("c1", "cjones", Some("c@example.com"))],
        &Links::default(),
    );
    assert!(data.users[0].enabled);
}

#[test]
fn matching_by_login_joins_people_without_an_email() {
    let data = merge(
        vec![
            read("employees", vec![person("guid-1", "CJones", None)]),
            read("contractors", vec![person("c1", "cjones", None)]),
        ],
        &Links::default(),
        MergeOptions {
            match_by: MatchBy::Login,
            ignore_case: true,
        },
    );
    assert_eq!(data.users.len(), 1, "{data:?}");
    let apart = employees_over_contractors(
        vec![person("guid-1", "cjones", None)],
        vec![person("c1", "cjones", None)],
        &Links::default(),
    );
    assert!(
        apart.users.is_empty(),
        "no e-mail to match: two people, one login"
    );
    assert_eq!(held(&apart).len(), 2);
}

#[test]
fn groups_of_one_id_are_one_group_with_every_sources_members_renamed() {
    let mut employees = read(
        "employees",
        vec![person("guid-1", "cjones", Some("c@example.com"))],
    );
    employees.data.users[0].locator = Some("uid=cjones,ou=people,dc=example,dc=com".into());
    let mut staff = group("staff", &[]);
    staff.source_id = id("guid-g");
    staff.members = vec![MemberRef::Locator(
        "uid=cjones,ou=people,dc=example,dc=com".into(),
    )];
    employees.data.groups.push(staff);
    let mut contractors = read(
        "contractors",
        vec![
            person("c1", "c.jones", Some("c@example.com")),
            person("c2", "dave", Some("d@example.com")),
        ],
    );
    contractors
        .data
        .groups
        .push(group("staff", &["c.jones", "dave"]));

    let data = merge(vec![employees, contractors], &Links::default(), by_email());

    assert_eq!(data.groups.len(), 1, "{data:?}");
    let staff = &data.groups[0];
    assert_eq!(staff.source_id, id("guid-g"));
    assert_eq!(
        staff.members,
        vec![
            MemberRef::Locator("uid=cjones,ou=people,dc=example,dc=com".into()),
            MemberRef::ExternalId("dave".into()),
        ],
        "c.jones became the employee's entry, named once"
    );
}

#[test]
fn a_new_entry_whose_id_an_earlier_merge_gave_to_another_takes_its_sources_name() {
    let first = employees_over_contractors(
        vec![],
        vec![person("x1", "ann", Some("a@example.com"))],
        &Links::default(),
    );
    let links = Links::from_documents(first.documents.clone());
    let data = employees_over_contractors(
        vec![person("x1", "bob", Some("b@example.com"))],
        vec![person("x1", "ann", Some("a@example.com"))],
        &links,
    );
    let ids: Vec<_> = data.users.iter().map(|u| u.source_id.clone()).collect();
    assert!(ids.contains(&id("x1")), "{ids:?}");
    assert!(ids.contains(&id("employees:x1")), "{ids:?}");
    let ann = data
        .users
        .iter()
        .find(|u| u.external_id.as_str() == "ann")
        .expect("ann");
    assert_eq!(ann.source_id, id("x1"), "ann keeps her row");
}

#[test]
fn unreadable_entries_name_their_merged_ids() {
    let first = employees_over_contractors(
        vec![person("guid-1", "carol", Some("c@example.com"))],
        vec![person("c1", "cjones", Some("c@example.com"))],
        &Links::default(),
    );
    let mut contractors = read("contractors", vec![]);
    contractors.data.unreadable.push(Unreadable {
        group: false,
        locator: "users.txt:3".into(),
        source_id: Some(id("c1")),
        reason: "bad line".into(),
        conflict: false,
    });
    let data = merge(
        vec![read("employees", vec![]), contractors],
        &Links::from_documents(first.documents.clone()),
        by_email(),
    );
    assert_eq!(data.unreadable[0].source_id, Some(id("guid-1")));
}

#[test]
fn matching_by_the_sources_mapping_joins_people_by_employee_number() {
    let numbered = |sid: &str, login: &str, email: &str, number: Option<&str>| {
        let mut u = person(sid, login, Some(email));
        u.match_value = number.map(str::to_string);
        u
    };
    let data = merge(
        vec![
            read(
                "employees",
                vec![
                    numbered("guid-1", "cjones", "carol@corp.example", Some("4711")),
                    numbered("guid-2", "dave", "dave@corp.example", None),
                ],
            ),
            read(
                "contractors",
                vec![
                    numbered("E4711", "carol-c", "carol@agency.example", Some(" 4711 ")),
                    numbered("E9", "erin", "dave@corp.example", None),
                ],
            ),
        ],
        &Links::default(),
        MergeOptions {
            match_by: MatchBy::Mapping,
            ignore_case: false,
        },
    );
    let logins: Vec<_> = data.users.iter().map(|u| u.external_id.as_str()).collect();
    assert_eq!(
        logins,
        ["cjones", "dave", "erin"],
        "4711 is one person; the same e-mail without a number is not"
    );
    assert_eq!(data.users[0].source_id, id("guid-1"));
}
