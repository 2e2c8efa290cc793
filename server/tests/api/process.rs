//! The `boxoffice` binary as a child process: for what the process-wide tracing
//! subscriber and the environment decide (log lines, colours, traces, configuration
//! from the environment), which an in-process server cannot show.
//!
//! Environment variables are set on the child only, never on the test process: tests
//! run in parallel and share one environment. The child starts from this process's
//! environment less every `BOXOFFICE_*`, `RUST_LOG`, `NO_COLOR` and `OTEL_*` variable,
//! so that what a developer's shell exports cannot change a test's outcome.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server may take to start, and to stop once told.
const START_LIMIT: Duration = Duration::from_secs(30);
const STOP_LIMIT: Duration = Duration::from_secs(30);

/// `boxoffice` with a clean environment plus `env`.
pub fn command(env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_boxoffice"));
    with_clean_environment(&mut command, env);
    command
}

/// Removes from `command`'s environment what could change a test's outcome, then
/// adds `env`.
pub fn with_clean_environment(command: &mut Command, env: &[(&str, &str)]) {
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy().to_ascii_uppercase();
        if text.starts_with("BOXOFFICE")
            || text.starts_with("OTEL_")
            || text == "RUST_LOG"
            || text == "NO_COLOR"
        {
            command.env_remove(&name);
        }
    }
    command.envs(env.iter().copied());
}

/// How long a command that should end by itself may run (e.g. `serve` with a
/// configuration that must stop start-up): past it, it is killed and the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Runs `boxoffice args…` to completion, within [`RUN_LIMIT`].
pub fn run(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> std::process::Output {
    let mut child = command(env)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running boxoffice");
    // Drained while it runs, so that a full pipe never blocks it.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("polling boxoffice") {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("boxoffice {args:?} still ran after {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// An HTTP client for a child server: every request bounded in time.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("building the HTTP client")
}

/// Reads `pipe` to its end on a thread of its own.
fn drain<R: std::io::Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// A `boxoffice serve` child whose standard error is collected.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`, from its "Serving." line.
    pub base: String,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ServerProcess {
    /// Starts `boxoffice --config <config> serve` (the configuration should listen on
    /// `127.0.0.1:0` with `log.level` at least `info`) and waits until it serves.
    pub async fn start(config: &Path, env: &[(&str, &str)]) -> Self {
        let config = config.to_string_lossy().into_owned();
        Self::start_with(&["--config", &config, "serve"], env).await
    }

    /// Starts `boxoffice args…` (a command that serves) and waits until it serves.
    pub async fn start_with(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = command(env)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting boxoffice");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr is piped");
        // Read continuously: a full pipe would block the server's logging.
        let reader = std::thread::spawn({
            let stderr = Arc::clone(&stderr);
            move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut text = stderr.lock().unwrap_or_else(|e| e.into_inner());
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        });
        let mut server = Self {
            child,
            base: String::new(),
            stderr,
            reader: Some(reader),
        };
        let started = Instant::now();
        loop {
            if let Some(addr) = serving_address(&server.stderr()) {
                server.base = format!("http://{addr}");
                return server;
            }
            if let Some(status) = server.child.try_wait().expect("polling boxoffice") {
                panic!("boxoffice exited ({status}) before serving:\n{}", server.stderr());
            }
            if started.elapsed() > START_LIMIT {
                let _ = server.child.kill();
                panic!(
                    "boxoffice did not serve within {START_LIMIT:?}:\n{}",
                    server.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Its standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// SIGTERM, then waits for it to exit: its status and its whole standard error.
    pub async fn stop(self) -> (ExitStatus, String) {
        self.stop_with("TERM").await
    }

    /// `signal` (`TERM`, `INT`: Ctrl-C), then waits for it to exit.
    pub async fn stop_with(mut self, signal: &str) -> (ExitStatus, String) {
        let signalled = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(signalled.success(), "kill -{signal} failed");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("polling boxoffice") {
                break status;
            }
            if started.elapsed() > STOP_LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("boxoffice did not stop within {STOP_LIMIT:?}:\n{}", self.stderr());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (status, self.stderr())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A failed assertion must not leave a server running.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The address of the "Serving." line, in the text or the JSON format.
fn serving_address(stderr: &str) -> Option<String> {
    let line = stderr.lines().find(|line| line.contains("Serving."))?;
    let start = line
        .find("\"addr\":\"")
        .map(|at| at + "\"addr\":\"".len())
        .or_else(|| line.find("addr=").map(|at| at + "addr=".len()))?;
    let addr: String = line[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
        .collect();
    (!addr.is_empty()).then_some(addr)
}

/// A configuration file in `dir` listening on a free port of 127.0.0.1, with a
/// SQLite store and archive in `dir`, `[log] level = "info"`, the admin token of the
/// helpers, a `fever` instance on `feed_url` with scheduled syncs off, and `extra`
/// appended (whole tables: `[log]` keys go through `log_toml`).
pub fn write_server_config(dir: &Path, feed_url: &str, log_toml: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let toml = format!(
        r#"[server]
addr = "127.0.0.1:0"
shutdown_timeout = "2s"
[database]
url = "sqlite://{dir}/boxoffice.db?mode=rwc"
[admin]
token = "{token}"
[archive]
dir = "{dir}/archive"
[log]
level = "info"
{log_toml}
[providers.fever]
kind = "fever-xml"
enabled = false
url = "{feed_url}"
interval = "1h"
timeout = "5s"
{extra}
"#,
        dir = dir.display(),
        token = crate::helpers::ADMIN_TOKEN,
    );
    std::fs::write(&path, toml).expect("writing the configuration");
    path
}

#[test]
fn the_serving_address_is_found_in_either_format() {
    assert_eq!(
        serving_address("2026 INFO boxoffice_server::app: Serving. addr=127.0.0.1:4321\n").as_deref(),
        Some("127.0.0.1:4321")
    );
    assert_eq!(
        serving_address("{\"level\":\"INFO\",\"addr\":\"127.0.0.1:80\",\"message\":\"Serving.\"}").as_deref(),
        Some("127.0.0.1:80")
    );
    assert_eq!(serving_address("Starting.\n"), None);
}
