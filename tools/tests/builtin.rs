//! The built-in tools: confinement of the file tools, the calculator, the clock, and `http_get`
//! against a loopback server.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::fs;
use std::time::Duration;

use anymodel_core::{Tool, ToolError};
use anymodel_tools::builtin::{
    Calculator, CurrentTime, FileRoot, HttpGet, HttpLimits, ListFiles, ReadFile,
};
use serde_json::{Value, json};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn call(tool: &dyn Tool, arguments: Value) -> Result<String, ToolError> {
    runtime().block_on(tool.call(arguments)).map(|v| v.as_str().unwrap().to_string())
}

#[test]
fn file_tools_stay_inside_their_root() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("root");
    fs::create_dir_all(root.join("docs")).unwrap();
    fs::write(root.join("docs/a.md"), "one\ntwo\nthree\n").unwrap();
    fs::write(temp.path().join("secret.txt"), "top secret").unwrap();
    std::os::unix::fs::symlink(temp.path().join("secret.txt"), root.join("link.txt")).unwrap();
    let files = FileRoot::new(&root).unwrap();
    let read = ReadFile::new(files.clone());
    let list = ListFiles::new(files);

    assert_eq!(call(&read, json!({"path": "docs/a.md"})).unwrap(), "one\ntwo\nthree");
    assert_eq!(
        call(&read, json!({"path": "docs/a.md", "start_line": 2, "end_line": 2})).unwrap(),
        "two"
    );
    assert_eq!(call(&list, json!({})).unwrap(), "docs/\nlink.txt");
    assert_eq!(call(&list, json!({"path": "docs"})).unwrap(), "a.md");

    for escape in ["../secret.txt", "docs/../../secret.txt", "link.txt"] {
        let error = call(&read, json!({"path": escape})).unwrap_err();
        assert!(matches!(error, ToolError::InvalidArguments(_)), "{escape}: {error}");
    }
    let absolute = temp.path().join("secret.txt");
    let error = call(&read, json!({"path": absolute})).unwrap_err();
    assert!(error.to_string().contains("is absolute"), "{error}");
    assert!(call(&list, json!({"path": ".."})).is_err());
    assert!(call(&read, json!({"path": "missing.md"})).is_err());
}

#[test]
fn the_calculator_and_the_clock() {
    assert_eq!(call(&Calculator, json!({"expression": "(17.5 * 3 + 2) / 4"})).unwrap(), "13.625");
    assert_eq!(call(&Calculator, json!({"expression": "2 ^ 10"})).unwrap(), "1024");
    assert_eq!(call(&Calculator, json!({"expression": "7 / 2"})).unwrap(), "3.5");
    assert!(matches!(
        call(&Calculator, json!({"expression": "2 +"})),
        Err(ToolError::InvalidArguments(_))
    ));
    let now = call(&CurrentTime, json!({})).unwrap();
    assert!(now.contains(&chrono::Local::now().format("%Y-%m-%d").to_string()), "{now}");
}

#[test]
fn http_get_fetches_only_from_allowed_hosts_within_limits() {
    let runtime = runtime();
    let server = runtime.block_on(wiremock::MockServer::start());
    runtime.block_on(
        wiremock::Mock::given(wiremock::matchers::path("/page"))
            .respond_with(
                wiremock::ResponseTemplate::new(200)
                    .set_body_raw("<h1>Hello</h1><p>world</p>", "text/html"),
            )
            .mount(&server),
    );
    runtime.block_on(
        wiremock::Mock::given(wiremock::matchers::path("/big"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("x".repeat(5000)))
            .mount(&server),
    );
    let limits = HttpLimits { max_bytes: 1000, timeout: Duration::from_secs(5) };
    let tool = HttpGet::new(vec!["127.0.0.1".into()], limits).unwrap();
    let page =
        runtime.block_on(tool.call(json!({"url": format!("{}/page", server.uri())}))).unwrap();
    let page = page.as_str().unwrap();
    assert!(
        page.starts_with("HTTP 200 OK") && page.contains("Hello") && !page.contains("<h1>"),
        "{page}"
    );
    let big = runtime.block_on(tool.call(json!({"url": format!("{}/big", server.uri())}))).unwrap();
    assert!(big.as_str().unwrap().ends_with("[… cut at 1000 bytes]"));

    let elsewhere = HttpGet::new(vec!["docs.rs".into()], HttpLimits::default()).unwrap();
    let error = runtime
        .block_on(elsewhere.call(json!({"url": format!("{}/page", server.uri())})))
        .unwrap_err();
    assert!(error.to_string().contains("not an allowed host"), "{error}");
    let error = runtime.block_on(tool.call(json!({"url": "file:///etc/passwd"}))).unwrap_err();
    assert!(error.to_string().contains("only http and https"), "{error}");
}

/// A page under the size limit whose tables would be laid out gigabytes wide at an unbounded
/// width (one long cell pads every row): the text stays within the limit.
#[test]
fn http_get_renders_a_hostile_table_page_within_its_limit() {
    let runtime = runtime();
    let server = runtime.block_on(wiremock::MockServer::start());
    let rows: String = (0..4000).map(|i| format!("<tr><td>{i}</td><td>b</td></tr>")).collect();
    let page = format!("<table><tr><td>{}</td><td>a</td></tr>{rows}</table>", "w".repeat(300_000));
    assert!(page.len() < 512 * 1024);
    runtime.block_on(
        wiremock::Mock::given(wiremock::matchers::path("/tables"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_raw(page, "text/html"))
            .mount(&server),
    );
    let tool = HttpGet::new(vec!["127.0.0.1".into()], HttpLimits::default()).unwrap();
    let text =
        runtime.block_on(tool.call(json!({"url": format!("{}/tables", server.uri())}))).unwrap();
    let text = text.as_str().unwrap();
    assert!(text.len() <= 512 * 1024 + 100, "{} bytes", text.len());
    assert!(text.starts_with("HTTP 200 OK"), "{}", &text[..100]);
}

/// Files that are not plain or not small: a fifo is refused at once (it would block forever),
/// a huge one-line file is read within the cap, and a reversed range is an error.
#[test]
fn read_file_refuses_fifos_and_stays_bounded_on_huge_files() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path();
    let made = std::process::Command::new("mkfifo").arg(root.join("pipe")).status();
    let read = ReadFile::new(FileRoot::new(root).unwrap());
    if made.is_ok_and(|status| status.success()) {
        let error = call(&read, json!({"path": "pipe"})).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }
    let mut huge = "x".repeat(20 * 1024 * 1024);
    huge.push_str("\nsecond line\n");
    fs::write(root.join("huge.txt"), &huge).unwrap();
    let text = call(&read, json!({"path": "huge.txt"})).unwrap();
    assert!(text.len() < 300 * 1024, "{} bytes", text.len());
    assert!(text.ends_with("read it by line ranges]"));
    assert_eq!(call(&read, json!({"path": "huge.txt", "start_line": 2})).unwrap(), "second line");
    let error = call(&read, json!({"path": "huge.txt", "start_line": 3, "end_line": 2}));
    assert!(error.unwrap_err().to_string().contains("end_line 2 is before start_line 3"));

    fs::write(root.join("two\nnames"), "").unwrap();
    let listed = call(&ListFiles::new(FileRoot::new(root).unwrap()), json!({})).unwrap();
    assert!(listed.contains("two\\nnames"), "{listed}");
}
