//! What the process takes from its environment: `BOXOFFICE_CONFIG`, which `BOXOFFICE_*`
//! variables are configuration (a misspelled key stops start-up, what Kubernetes
//! injects for a Service named boxoffice is ignored with one warning), and colours
//! only for a terminal without `NO_COLOR`.
//!
//! Every variable is set on the child process only (see `process`).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::helpers::skip;
use crate::process::{command, run, with_clean_environment};

/// What Kubernetes puts into every pod of a namespace with a Service `boxoffice`.
const KUBERNETES: [(&str, &str); 7] = [
    ("BOXOFFICE_SERVICE_HOST", "10.96.0.12"),
    ("BOXOFFICE_SERVICE_PORT", "8000"),
    ("BOXOFFICE_PORT", "tcp://10.96.0.12:8000"),
    ("BOXOFFICE_PORT_8000_TCP", "tcp://10.96.0.12:8000"),
    ("BOXOFFICE_PORT_8000_TCP_ADDR", "10.96.0.12"),
    ("BOXOFFICE_PORT_8000_TCP_PORT", "8000"),
    ("BOXOFFICE_PORT_8000_TCP_PROTO", "tcp"),
];

/// A configuration with one provider instance named `instance`, in `dir`.
fn config_naming(dir: &Path, file: &str, instance: &str) -> PathBuf {
    let path = dir.join(file);
    let toml = format!(
        "[database]\nurl = \"sqlite://{dir}/env.db?mode=rwc\"\n[providers.{instance}]\nkind = \"fever-xml\"\nurl = \"http://127.0.0.1:9/feed\"\n",
        dir = dir.display()
    );
    std::fs::write(&path, toml).unwrap();
    path
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn variables_kubernetes_injects_are_ignored_with_one_warning_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_naming(dir.path(), "config.toml", "fever");
    let mut env = KUBERNETES.to_vec();
    // A real key alongside them is still taken.
    env.push(("BOXOFFICE_PROVIDERS__FEVER__INTERVAL", "7m"));
    let output = run(
        &["--config", config.to_str().unwrap(), "providers"],
        &env,
        dir.path(),
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("fever  kind=fever-xml") && stdout.contains("interval=7m"),
        "{stdout}"
    );
    let warnings: Vec<&str> = stderr.lines().filter(|line| line.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "one warning, logged once:\n{stderr}");
    for (name, _) in KUBERNETES {
        assert!(warnings[0].contains(name), "{name} not named in {}", warnings[0]);
    }
    assert!(!warnings[0].contains("BOXOFFICE_PROVIDERS"), "{}", warnings[0]);

    // check-config says the same on its standard output.
    let output = run(
        &["--config", config.to_str().unwrap(), "check-config"],
        &env,
        dir.path(),
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("ignored environment variables") && stdout.contains("BOXOFFICE_PORT_8000_TCP_ADDR"),
        "{stdout}"
    );
}

#[test]
fn a_misspelled_key_under_a_known_section_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_naming(dir.path(), "config.toml", "fever");
    for (variable, key) in [
        ("BOXOFFICE_SERVER__ADRR", "server.adrr"),
        ("BOXOFFICE_DATABASE__URLL", "database.urll"),
        (
            "BOXOFFICE_PROVIDERS__FEVER__INTERVALL",
            "providers.fever.intervall",
        ),
    ] {
        for subcommand in ["check-config", "serve"] {
            let mut env = KUBERNETES.to_vec();
            env.push((variable, "x"));
            let output = run(
                &["--config", config.to_str().unwrap(), subcommand],
                &env,
                dir.path(),
            );
            let (_, stderr) = text(&output);
            assert!(!output.status.success(), "{variable} with {subcommand}: {stderr}");
            assert!(stderr.contains(key), "{variable}: {key} not named in {stderr}");
            assert!(!stderr.contains("BOXOFFICE_SERVICE_HOST"), "{stderr}");
        }
    }
}

#[test]
fn boxoffice_config_names_the_file_and_config_wins_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let from_env = config_naming(dir.path(), "from-env.toml", "named_by_env");
    let from_flag = config_naming(dir.path(), "from-flag.toml", "named_by_flag");
    // Run where no config.toml is, so that only the variable can name the file.
    let elsewhere = tempfile::tempdir().unwrap();
    let env = [("BOXOFFICE_CONFIG", from_env.to_str().unwrap())];

    let output = run(&["providers"], &env, elsewhere.path());
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("named_by_env  kind=fever-xml"), "{stdout}");
    assert!(
        !stderr.contains("WARN"),
        "BOXOFFICE_CONFIG used is not worth a warning: {stderr}"
    );

    let output = run(
        &["--config", from_flag.to_str().unwrap(), "providers"],
        &env,
        elsewhere.path(),
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("named_by_flag") && !stdout.contains("named_by_env"),
        "{stdout}"
    );
    let warnings: Vec<&str> = stderr.lines().filter(|line| line.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("BOXOFFICE_CONFIG"), "{stderr}");

    let missing = elsewhere.path().join("missing.toml");
    let output = run(
        &["serve"],
        &[("BOXOFFICE_CONFIG", missing.to_str().unwrap())],
        elsewhere.path(),
    );
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("BOXOFFICE_CONFIG") && stderr.contains("missing.toml"),
        "{stderr}"
    );
}

#[test]
fn a_bad_cors_origin_is_a_configuration_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_naming(dir.path(), "config.toml", "fever");
    let output = run(
        &["--config", config.to_str().unwrap(), "check-config"],
        &[(
            "BOXOFFICE_SERVER__CORS__ALLOWED_ORIGINS",
            "[\"https://shop.example.com/path\"]",
        )],
        dir.path(),
    );
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("server.cors.allowed_origins") && stderr.contains("/path"),
        "{stderr}"
    );
}

#[test]
fn logs_written_to_a_pipe_have_no_colours() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_naming(dir.path(), "config.toml", "fever");
    let output = command(&[("BOXOFFICE_SERVICE_HOST", "10.96.0.12")])
        .args(["--config", config.to_str().unwrap(), "providers"])
        .output()
        .expect("running boxoffice");
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("WARN"), "something was logged: {stderr}");
    assert!(!stderr.contains("\x1b["), "ANSI escapes in a pipe: {stderr:?}");
}

#[test]
fn a_terminal_gets_colours_unless_no_color_is_set() {
    // util-linux's script(1) gives the child a pseudo-terminal.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        skip(module_path!(), "script(1) from util-linux is missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config_naming(dir.path(), "config.toml", "fever");
    // The environment `process::command` would give boxoffice, given to script(1),
    // which passes it on.
    let script = |no_color: Option<&str>| {
        let mut env = vec![("BOXOFFICE_SERVICE_HOST", "10.96.0.12")];
        if let Some(value) = no_color {
            env.push(("NO_COLOR", value));
        }
        let line = format!(
            "'{}' --config '{}' providers",
            env!("CARGO_BIN_EXE_boxoffice"),
            config.display()
        );
        let mut command = std::process::Command::new("script");
        with_clean_environment(&mut command, &env);
        let output = command
            .current_dir(dir.path())
            .stdin(std::process::Stdio::null())
            .args(["-q", "-e", "-c", &line, "/dev/null"])
            .output()
            .expect("running script");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let coloured = script(None);
    assert!(coloured.contains("WARN"), "{coloured}");
    assert!(
        coloured.contains("\x1b["),
        "a terminal gets colours: {coloured:?}"
    );
    let empty = script(Some(""));
    assert!(empty.contains("\x1b["), "an empty NO_COLOR is unset: {empty:?}");
    let plain = script(Some("1"));
    assert!(plain.contains("WARN"), "{plain}");
    assert!(
        !plain.contains("\x1b["),
        "NO_COLOR=1 turns colours off: {plain:?}"
    );
}
