//! The course in a real browser: headless Chromium driven over the WebDriver protocol
//! (chromedriver, spoken with plain JSON over HTTP) against the real server on port 0. A
//! learner reads a lesson, runs a console query, opens a waterfall, answers a TraceQL
//! exercise wrongly then rightly, and the instructor's table follows. Queries and answers are
//! typed into the TraceQL editor (`static/editor.js`, CodeMirror) that replaces the text boxes,
//! so the journey also shows that the editor highlights and that what it shows is what the
//! form submits. A failing step saves a screenshot under `target/browser-screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install -y chromium chromium-driver`).
//! Under `CI=true` a missing browser is a failure; elsewhere the test says what is missing and
//! passes without running.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::classroom::REFERENCE;
use crate::support::shelf::{FAILED, FAILED_PAYMENT_SPAN, OK};
use crate::support::{INSTRUCTOR_TOKEN, TestApp};

/// A browser window size, in CSS pixels.
#[derive(Debug, Clone, Copy)]
struct Screen {
    name: &'static str,
    width: u32,
    height: u32,
}

impl Screen {
    const LAPTOP: Screen = Screen {
        name: "1280",
        width: 1280,
        height: 800,
    };
    const PHONE: Screen = Screen {
        name: "390",
        width: 390,
        height: 844,
    };
}

/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a4e2-4e8a1c4e7c2d";

/// WebDriver key codes: Control pressed with `a` (select all), then every key released.
const SELECT_ALL: &str = "\u{E009}a\u{E000}";
/// Control pressed with Enter.
const CTRL_ENTER: &str = "\u{E009}\u{E007}\u{E000}";

type Step<T> = Result<T, String>;

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
    session: String,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Driver {
    async fn start(chromedriver: &PathBuf, chromium: &PathBuf) -> Step<Driver> {
        Driver::start_as(chromedriver, chromium, Screen::LAPTOP, true).await
    }

    /// A browser with a window of `screen`'s size, with or without JavaScript.
    async fn start_as(
        chromedriver: &PathBuf,
        chromium: &PathBuf,
        screen: Screen,
        javascript: bool,
    ) -> Step<Driver> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("chromedriver did not start: {e}"))?;
        let profile = std::env::temp_dir().join(format!(
            "dojo-course-chromium-{}-{port}",
            std::process::id()
        ));
        let mut driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            // No WebDriver command takes this long: a stuck browser fails the step, not the run.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| format!("no HTTP client: {e}"))?,
            session: String::new(),
            profile,
        };
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(response) = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
                && response.status().is_success()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !ready {
            return Err("chromedriver did not answer within 10 s".into());
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            &format!("--window-size={},{}", screen.width, screen.height),
            &format!("--user-data-dir={}", driver.profile.display()),
        ];
        // 2 = blocked: the page's own scripts do not run (WebDriver's still do).
        let prefs = json!({
            "profile.managed_default_content_settings.javascript": if javascript { 1 } else { 2 }
        });
        let options = json!({"binary": chromium, "args": args, "prefs": prefs});
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options
        }}});
        let value = driver.call("POST", "/session", Some(capabilities)).await?;
        driver.session = value["sessionId"]
            .as_str()
            .ok_or("no session id in chromedriver's answer")?
            .to_string();
        driver
            .command(
                "POST",
                "/timeouts",
                Some(json!({"implicit": 5000, "pageLoad": 20000})),
            )
            .await?;
        if screen.width < 500 {
            // Desktop Chromium keeps windows at least 500 px wide: a phone's screen is
            // emulated through the DevTools protocol.
            driver
                .command(
                    "POST",
                    "/goog/cdp/execute",
                    Some(
                        json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                            "width": screen.width, "height": screen.height,
                            "deviceScaleFactor": 1, "mobile": true
                        }}),
                    ),
                )
                .await?;
        }
        Ok(driver)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Step<Value> {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let value: Value = response
            .json()
            .await
            .map_err(|e| format!("{method} {path}: not JSON: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "{method} {path}: {status}: {}",
                value["value"]["message"]
            ));
        }
        Ok(value["value"].clone())
    }

    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> Step<Value> {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    async fn open(&self, url: &str) -> Step<()> {
        self.command("POST", "/url", Some(json!({"url": url})))
            .await
            .map(|_| ())
    }

    async fn find(&self, css: &str) -> Step<String> {
        let value = self
            .command(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
            .map_err(|e| format!("no element {css}: {e}"))?;
        // The W3C key, or the first string value for drivers that use another key.
        value
            .get(ELEMENT)
            .or_else(|| value.as_object().and_then(|o| o.values().next()))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("no element id for {css} in {value}"))
    }

    async fn click(&self, css: &str) -> Step<()> {
        let id = self.find(css).await?;
        self.command("POST", &format!("/element/{id}/click"), None)
            .await
            .map(|_| ())
    }

    async fn fill(&self, css: &str, text: &str) -> Step<()> {
        let id = self.find(css).await?;
        self.command("POST", &format!("/element/{id}/clear"), None)
            .await?;
        self.command(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await
        .map(|_| ())
    }

    /// Types into the TraceQL editor that editor.js put in place of the text box `textarea`
    /// (a selector such as `#q`): clicks it, selects what is there and types over it, keys and
    /// all, as a person would. `text` may end in [`CTRL_ENTER`].
    async fn type_into_editor(&self, textarea: &str, text: &str) -> Step<()> {
        let id = self
            .find(&format!("{textarea} + .cm-editor .cm-content"))
            .await?;
        self.command("POST", &format!("/element/{id}/click"), None)
            .await?;
        self.command(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": format!("{SELECT_ALL}{text}")})),
        )
        .await
        .map(|_| ())
    }

    async fn displayed(&self, css: &str) -> Step<bool> {
        let id = self.find(css).await?;
        let value = self
            .command("GET", &format!("/element/{id}/displayed"), None)
            .await?;
        value
            .as_bool()
            .ok_or_else(|| format!("displayed of {css}: {value}"))
    }

    async fn attribute(&self, css: &str, name: &str) -> Step<String> {
        let id = self.find(css).await?;
        let value = self
            .command("GET", &format!("/element/{id}/attribute/{name}"), None)
            .await?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }

    /// The page's address once it contains `wanted` (a form may still be submitting); the
    /// last address seen when it never does within five seconds.
    async fn url_containing(&self, wanted: &str) -> Step<String> {
        let mut last = String::new();
        for _ in 0..50 {
            let value = self.command("GET", "/url", None).await?;
            last = value.as_str().unwrap_or_default().to_string();
            if last.contains(wanted) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(last)
    }

    async fn text(&self, css: &str) -> Step<String> {
        let id = self.find(css).await?;
        let value = self
            .command("GET", &format!("/element/{id}/text"), None)
            .await?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }

    /// The element's text once it contains `wanted` (a page may still be loading after a
    /// click); the last text seen when it never does within five seconds.
    async fn text_containing(&self, css: &str, wanted: &str) -> Step<String> {
        let mut last = String::new();
        for _ in 0..50 {
            if let Ok(text) = self.text(css).await {
                if text.contains(wanted) {
                    return Ok(text);
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(last)
    }

    /// Runs `script` (a function body) in the page and answers what it returns.
    async fn run(&self, script: &str) -> Step<Value> {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    async fn screenshot(&self, name: &str) -> Option<PathBuf> {
        let value = self.command("GET", "/screenshot", None).await.ok()?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(value.as_str()?)
            .ok()?;
        let dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots");
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).ok()?;
        Some(path)
    }
}

/// With `DOJO_BROWSER_SCREENSHOTS=1`, every step's page is saved too (for reviewing the look).
async fn snap(browser: &Driver, name: &str) {
    if std::env::var_os("DOJO_BROWSER_SCREENSHOTS").is_some() {
        browser.screenshot(name).await;
    }
}

fn expect(condition: bool, what: &str) -> Step<()> {
    if condition {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

/// The learner's and the instructor's journey, step by step.
async fn journey(app: &TestApp, browser: &Driver) -> Step<()> {
    // Read a lesson and move to the next one.
    browser.open(&app.url("/learn/tracing/propagation")).await?;
    let title = browser.text("article.lesson h1").await?;
    expect(
        title.contains("Context propagation"),
        &format!("lesson title was {title:?}"),
    )?;
    snap(browser, "1-lesson").await;
    browser.click("a.next").await?;
    let title = browser
        .text_containing("article.lesson h1", "OpenTelemetry")
        .await?;
    expect(
        title.contains("OpenTelemetry"),
        &format!("next lesson title was {title:?}"),
    )?;

    // Type a console query into the editor: it is highlighted, labelled, and runs with the
    // button and with Ctrl+Enter, submitting what the editor shows.
    browser.open(&app.url("/console")).await?;
    let label = browser
        .attribute("#q + .cm-editor .cm-content", "aria-labelledby")
        .await?;
    let label_text = browser.text(&format!("#{label}")).await?;
    expect(
        label_text == "Query",
        &format!("the editor is labelled by {label:?}: {label_text:?}"),
    )?;
    browser.type_into_editor("#q", "{ status = error }").await?;
    let keyword = browser.text("#q + .cm-editor .cm-content .hl-kw").await?;
    let literal = browser.text("#q + .cm-editor .cm-content .hl-lit").await?;
    expect(
        keyword == "status" && literal == "error",
        &format!("the editor highlighted {keyword:?} as a keyword and {literal:?} as a literal"),
    )?;
    snap(browser, "2-console-editor").await;
    browser.click("#run").await?;
    let address = browser.url_containing("q=%7B+status+%3D+error+%7D").await?;
    expect(
        address.ends_with("/console?q=%7B+status+%3D+error+%7D"),
        &format!("the button submitted {address:?}"),
    )?;
    let count = browser.text("#result-count").await?;
    expect(
        count.starts_with("1 trace"),
        &format!("console said {count:?}"),
    )?;
    let shown = browser.text("#q + .cm-editor .cm-content").await?;
    expect(
        shown == "{ status = error }",
        &format!("after running, the editor shows {shown:?}"),
    )?;
    snap(browser, "2-console").await;
    browser
        .type_into_editor("#q", &format!("{REFERENCE}{CTRL_ENTER}"))
        .await?;
    let wanted = "q=%7B+resource.service.name+%3D+%22payments%22+%26%26+status+%3D+error+%7D";
    let address = browser.url_containing(wanted).await?;
    expect(
        address.ends_with(wanted),
        &format!("Ctrl+Enter submitted {address:?}"),
    )?;
    let count = browser.text("#result-count").await?;
    expect(
        count.starts_with("1 trace"),
        &format!("console said {count:?} after Ctrl+Enter"),
    )?;
    let attribute = browser.text("#q + .cm-editor .cm-content .hl-attr").await?;
    expect(
        attribute == "resource.service.name",
        &format!("the editor highlighted {attribute:?} as an attribute"),
    )?;
    browser.click("a.trace-link").await?;
    let heading = browser.text_containing("main h1", "Trace").await?;
    expect(
        heading.contains(&FAILED.to_string()),
        &format!("waterfall heading was {heading:?}"),
    )?;
    browser.find("#waterfall").await?;
    browser
        .click(&format!(
            "#waterfall a.span-link[href$=\"span={FAILED_PAYMENT_SPAN}\"]"
        ))
        .await?;
    let panel = browser
        .text_containing("#span-panel", "charge refused")
        .await?;
    expect(
        panel.contains("charge refused"),
        &format!("the span panel shows {panel:?}"),
    )?;
    snap(browser, "3-waterfall").await;
    browser.open(&app.url("/services")).await?;
    browser.find("svg.service-graph").await?;
    snap(browser, "4-services").await;

    // Join, then answer wrongly and rightly.
    browser.open(&app.url("/join")).await?;
    browser.fill("#name", "Ada Browser").await?;
    browser.click("#join").await?;
    let name = browser
        .text_containing("#learner-name", "Ada Browser")
        .await?;
    expect(name == "Ada Browser", &format!("signed in as {name:?}"))?;
    browser.open(&app.url("/labs/traceql-querying")).await?;
    browser
        .type_into_editor(
            "#query-failed-checkouts",
            r#"{ resource.service.name = "payments" }"#,
        )
        .await?;
    browser.click("#submit-failed-checkouts").await?;
    let feedback = browser
        .text_containing("#feedback-failed-checkouts", "Not yet.")
        .await?;
    expect(
        feedback.contains("Not yet."),
        &format!("first feedback was {feedback:?}"),
    )?;

    // The instructor sees the attempt.
    browser.open(&app.url("/instructor")).await?;
    browser.fill("#token", INSTRUCTOR_TOKEN).await?;
    browser.click("#instructor-login").await?;
    let table = browser
        .text_containing("#progress-table", "Ada Browser")
        .await?;
    expect(
        table.contains("Ada Browser") && !table.contains('✓'),
        &format!("table before: {table:?}"),
    )?;

    browser.open(&app.url("/labs/traceql-querying")).await?;
    browser
        .type_into_editor("#query-failed-checkouts", REFERENCE)
        .await?;
    browser.click("#submit-failed-checkouts").await?;
    let feedback = browser
        .text_containing("#feedback-failed-checkouts", "Correct!")
        .await?;
    expect(
        feedback.contains("Correct!"),
        &format!("second feedback was {feedback:?}"),
    )?;

    browser.open(&app.url("/instructor")).await?;
    let table = browser.text_containing("#progress-table", "✓").await?;
    expect(table.contains('✓'), &format!("table after: {table:?}"))?;
    snap(browser, "6-instructor").await;
    Ok(())
}

/// How one page sits in the window: where its main heading starts, how tall the header is,
/// and whether anything makes the page itself scroll sideways.
async fn check_layout(browser: &Driver, screen: Screen, page: &str) -> Step<()> {
    let measured = browser
        .run(
            "const h1 = document.querySelector('main h1');\n\
             const header = document.querySelector('header.top');\n\
             const wide = [...document.querySelectorAll('main *')]\n\
               .filter(e => e.getBoundingClientRect().right > innerWidth + 1)\n\
               .filter(e => { for (let p = e.parentElement; p; p = p.parentElement) {\n\
                   const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return false; }\n\
                 return true; })\n\
               .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : ''));\n\
             return { h1: h1 ? h1.getBoundingClientRect().top : null, header: header.getBoundingClientRect().height,\n\
               innerWidth, innerHeight, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 5) };",
        )
        .await?;
    let number = |key: &str| measured[key].as_f64().unwrap_or(f64::MAX);
    let at = format!("{page} at {} px", screen.name);
    expect(
        number("h1") < number("innerHeight") - 40.0,
        &format!("{at}: the main heading starts below the first screen: {measured}"),
    )?;
    expect(
        number("header") <= 60.0,
        &format!("{at}: the header is more than one line: {measured}"),
    )?;
    expect(
        number("scrollWidth") <= number("innerWidth") + 1.0
            && measured["wide"].as_array().is_some_and(Vec::is_empty),
        &format!("{at}: something is wider than the page: {measured}"),
    )
}

/// Every page a learner and an instructor use, at `screen`, with or without script: each is
/// measured and photographed (`target/browser-screenshots/<screen>-<js>-<page>.png`).
async fn every_page_fits(
    app: &TestApp,
    browser: &Driver,
    screen: Screen,
    javascript: bool,
) -> Step<()> {
    let js = if javascript { "js" } else { "nojs" };
    browser.open(&app.url("/join")).await?;
    browser
        .fill("#name", &format!("Layout {} {js}", screen.name))
        .await?;
    browser.click("#join").await?;
    browser.text_containing("#learner-name", "Layout").await?;
    let pages = [
        ("lesson", "/learn/tracing/propagation".to_string()),
        ("lab", "/labs/traceql-querying".to_string()),
        ("console", "/console?q=%7B+status+%3D+error+%7D".to_string()),
        (
            "trace",
            format!("/traces/{FAILED}?span={FAILED_PAYMENT_SPAN}"),
        ),
        ("services", "/services".to_string()),
        ("compare", format!("/traces/compare?a={FAILED}&b={OK}")),
    ];
    for (name, path) in pages {
        eprintln!("{} {js}: {name}", screen.name);
        browser.open(&app.url(&path)).await?;
        browser.find("main h1").await?;
        browser
            .screenshot(&format!("{}-{js}-{name}", screen.name))
            .await;
        check_layout(browser, screen, name).await?;
    }
    // A subtree of the waterfall folds away and opens again, script or not (a <details>).
    browser.open(&app.url(&format!("/traces/{FAILED}"))).await?;
    let child = format!("#waterfall li[data-span=\"{FAILED_PAYMENT_SPAN}\"] .wf-label");
    expect(
        browser.displayed(&child).await?,
        "the payments span shows at first",
    )?;
    browser
        .click("#waterfall > ul > li > details > summary .wf-swatch")
        .await?;
    expect(
        !browser.displayed(&child).await?,
        &format!(
            "{} {js}: collapsing the root hides the payments span",
            screen.name
        ),
    )?;
    browser
        .click("#waterfall > ul > li > details > summary .wf-swatch")
        .await?;
    expect(browser.displayed(&child).await?, "expanding shows it again")?;

    // The editor is the page's script: there with script, absent without.
    browser.open(&app.url("/console")).await?;
    let editors = browser
        .run("return document.querySelectorAll('.cm-editor').length;")
        .await?;
    expect(
        editors.as_u64() == Some(u64::from(javascript)),
        &format!("script {js}: {editors} editors on the console"),
    )?;
    browser.open(&app.url("/instructor")).await?;
    browser.fill("#token", INSTRUCTOR_TOKEN).await?;
    browser.click("#instructor-login").await?;
    browser.text_containing("#progress-table", "Layout").await?;
    browser
        .screenshot(&format!("{}-{js}-instructor", screen.name))
        .await;
    check_layout(browser, screen, "instructor").await
}

#[tokio::test]
async fn every_page_fits_a_phone_and_a_laptop_with_and_without_javascript() {
    let Some((chromium, chromedriver)) = browser_programs() else {
        return;
    };
    let app = TestApp::spawn().await;
    for screen in [Screen::PHONE, Screen::LAPTOP] {
        for javascript in [true, false] {
            let browser = Driver::start_as(&chromedriver, &chromium, screen, javascript)
                .await
                .unwrap_or_else(|error| panic!("the browser did not start: {error}"));
            if let Err(error) = every_page_fits(&app, &browser, screen, javascript).await {
                let shot = browser
                    .screenshot(&format!("layout-failure-{}-{javascript}", screen.name))
                    .await;
                panic!("{error}\nscreenshot: {shot:?}");
            }
            let _ = browser.command("DELETE", "", None).await;
        }
    }
}

/// Lab 1's lesson in a browser that runs no JavaScript: one language's panel shows at a time,
/// the first to begin with, and clicking another language's tab shows that one instead.
async fn tabs_without_javascript(app: &TestApp, browser: &Driver) -> Step<()> {
    // JavaScript is really off: the console keeps its plain text box (editor.js would have
    // put the TraceQL editor after it).
    browser.open(&app.url("/console")).await?;
    browser.find("#q").await?;
    expect(
        browser.find("#q + .cm-editor").await.is_err(),
        "the browser ran editor.js, so JavaScript is on",
    )?;
    browser.open(&app.url("/learn/labs/instrument")).await?;
    let tabs = browser.text(".tabs").await?;
    for language in ["Rust", "Python", "Node.js"] {
        expect(
            tabs.contains(language),
            &format!("a tab for {language}: {tabs:?}"),
        )?;
    }
    let shown = |panels: [bool; 3]| format!("Rust, Python, Node.js panels shown: {panels:?}");
    let mut panels = [false; 3];
    for (i, shown) in panels.iter_mut().enumerate() {
        *shown = browser.displayed(&format!("#tabs-1-{i}-panel")).await?;
    }
    expect(panels == [true, false, false], &shown(panels))?;
    let rust = browser.text("#tabs-1-0-panel").await?;
    expect(
        rust.contains("dojo run --language rust"),
        &format!("the Rust panel says how to run it: {rust:?}"),
    )?;
    browser.click("label[for=\"tabs-1-1\"]").await?;
    for (i, shown) in panels.iter_mut().enumerate() {
        *shown = browser.displayed(&format!("#tabs-1-{i}-panel")).await?;
    }
    expect(panels == [false, true, false], &shown(panels))?;
    let python = browser.text("#tabs-1-1-panel").await?;
    expect(
        python.contains("dojo run --language python") && python.contains("record_exception"),
        &format!("the Python panel: {python:?}"),
    )?;
    snap(browser, "7-tabs-python").await;
    browser.click("label[for=\"tabs-1-2\"]").await?;
    for (i, shown) in panels.iter_mut().enumerate() {
        *shown = browser.displayed(&format!("#tabs-1-{i}-panel")).await?;
    }
    expect(panels == [false, false, true], &shown(panels))?;
    Ok(())
}

/// chromium and chromedriver, or what is missing (a failure under `CI=true`).
fn browser_programs() -> Option<(PathBuf, PathBuf)> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"]);
    let chromedriver = find_program(&["chromedriver"]);
    if let (Some(chromium), Some(chromedriver)) = (chromium.clone(), chromedriver.clone()) {
        return Some((chromium, chromedriver));
    }
    let missing = format!(
        "browser test needs chromium ({}) and chromedriver ({}): apt-get install -y chromium chromium-driver",
        if chromium.is_some() {
            "found"
        } else {
            "missing"
        },
        if chromedriver.is_some() {
            "found"
        } else {
            "missing"
        },
    );
    assert!(!ci, "{missing}");
    eprintln!("skipped: {missing}");
    None
}

#[tokio::test]
async fn the_lessons_language_tabs_work_in_a_browser_without_javascript() {
    let Some((chromium, chromedriver)) = browser_programs() else {
        return;
    };
    let app = TestApp::spawn().await;
    let browser = match Driver::start_as(&chromedriver, &chromium, Screen::LAPTOP, false).await {
        Ok(browser) => browser,
        Err(error) => panic!("the browser did not start: {error}"),
    };
    if let Err(error) = tabs_without_javascript(&app, &browser).await {
        let shot = browser.screenshot("tabs-without-javascript").await;
        panic!("{error}\nscreenshot: {shot:?}");
    }
    let _ = browser.command("DELETE", "", None).await;
}

#[tokio::test]
async fn a_learner_and_an_instructor_use_the_course_in_a_real_browser() {
    let Some((chromium, chromedriver)) = browser_programs() else {
        return;
    };
    let app = TestApp::spawn().await;
    let browser = match Driver::start(&chromedriver, &chromium).await {
        Ok(browser) => browser,
        Err(error) => panic!("the browser did not start: {error}"),
    };
    if let Err(error) = journey(&app, &browser).await {
        let shot = browser.screenshot("learner-and-instructor").await;
        panic!("{error}\nscreenshot: {shot:?}");
    }
    let _ = browser.command("DELETE", "", None).await;
}

/// A learner builds a dashboard panel and reads its chart: axes with clock and unit labels,
/// one line and one legend entry per service, hover titles on the points, and the table.
async fn dashboard_journey(app: &TestApp, browser: &Driver) -> Step<()> {
    browser.open(&app.url("/join")).await?;
    browser.fill("#name", "Grace").await?;
    browser.click("#join").await?;
    browser.text_containing("#learner-name", "Grace").await?;
    browser.open(&app.url("/dashboards")).await?;
    browser.fill("#title", "Server requests per second").await?;
    browser
        .fill(
            "#query",
            "{ kind = server } | rate() by (resource.service.name)",
        )
        .await?;
    browser.click("#add-panel").await?;
    let url = browser.url_containing("#panel-").await?;
    expect(url.contains("#panel-"), &format!("no panel saved: {url}"))?;
    expect(
        browser.displayed("svg.timeseries").await?,
        "the chart is shown",
    )?;
    let drawn = browser
        .run(
            "const svg = document.querySelector('svg.timeseries');
             const box = svg.getBoundingClientRect();
             return {
               width: box.width,
               times: [...svg.querySelectorAll('text.time-label')].map(t => t.textContent),
               values: [...svg.querySelectorAll('text.value-label')].map(t => t.textContent),
               lines: svg.querySelectorAll('g.series').length,
               points: svg.querySelectorAll('circle title').length,
               legend: document.querySelectorAll('ul.legend li').length,
             };",
        )
        .await?;
    expect(
        drawn["width"].as_f64().is_some_and(|w| w > 300.0),
        &format!("the chart is laid out wide enough: {drawn}"),
    )?;
    let clock = |t: &Value| {
        t.as_str()
            .is_some_and(|t| t.len() == 8 && t.as_bytes()[2] == b':')
    };
    expect(
        drawn["times"]
            .as_array()
            .is_some_and(|t| t.len() >= 2 && t.iter().all(clock)),
        &format!("clock labels on the time axis: {drawn}"),
    )?;
    expect(
        drawn["values"].as_array().is_some_and(|v| {
            v.iter()
                .any(|v| v.as_str().is_some_and(|v| v.ends_with("/s")))
        }),
        &format!("per-second labels on the value axis: {drawn}"),
    )?;
    expect(
        drawn["lines"] == 3 && drawn["legend"] == 3,
        &format!("a line and a legend entry per service: {drawn}"),
    )?;
    expect(
        drawn["points"].as_u64().is_some_and(|n| n >= 3),
        &format!("points with hover titles: {drawn}"),
    )?;
    browser.screenshot("dashboards-1280-js").await;
    browser.click("details.values summary").await?;
    expect(
        browser.displayed("details.values table").await?,
        "the table opens",
    )?;
    browser.screenshot("dashboards-1280-js-table").await;
    Ok(())
}

#[tokio::test]
async fn a_learner_builds_a_dashboard_panel_and_reads_its_chart_in_a_real_browser() {
    let Some((chromium, chromedriver)) = browser_programs() else {
        return;
    };
    let app = TestApp::spawn_with(crate::support::Options {
        real_grader: true,
        ..crate::support::Options::default()
    })
    .await;
    let browser = match Driver::start(&chromedriver, &chromium).await {
        Ok(browser) => browser,
        Err(error) => panic!("the browser did not start: {error}"),
    };
    if let Err(error) = dashboard_journey(&app, &browser).await {
        let shot = browser.screenshot("dashboards-failure").await;
        panic!("{error}\nscreenshot: {shot:?}");
    }
    let _ = browser.command("DELETE", "", None).await;
}

/// Adds an alert rule through the form and reloads the Alerts page until the rule fires on
/// the shelf's failed checkout; its chart shows the decided values and the threshold line.
async fn alert_journey(app: &TestApp, browser: &Driver) -> Step<()> {
    browser.open(&app.url("/join")).await?;
    browser.fill("#name", "Hedy").await?;
    browser.click("#join").await?;
    browser.text_containing("#learner-name", "Hedy").await?;
    browser.open(&app.url("/alerts")).await?;
    browser.fill("#name", "Any errors").await?;
    browser
        .fill("#query", "{ status = error } | rate()")
        .await?;
    browser.fill("#threshold", "0.001").await?;
    browser.fill("#for", "2s").await?;
    browser.click("#add-rule").await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let state = browser
            .run("const s = document.querySelector('.alert-state'); return s ? s.textContent : '';")
            .await?;
        if state == "firing" {
            break;
        }
        expect(
            std::time::Instant::now() < deadline,
            &format!("the rule never fired; it shows {state}"),
        )?;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        browser.open(&app.url("/alerts")).await?;
    }
    let drawn = browser
        .run(
            "const svg = document.querySelector('svg.timeseries');
             const line = svg.querySelector('g.threshold line').getBoundingClientRect();
             return {
               width: svg.getBoundingClientRect().width,
               threshold_width: line.width,
               points: svg.querySelectorAll('g.series circle').length,
               history: document.querySelectorAll('details.history tbody tr').length,
             };",
        )
        .await?;
    expect(
        drawn["width"].as_f64().is_some_and(|w| w > 300.0)
            && drawn["threshold_width"].as_f64().is_some_and(|w| w > 300.0),
        &format!("the chart and its threshold line span the page: {drawn}"),
    )?;
    expect(
        drawn["points"].as_u64().is_some_and(|n| n >= 2) && drawn["history"] == 2,
        &format!("a point per evaluation, and normal → pending → firing: {drawn}"),
    )?;
    browser.screenshot("alerts-1280-firing").await;
    Ok(())
}

#[tokio::test]
async fn a_learner_writes_an_alert_rule_and_watches_it_fire_in_a_real_browser() {
    let Some((chromium, chromedriver)) = browser_programs() else {
        return;
    };
    let app = TestApp::spawn_with(crate::support::Options {
        real_grader: true,
        alert_interval: Some(std::time::Duration::from_secs(1)),
        ..crate::support::Options::default()
    })
    .await;
    let browser = match Driver::start(&chromedriver, &chromium).await {
        Ok(browser) => browser,
        Err(error) => panic!("the browser did not start: {error}"),
    };
    if let Err(error) = alert_journey(&app, &browser).await {
        let shot = browser.screenshot("alerts-failure").await;
        panic!("{error}\nscreenshot: {shot:?}");
    }
    let _ = browser.command("DELETE", "", None).await;
}
