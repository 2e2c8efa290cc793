//! Headless Chromium for the tests of pages (/status, /docs): found, run with a
//! deadline, its output read.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one Chromium run may take before it is killed.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a browser test is skipped when there is no Chromium.
pub const NO_CHROMIUM: &str = "no Chromium at /usr/bin/chromium or on PATH, and CHROMIUM is unset \
     (make test installs Debian's chromium)";

/// The Chromium binary: `$CHROMIUM` (which must exist when set), else
/// /usr/bin/chromium, else `chromium` or `chromium-browser` on `PATH`; `None` when
/// there is none.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "CHROMIUM={} is no file", path.display());
        return Some(path);
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .flat_map(|dir| [dir.join("chromium"), dir.join("chromium-browser")]);
    std::iter::once(PathBuf::from("/usr/bin/chromium"))
        .chain(on_path)
        .find(|path| path.is_file())
}

/// Where tests leave files to look at: `$CARGO_TARGET_DIR/test-artifacts`, else
/// `<workspace>/target/test-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || workspace.join("target"),
        |dir| {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace.join(dir)
            }
        },
    );
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

/// Runs headless Chromium with `args` then `url`, killed after [`CHROMIUM_TIMEOUT`];
/// returns its standard output. Panics, with its standard error, unless it exits 0.
pub async fn run_chromium(binary: PathBuf, args: Vec<String>, url: String) -> String {
    tokio::task::spawn_blocking(move || {
        let profile = tempfile::tempdir().unwrap();
        let logs = tempfile::tempdir().unwrap();
        let (stdout_path, stderr_path) = (logs.path().join("stdout"), logs.path().join("stderr"));
        let mut child = Command::new(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-crash-reporter",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(&args)
            .arg(&url)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path).unwrap())
            .stderr(File::create(&stderr_path).unwrap())
            // Its own process group, so that a timeout kills its helpers too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let deadline = Instant::now() + CHROMIUM_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        match status {
            None => {
                panic!("Chromium {args:?} {url} took over {CHROMIUM_TIMEOUT:?}; killed. stderr:\n{stderr}")
            }
            Some(status) if !status.success() => {
                panic!("Chromium {args:?} {url} exited with {status}. stderr:\n{stderr}")
            }
            Some(_) => std::fs::read_to_string(&stdout_path).unwrap(),
        }
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}
