//! `boxoffice completions <shell>` and `boxoffice man`: they describe the command line,
//! so they need neither a configuration file nor a database.

use std::process::{Command, Stdio};

use crate::process::run;

/// Every subcommand, as a user types it.
const SUBCOMMANDS: [&str; 9] = [
    "serve",
    "sync",
    "migrate",
    "replay",
    "providers",
    "check-config",
    "gen-feed",
    "completions",
    "man",
];

/// Runs `boxoffice args…` where nothing could be configured: an empty folder, a
/// `--config` naming a file that does not exist and a database URL that is invalid.
fn without_configuration(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let mut all = vec!["--config", missing.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = run(
        &all,
        &[("BOXOFFICE_DATABASE__URL", "mysql://nowhere")],
        dir.path(),
    );
    assert!(
        output.status.success(),
        "boxoffice {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn each_shell_gets_a_completion_script_naming_every_subcommand() {
    let markers = [
        ("bash", "complete -F _boxoffice"),
        ("zsh", "#compdef boxoffice"),
        ("fish", "complete -c boxoffice"),
        ("elvish", "edit:completion:arg-completer[boxoffice]"),
        ("powershell", "Register-ArgumentCompleter"),
    ];
    for (shell, marker) in markers {
        let script = without_configuration(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: no {marker:?} in\n{script}");
        for subcommand in SUBCOMMANDS {
            assert!(script.contains(subcommand), "{shell}: {subcommand} missing");
        }
        assert!(
            script.contains("config"),
            "{shell}: global options are completed too"
        );
    }
}

#[test]
fn the_bash_script_is_valid_bash() {
    let script = without_configuration(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boxoffice.bash");
    std::fs::write(&path, &script).unwrap();
    // bash is on every machine that runs these tests (tools/test.sh is bash).
    let checked = Command::new("bash")
        .arg("-n")
        .arg(&path)
        .stderr(Stdio::piped())
        .output()
        .expect("running bash -n");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    // Sourced, it registers the completion function for the command.
    let registered = Command::new("bash")
        .arg("-c")
        .arg(format!("source '{}' && complete -p boxoffice", path.display()))
        .output()
        .expect("running bash");
    let text = String::from_utf8_lossy(&registered.stdout);
    assert!(
        text.contains("_boxoffice") && text.contains("boxoffice"),
        "{text}"
    );
}

#[test]
fn an_unknown_shell_is_refused_naming_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(&["completions", "tcsh"], &[], dir.path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bash") && stderr.contains("powershell"),
        "{stderr}"
    );
}

#[test]
fn the_manual_page_is_roff_naming_every_subcommand() {
    let page = without_configuration(&["man"]);
    assert!(page.contains(".TH boxoffice 1"), "{page}");
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH OPTIONS",
        ".SH SUBCOMMANDS",
        ".SH ENVIRONMENT",
    ] {
        assert!(page.contains(section), "no {section} in\n{page}");
    }
    for subcommand in SUBCOMMANDS {
        // roff escapes every hyphen.
        let entry = format!("boxoffice-{subcommand}").replace('-', "\\-");
        assert!(page.contains(&entry), "{entry} missing");
    }
    // The environment variable naming the configuration file is documented.
    assert!(page.contains("BOXOFFICE_CONFIG"), "{page}");
    // Where groff is installed (with man-db), the page must also format cleanly.
    if let Ok(mut groff) = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        use std::io::Write as _;
        groff.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
        let formatted = groff.wait_with_output().unwrap();
        let warnings = String::from_utf8_lossy(&formatted.stderr);
        assert!(
            formatted.status.success() && warnings.trim().is_empty(),
            "{warnings}"
        );
        let text = String::from_utf8_lossy(&formatted.stdout);
        assert!(
            text.contains("SUBCOMMANDS") && text.contains("ENVIRONMENT"),
            "{text}"
        );
    }
}
