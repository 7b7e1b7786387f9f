//! The support module of the integration tests (`mod common;` in each file that uses it).
//! Files are named `<family>_<aspect>.rs` (`int4_`, `groups_`, `blocks_`, `codebook_`, `stats_`,
//! `abi_`; `tests/README.md` lists them).
//!
//! - this file: the built libraries, the C/C++ compiler, compiling, linking and running the C
//!   programs of `examples-c/` and `tests/c/` (`tests/abi_c_programs.rs`,
//!   `tests/abi_header_c.rs`);
//! - [`alloc`]: the counting global allocator (`tests/abi_threads.rs`,
//!   `tests/abi_dispatch_init.rs`);
//! - [`golden`]: paths and loaders for `tests/data/` (raw bytes, float32 files, ggml's cases.json);
//! - [`sentinel`]: sentinel values and misaligned pointers;
//! - [`check_order`]: the contract's check order (docs/contract.md §4.6), written once; the fuzz
//!   crate's oracle (`fuzz/src/expect.rs`) compiles the same file;
//! - [`order`]: the check-order cases of every fallible C function, as data
//!   (`tests/abi_check_order.rs` runs them against the C ABI and the Rust API).
//!
//! C programs: locating `libquantize.a` and the shared library, finding the C/C++ compiler
//! through the `cc` crate, compiling, linking and running.
//!
//! Where the libraries come from: `cargo test` compiles the library target once, with all its
//! crate types (`rlib`, `staticlib`, `cdylib`), into `target/[<triple>/]<profile>/deps/`, and
//! links this test executable, which lives in the same `deps/` directory, against that `rlib`.
//! So the static and shared libraries next to the executable are exactly the code under test.
//! (Cargo copies them up to `target/<profile>/` only for `cargo build`, so they are taken from
//! `deps/`.) The libraries are accepted only if they are at least as new as the `rlib` the
//! test was linked with; otherwise (a cargo that stopped building them for tests, or a stale
//! copy) the helper runs `cargo build --lib` for the same profile, target and target
//! directory and takes the files cargo reports. `QUANTIZE_TEST_REBUILD_LIB=1` forces that path.

#![allow(dead_code)]

pub mod alloc;
pub mod check_order;
pub mod golden;
pub mod order;
pub mod sentinel;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// The crate's library name (`[lib] name`).
pub const LIB_NAME: &str = "quantize";

/// The crate root.
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `include/`, holding the generated `quantize.h`.
pub fn include_dir() -> PathBuf {
    manifest_dir().join("include")
}

/// The generated C header.
pub fn header_path() -> PathBuf {
    include_dir().join("quantize.h")
}

/// A C or C++ source under `examples-c/`.
pub fn example_source(file: &str) -> PathBuf {
    manifest_dir().join("examples-c").join(file)
}

/// A C test program under `tests/c/`.
pub fn c_test_source(file: &str) -> PathBuf {
    manifest_dir().join("tests").join("c").join(file)
}

/// Where cargo put this test executable.
#[derive(Debug)]
pub struct BuildLayout {
    /// `target/[<triple>/]<profile>/deps`
    pub deps_dir: PathBuf,
    /// `target/[<triple>/]<profile>`
    pub profile_dir: PathBuf,
    /// The cargo target directory.
    pub target_dir: PathBuf,
    /// `Some(triple)` when cargo was given `--target`.
    pub target_triple: Option<String>,
    /// The profile's directory name: `debug` for dev/test, `release`, or a custom profile.
    pub profile_dir_name: String,
}

/// The layout, derived from the path of the running test executable:
/// `target/[<triple>/]<profile>/deps/<test>-<hash>`.
pub fn layout() -> &'static BuildLayout {
    static LAYOUT: OnceLock<BuildLayout> = OnceLock::new();
    LAYOUT.get_or_init(|| {
        let exe = std::env::current_exe().expect("path of the test executable");
        let deps_dir = exe
            .parent()
            .expect("test executable has a directory")
            .to_path_buf();
        assert_eq!(
            deps_dir.file_name().and_then(|n| n.to_str()),
            Some("deps"),
            "expected the test executable in target/<profile>/deps/, found {}",
            exe.display()
        );
        let profile_dir = deps_dir.parent().expect("deps/ has a parent").to_path_buf();
        let profile_dir_name = file_name_string(&profile_dir);
        let above = profile_dir
            .parent()
            .expect("profile dir has a parent")
            .to_path_buf();
        // Cargo writes CACHEDIR.TAG at the root of the target directory; with --target there
        // is one more level, target/<triple>/<profile>.
        let (target_dir, target_triple) = match above.parent() {
            Some(root)
                if !above.join("CACHEDIR.TAG").exists() && root.join("CACHEDIR.TAG").exists() =>
            {
                (root.to_path_buf(), Some(file_name_string(&above)))
            }
            _ => (above, None),
        };
        BuildLayout {
            deps_dir,
            profile_dir,
            target_dir,
            target_triple,
            profile_dir_name,
        }
    })
}

fn file_name_string(p: &Path) -> String {
    p.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_else(|| panic!("unexpected directory name in {}", p.display()))
        .to_string()
}

/// The built libraries the C programs link against.
#[derive(Debug)]
pub struct Libraries {
    pub static_lib: PathBuf,
    pub shared_lib: PathBuf,
    /// How they were found, for messages.
    pub origin: String,
}

fn static_lib_file() -> String {
    if cfg!(target_env = "msvc") {
        format!("{LIB_NAME}.lib")
    } else {
        format!("lib{LIB_NAME}.a")
    }
}

fn shared_lib_file() -> String {
    format!(
        "{}{LIB_NAME}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The newest `libquantize[-<hash>].rlib` in `dir`: the one this test executable links.
fn newest_rlib(dir: &Path) -> Option<(PathBuf, SystemTime)> {
    let plain = format!("lib{LIB_NAME}.rlib");
    let hashed = format!("lib{LIB_NAME}-");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name == plain || (name.starts_with(&hashed) && name.ends_with(".rlib"))
        })
        .filter_map(|e| Some((e.path(), mtime(&e.path())?)))
        .max_by_key(|(_, t)| *t)
}

/// Locates (or, failing that, builds) the static and shared libraries. Panics with a clear
/// message if neither works.
pub fn libraries() -> &'static Libraries {
    static LIBS: OnceLock<Libraries> = OnceLock::new();
    LIBS.get_or_init(|| {
        let l = layout();
        let forced = std::env::var_os("QUANTIZE_TEST_REBUILD_LIB").is_some_and(|v| v == "1");
        if !forced {
            if let Some(found) = libraries_next_to_test(l) {
                return found;
            }
        }
        libraries_from_cargo_build(l)
    })
}

fn libraries_next_to_test(l: &BuildLayout) -> Option<Libraries> {
    let static_lib = l.deps_dir.join(static_lib_file());
    let shared_lib = l.deps_dir.join(shared_lib_file());
    let (rlib, rlib_time) = newest_rlib(&l.deps_dir)?;
    // One rustc invocation writes the rlib, the staticlib and the cdylib (LTO can make the
    // last two later, never earlier); a minute of slack covers coarse file-system clocks.
    let fresh = |p: &Path| mtime(p).is_some_and(|t| t + Duration::from_secs(60) >= rlib_time);
    if fresh(&static_lib) && fresh(&shared_lib) {
        Some(Libraries {
            static_lib,
            shared_lib,
            origin: format!("built by cargo test next to {}", rlib.display()),
        })
    } else {
        eprintln!(
            "note: {} / {} missing or older than {}; running cargo build --lib",
            static_lib.display(),
            shared_lib.display(),
            rlib.display()
        );
        None
    }
}

fn libraries_from_cargo_build(l: &BuildLayout) -> Libraries {
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(OsString::from))
        .unwrap_or_else(|| OsString::from("cargo"));
    let profile = match l.profile_dir_name.as_str() {
        "debug" => "dev",
        other => other,
    };
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(manifest_dir())
        .args(["build", "--lib", "--message-format=json-render-diagnostics"])
        .args(["--profile", profile])
        .env("CARGO_TARGET_DIR", &l.target_dir);
    if let Some(triple) = &l.target_triple {
        cmd.args(["--target", triple]);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut files = Vec::new();
    for line in stdout.lines() {
        if line.contains("\"reason\":\"compiler-artifact\"")
            && line.contains(&format!("\"name\":\"{LIB_NAME}\""))
        {
            files.extend(json_string_array(line, "\"filenames\":["));
        }
    }
    let pick = |file: &str| {
        files
            .iter()
            .map(PathBuf::from)
            .find(|p| p.file_name().is_some_and(|n| n == file))
            .unwrap_or_else(|| panic!("cargo build reported no {file}; artifacts: {files:?}"))
    };
    Libraries {
        static_lib: pick(&static_lib_file()),
        shared_lib: pick(&shared_lib_file()),
        origin: format!("reported by {cmd:?}"),
    }
}

/// The strings of the JSON array that follows `key` in `line` (enough JSON for cargo's paths).
fn json_string_array(line: &str, key: &str) -> Vec<String> {
    let Some(start) = line.find(key) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut chars = line[start + key.len()..].chars();
    let mut current: Option<String> = None;
    while let Some(c) = chars.next() {
        match (&mut current, c) {
            (None, ']') => break,
            (None, '"') => current = Some(String::new()),
            (None, _) => {}
            (Some(s), '\\') => {
                if let Some(e) = chars.next() {
                    s.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                }
            }
            (Some(_), '"') => out.extend(current.take()),
            (Some(s), other) => s.push(other),
        }
    }
    out
}

/// A scratch directory for compiled programs: `target/<profile>/c-tests/`.
pub fn scratch_dir() -> PathBuf {
    let dir = layout().profile_dir.join("c-tests");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

/// The target triple the library was built for, which the compiler must target too.
pub fn target_triple() -> String {
    if let Some(t) = &layout().target_triple {
        return t.clone();
    }
    if let Some(t) = host_triple_from_cfg() {
        return t.to_string();
    }
    // Not a host we know by its cfg: ask rustc (the same toolchain cargo runs under rustup).
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .unwrap_or_else(|e| panic!("running {rustc:?} -vV to learn the host triple: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .expect("rustc -vV printed no host line")
}

fn host_triple_from_cfg() -> Option<&'static str> {
    let t = if cfg!(all(
        target_arch = "x86_64",
        target_os = "linux",
        target_env = "gnu"
    )) {
        "x86_64-unknown-linux-gnu"
    } else if cfg!(all(
        target_arch = "x86_64",
        target_os = "linux",
        target_env = "musl"
    )) {
        "x86_64-unknown-linux-musl"
    } else if cfg!(all(
        target_arch = "aarch64",
        target_os = "linux",
        target_env = "gnu"
    )) {
        "aarch64-unknown-linux-gnu"
    } else if cfg!(all(
        target_arch = "aarch64",
        target_os = "linux",
        target_env = "musl"
    )) {
        "aarch64-unknown-linux-musl"
    } else if cfg!(all(target_arch = "aarch64", target_os = "macos")) {
        "aarch64-apple-darwin"
    } else if cfg!(all(target_arch = "x86_64", target_os = "macos")) {
        "x86_64-apple-darwin"
    } else {
        return None;
    };
    Some(t)
}

/// Source language and standard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    C99,
    C11,
    Cxx17,
}

impl Lang {
    fn std_flag(self) -> &'static str {
        match self {
            Lang::C99 => "-std=c99",
            Lang::C11 => "-std=c11",
            Lang::Cxx17 => "-std=c++17",
        }
    }
}

/// How to link a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Compile only (`-c`): for header checks.
    CompileOnly,
    /// Against `libquantize.a` and the system libraries Rust's standard library needs.
    Static,
    /// Against the shared library, found at run time through an rpath.
    Shared,
}

impl Link {
    pub fn name(self) -> &'static str {
        match self {
            Link::CompileOnly => "object",
            Link::Static => "static",
            Link::Shared => "shared",
        }
    }
}

/// The C or C++ compiler, as the `cc` crate finds it (honouring `CC`/`CXX`, `CFLAGS`, ...).
/// Outside a build script cargo sets no `TARGET`/`HOST`/`OPT_LEVEL`, so they are given here.
pub fn compiler(lang: Lang) -> cc::Tool {
    let triple = target_triple();
    let mut build = cc::Build::new();
    build
        .cpp(lang == Lang::Cxx17)
        .target(&triple)
        .host(&triple)
        .opt_level(2)
        .debug(true)
        .out_dir(scratch_dir())
        .cargo_metadata(false)
        .cargo_warnings(false)
        .cargo_debug(false)
        .emit_rerun_if_env_changed(false)
        .inherit_rustflags(false);
    build
        .try_get_compiler()
        .unwrap_or_else(|e| panic!("the cc crate found no compiler for {triple}: {e}"))
}

/// The warning flags every C and C++ file of this project must pass cleanly.
pub const STRICT_FLAGS: &[&str] = &["-Wall", "-Wextra", "-Wpedantic", "-Werror"];

/// System libraries a Rust staticlib needs (what `rustc --print native-static-libs` reports),
/// plus libm for the programs themselves.
fn static_link_libs() -> &'static [&'static str] {
    if cfg!(target_os = "macos") {
        &["-lSystem", "-lc", "-lm"]
    } else {
        &[
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ]
    }
}

/// Compiles `sources` with the strict flags plus `extra_flags` and links them as `link` says.
/// Returns the output path (`target/<profile>/c-tests/<name>-<link>`). Panics with the
/// compiler's message on failure.
pub fn build(name: &str, sources: &[PathBuf], lang: Lang, link: Link, extra: &[&str]) -> PathBuf {
    // tests run in parallel threads named after the test: one output file per test
    let test = std::thread::current().name().map_or(0u64, |n| {
        n.bytes().fold(0xcbf29ce484222325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
        })
    });
    let out = scratch_dir().join(format!(
        "{name}-{}-{test:016x}{}",
        link.name(),
        if link == Link::CompileOnly { ".o" } else { "" }
    ));
    let _ = std::fs::remove_file(&out);
    let mut cmd = compiler(lang).to_command();
    cmd.arg(lang.std_flag())
        .args(STRICT_FLAGS)
        .args(extra)
        .arg("-I")
        .arg(include_dir());
    if link == Link::CompileOnly {
        cmd.arg("-c");
    }
    cmd.args(sources).arg("-o").arg(&out);
    match link {
        Link::CompileOnly => {}
        Link::Static => {
            cmd.arg(&libraries().static_lib).args(static_link_libs());
        }
        Link::Shared => {
            let dir = shared_lib_dir();
            let mut rpath = OsString::from("-Wl,-rpath,");
            rpath.push(dir);
            cmd.arg("-L").arg(dir).arg(rpath);
            cmd.arg(format!("-l{LIB_NAME}")).arg("-lm");
        }
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run the compiler {}: {e}", show(&cmd)));
    assert!(
        output.status.success(),
        "compiling {name} ({}, {link:?}) failed:\n{}\n{}{}",
        lang.std_flag(),
        show(&cmd),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if link == Link::Shared && cfg!(target_os = "linux") {
        assert_needs_shared_library(&out);
    }
    out
}

/// A directory holding the shared library under its link name (`libquantize.so`) and, on ELF
/// systems, under the SONAME build.rs gives it (`libquantize.so.<MAJOR>`), which is what a
/// program linked against it asks the loader for: the layout `make install` creates.
fn shared_lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let lib = &libraries().shared_lib;
        let dir = scratch_dir().join("shared-lib");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let soname = format!("{}.{}", shared_lib_file(), env!("CARGO_PKG_VERSION_MAJOR"));
        for name in [shared_lib_file(), soname] {
            // a fresh link under a unique name, renamed over the old one (atomic)
            let link = dir.join(&name);
            let tmp = dir.join(format!("{name}.{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            #[cfg(unix)]
            let made = std::os::unix::fs::symlink(lib, &tmp);
            #[cfg(not(unix))]
            let made = std::fs::copy(lib, &tmp).map(|_| ());
            made.and_then(|()| std::fs::rename(&tmp, &link))
                .unwrap_or_else(|e| panic!("linking {} to {}: {e}", link.display(), lib.display()));
        }
        dir
    })
}

/// The program and its arguments (cc's commands carry the whole environment, too long to show).
fn show(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The program was really linked dynamically: its dynamic section names the shared library.
fn assert_needs_shared_library(exe: &Path) {
    let bytes = std::fs::read(exe).unwrap_or_else(|e| panic!("reading {}: {e}", exe.display()));
    let needle = shared_lib_file();
    assert!(
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
        "{} does not reference {needle}: not linked against the shared library",
        exe.display()
    );
}

/// Runs a built program with `env` added (and `QUANTIZE_MAX_ISA` cleared unless given).
///
/// `cargo test` puts `target/<profile>` and `target/<profile>/deps` on the library search path
/// (`LD_LIBRARY_PATH`, which outranks an rpath), and `target/<profile>` may hold an older
/// shared library from an earlier `cargo build`: the directory of the library under test goes
/// first.
pub fn run(exe: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(exe);
    cmd.env_remove("QUANTIZE_MAX_ISA");
    let var = if cfg!(target_os = "macos") {
        "DYLD_LIBRARY_PATH"
    } else {
        "LD_LIBRARY_PATH"
    };
    let mut paths: Vec<PathBuf> = vec![shared_lib_dir().to_path_buf()];
    if let Some(old) = std::env::var_os(var) {
        paths.extend(std::env::split_paths(&old));
    }
    cmd.env(
        var,
        std::env::join_paths(paths).expect("library search path"),
    );
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", exe.display()))
}

/// Runs a program and asserts exit status 0, returning its standard output.
pub fn run_ok(exe: &Path, env: &[(&str, &str)]) -> String {
    let out = run(exe, env);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} (env {env:?}) exited with {}\n--- stderr ---\n{stderr}\n--- stdout (last 40 lines) \
         ---\n{}",
        exe.display(),
        out.status,
        tail(&stdout, 40)
    );
    stdout
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    let mut out = String::new();
    for l in &all[all.len().saturating_sub(lines)..] {
        let _ = writeln!(out, "{l}");
    }
    out
}

/// Fails with a clear message if the header has not been generated yet.
pub fn require_header() {
    assert!(
        header_path().exists(),
        "{} does not exist: generate it (cbindgen) before running the C tests",
        header_path().display()
    );
}
