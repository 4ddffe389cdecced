//! The operator's console in a real browser: Debian's Chromium, headless, driven through
//! chromedriver (WebDriver) against `idmsync serve` on the shipped sample data. Each page it
//! visits is saved as a screenshot under `docs/console/`, which docs/console.md shows.
//!
//! Chromium and chromedriver come from Debian's `chromium` and `chromium-driver` packages,
//! which `cargo xtask ci` installs; the test fails, naming them, when they are missing.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::serve::{sandbox_with, Server, NO_SCHEDULES};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const SAMPLE_USERS: &str = include_str!("../../config/users.txt");
const SAMPLE_GROUPS: &str = include_str!("../../config/groups.txt");
/// The sample's administrator (`sync.admins`) and one user who is not one.
const ADMIN: (&str, &str) = ("jlennon", "johnpassword");
const NOT_ADMIN: (&str, &str) = ("pmccartney", "paulpassword");

/// A chromedriver on a free local port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Self {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: install Debian's chromium and chromium-driver \
                 (`cargo xtask ci` does)"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        // chromedriver says when it listens; nothing else needs waiting for.
        let stdout = child.stdout.take().expect("stdout");
        let started = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains("started successfully"));
        assert!(started, "chromedriver did not start");
        Self { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the screenshots go: docs/console/.
fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/console");
    std::fs::create_dir_all(&dir).expect("docs/console");
    dir
}

/// The browser's session and the console's address.
struct Browser {
    client: Client,
    base: String,
}

impl Browser {
    async fn open(driver: &Driver, base: &str) -> Self {
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000"]
            }
        });
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities.as_object().expect("object").clone())
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("a browser session");
        Self {
            client,
            base: base.to_string(),
        }
    }

    async fn go(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigate");
    }

    async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("url")
            .path()
            .to_string()
    }

    async fn find(&self, css: &str) -> Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    /// The element's text. The sync page's script replaces what it shows every second, so an
    /// element found just before a replacement is stale by the time its text is asked for:
    /// it is then found again (a page that keeps replacing it fails after a few tries).
    async fn text(&self, css: &str) -> String {
        for _ in 0..5 {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(e) if e.is_stale_element_reference() => continue,
                Err(e) => panic!("{css}: {e}"),
            }
        }
        panic!("{css}: replaced every time it was read")
    }

    async fn body(&self) -> String {
        self.text("body").await
    }

    async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Clicks `css` and waits for the page it leads to, which has `arrived` (a CSS selector
    /// the page it leaves does not match).
    async fn click_to(&self, css: &str, arrived: &str) {
        self.click(css).await;
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(arrived))
            .await
            .unwrap_or_else(|e| panic!("after {css}, no {arrived}: {e}"));
    }

    /// Waits until the address satisfies `check`, after a click that loads a page like the
    /// one it leaves.
    async fn until_url(&self, what: &str, check: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let url = self.client.current_url().await.expect("url");
            if check(url.as_str()) {
                return;
            }
            assert!(Instant::now() < deadline, "never {what}: {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn sign_in(&self, (login, password): (&str, &str)) {
        self.go("/sign-in").await;
        self.fill("#login", login).await;
        self.fill("#password", password).await;
        self.click_to(
            "#sign-in button[type=submit]",
            "#sign-in-error, #signed-in-as",
        )
        .await;
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(shots().join(format!("{name}.png")), png).expect("write the screenshot");
    }

    /// Waits (polling the page, not sleeping blind) until `check` holds of the body's text.
    async fn until(&self, what: &str, check: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = self.body().await;
            if check(&body) {
                return;
            }
            assert!(Instant::now() < deadline, "never {what}: {body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[test]
fn an_operator_signs_in_reads_runs_users_and_groups_runs_a_dry_run_then_applies_it() {
    let s = sandbox_with(SAMPLE_USERS, SAMPLE_GROUPS, NO_SCHEDULES);
    let server = Server::start(&s);
    server.wait_ready();
    let driver = Driver::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let b = Browser::open(&driver, server.base()).await;

        // Anyone else is refused, in the same words whatever the reason.
        b.go("/").await;
        assert_eq!(b.path().await, "/sign-in");
        b.screenshot("sign-in").await;
        let mut refusals = Vec::new();
        for who in [(ADMIN.0, "wrong-password"), NOT_ADMIN, ("nobody", "x")] {
            b.sign_in(who).await;
            assert_eq!(b.path().await, "/sign-in", "{who:?}");
            refusals.push(b.text("#sign-in-error").await);
        }
        assert!(refusals.windows(2).all(|w| w[0] == w[1]), "{refusals:?}");

        // The runs: the boot sync, in the table and the chart.
        b.sign_in(ADMIN).await;
        assert_eq!(b.path().await, "/runs");
        assert_eq!(b.text("#signed-in-as").await, ADMIN.0);
        let table = b.text("#runs").await;
        assert!(
            table.contains("full") && table.contains("boot") && table.contains("succeeded"),
            "{table}"
        );
        b.find("figure.chart svg").await;

        // A run's lines, filtered by event key and text, without and with the script.
        b.click_to("#runs tbody tr a", "#line-filter").await;
        assert_eq!(b.path().await, "/runs/1");
        let all = b.text("#line-count").await;
        b.find("#event option[value='added-user-to-group']")
            .await
            .click()
            .await
            .expect("select");
        b.fill("#q", "beatles").await;
        b.click("#line-filter button").await;
        b.until_url("the filter submitted", |u| u.contains("q=beatles"))
            .await;
        let lines = b.text("#lines").await;
        assert!(lines.contains("jlennon to beatles"), "{lines}");
        assert!(!lines.contains("created-user"), "{lines}");
        assert_ne!(b.text("#line-count").await, all);
        b.fill("#q", "rstarr").await;
        let count = b.text("#line-count").await;
        assert!(count.starts_with("1 of"), "as one types: {count}");
        b.screenshot("run").await;
        let download = b.find("#download").await.attr("href").await.expect("href");
        assert_eq!(download.as_deref(), Some("/runs/1/log"));

        // A user found by e-mail, its groups direct and through nesting, and its history.
        b.go("/users").await;
        b.fill("#search", "john@beatles").await;
        b.click("form.search button").await;
        b.until_url("the search submitted", |u| u.contains("q="))
            .await;
        let found = b.text("#users").await;
        assert!(
            found.contains("jlennon") && !found.contains("pmccartney"),
            "{found}"
        );
        b.click_to("#users tbody a", "#user-facts").await;
        assert_eq!(b.path().await, "/users/jlennon");
        assert!(b.text("#groups-direct").await.contains("beatles"));
        let inherited = b.text("#groups-inherited").await;
        assert!(
            inherited.contains("musicians") && inherited.contains("everyone"),
            "{inherited}"
        );
        assert!(b.text("#history").await.contains("created-user"));
        b.screenshot("user").await;

        // A group: members, child and parent groups.
        b.click_to("#groups-direct a", "#parents").await;
        assert_eq!(b.path().await, "/groups/beatles");
        assert!(b.text("#members").await.contains("rstarr"));
        assert!(b.text("#parents").await.contains("musicians"));
        b.screenshot("group").await;

        // A POST without the session's CSRF token is refused, and nothing starts.
        let status = b
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch('/sync', {method: 'POST', credentials: 'same-origin',
                   body: new URLSearchParams({mode: 'full', action: 'start'})})
                 .then(r => done(r.status));",
                vec![],
            )
            .await
            .expect("a forged post");
        assert_eq!(status, json!(403));

        // A dry run, then its changes applied; the page follows the run.
        s.write(
            "users.txt",
            &SAMPLE_USERS.replace("rstarr;Ringo;Starr", "rstarr;Richard;Starkey"),
        );
        b.go("/sync").await;
        b.screenshot("sync").await;
        b.click_to("#dry-run-full", "#dry-run-counts").await;
        let counts = b.text("#dry-run-counts").await;
        assert!(counts.contains("1 user updated"), "{counts}");
        assert!(b
            .text("#guard-verdict")
            .await
            .contains("let this run through"));
        assert!(b.text("#planned").await.contains("rstarr"));
        b.screenshot("dry-run").await;
        b.click_to("#apply", "#progress").await;
        assert_eq!(b.path().await, "/sync");
        b.go("/runs").await;
        b.until("the applied run is listed", |body| {
            body.contains("1 user updated")
        })
        .await;

        // A run in progress is followed on the sync page without a reload: the run blocks
        // reading users.txt (a FIFO) until the test writes it.
        let users = s.path("users.txt");
        let content = std::fs::read_to_string(&users).expect("users.txt");
        std::fs::remove_file(&users).expect("remove users.txt");
        let made = Command::new("mkfifo").arg(&users).status().expect("mkfifo");
        assert!(made.success());
        b.go("/sync").await;
        b.click_to("#start-full", "#progress").await;
        let text = b.text("#progress-text").await;
        assert!(text.starts_with("Run 3 (full) is"), "{text}");
        b.client
            .execute("window.sameDocument = true;", vec![])
            .await
            .expect("mark the page");
        let feeder = std::thread::spawn(move || std::fs::write(users, content));
        b.until("the page says the run ended", |body| {
            body.contains("The run has ended")
        })
        .await;
        let same = b
            .client
            .execute("return window.sameDocument === true;", vec![])
            .await
            .expect("read the mark");
        assert_eq!(same, json!(true), "the page was reloaded");
        feeder.join().expect("feeder").expect("feed the FIFO");

        // Signing out ends the session.
        b.click_to("form.sign-out button", "#sign-in").await;
        assert_eq!(b.path().await, "/sign-in");
        b.go("/runs").await;
        assert_eq!(b.path().await, "/sign-in");
        b.client.close().await.expect("close the browser");
    });
    server.stop();
}

#[test]
fn with_http_console_off_the_root_is_not_served() {
    let s = sandbox_with(SAMPLE_USERS, SAMPLE_GROUPS, NO_SCHEDULES);
    let config = std::fs::read_to_string(s.path("idmsync.toml")).expect("config");
    s.write(
        "idmsync.toml",
        &config.replace("[http]\n", "[http]\nconsole = false\n"),
    );
    let server = Server::start(&s);
    server.wait_ready();
    let (status, _) = server.get("/sign-in", None);
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    let (status, _) = server.get("/api/enterprise/users", Some(ADMIN));
    assert_eq!(status, reqwest::StatusCode::OK);
    server.stop();
}
