//! The generated header `include/quantize.h` from the C side: it compiles cleanly as C99, C11
//! and C++17 with `-Wall -Wextra -Wpedantic -Werror`; a C++ program that includes it links and
//! runs; every function it declares links against the static and the shared library; its
//! names follow docs/contract.md §3.2; and its version macros equal the crate version.

mod common;

use common::{build, example_source, require_header, run_ok, scratch_dir, Lang, Link};
use std::path::PathBuf;

/// The block-format functions of docs/contract.md §3.2 (ggml/GGUF formats).
const DESIGN_BLOCK_FUNCTIONS: &[&str] = &[
    "quantize_block_elements",
    "quantize_block_bytes",
    "quantize_blocks",
    "dequantize_blocks",
];

/// Every other function of docs/contract.md §3.2: the header must declare at least these.
const DESIGN_FUNCTIONS: &[&str] = &[
    "quantize_to_int4",
    "dequantize_from_int4",
    "pack_int4_to_int8",
    "unpack_int8_to_int4",
    "quantize_to_int4_packed",
    "dequantize_from_int4_packed",
    "quantize_int4_groups",
    "dequantize_int4_groups",
    "quantize_measure_error",
    "quantize_packed_len",
    "quantize_group_count",
    "quantize_status_message",
    "quantize_version",
    "quantize_version_number",
    "quantize_kernel_name",
];

fn header_text() -> String {
    require_header();
    let path = common::header_path();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The header without comments (string literals such as `extern "C"` are kept intact).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                out.extend(chars.next());
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('*')) => {
                chars.next();
                let mut prev = ' ';
                for d in chars.by_ref() {
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
                out.push(' ');
            }
            ('/', Some('/')) => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Logical preprocessor lines (`#...`, continuation lines joined) and the remaining C text.
fn split_preprocessor(text: &str) -> (Vec<String>, String) {
    let mut directives = Vec::new();
    let mut code = String::new();
    let mut pending: Option<String> = None;
    for line in text.lines() {
        if let Some(mut d) = pending.take() {
            d.push(' ');
            d.push_str(line.trim_end_matches('\\'));
            if line.ends_with('\\') {
                pending = Some(d);
            } else {
                directives.push(d);
            }
            continue;
        }
        if line.trim_start().starts_with('#') {
            let d = line.trim().trim_end_matches('\\').to_string();
            if line.ends_with('\\') {
                pending = Some(d);
            } else {
                directives.push(d);
            }
        } else {
            code.push_str(line);
            code.push('\n');
        }
    }
    directives.extend(pending);
    (directives, code)
}

fn trailing_identifier(s: &str) -> &str {
    let s = s.trim_end();
    let start = s
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
        .last()
        .map_or(s.len(), |(i, _)| i);
    &s[start..]
}

/// The names of the functions the header declares: every declaration `type name(...)` outside
/// typedefs, found by splitting the comment- and preprocessor-free text into statements.
fn declared_functions(header: &str) -> Vec<String> {
    let (_, code) = split_preprocessor(&strip_comments(header));
    let mut names = Vec::new();
    for stmt in code.split([';', '{', '}']) {
        let stmt = stmt.trim();
        if stmt.starts_with("typedef") {
            continue;
        }
        if let Some(open) = stmt.find('(') {
            let before = &stmt[..open];
            let name = trailing_identifier(before);
            // a declaration has a return type before the name
            if !name.is_empty() && before.trim_end().len() > name.len() {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// The macro names the header defines (`#define NAME ...`).
fn defined_macros(header: &str) -> Vec<String> {
    let (directives, _) = split_preprocessor(&strip_comments(header));
    directives
        .iter()
        .filter_map(|d| {
            let rest = d.trim_start_matches('#').trim_start();
            let rest = rest.strip_prefix("define")?;
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            Some(name)
        })
        .collect()
}

fn write_scratch(name: &str, text: &str) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// A translation unit that includes the header first (so it must be self-contained) and twice
/// (so it must have an include guard).
fn include_twice_source(name: &str) -> PathBuf {
    write_scratch(
        name,
        "#include \"quantize.h\"\n#include \"quantize.h\"\n\
         int quantize_header_check(void);\n\
         int quantize_header_check(void) { return (int)sizeof(quantize_error_stats); }\n",
    )
}

#[test]
fn header_compiles_without_warnings_as_c99() {
    require_header();
    let src = include_twice_source("header_c99.c");
    build(
        "header_c99",
        &[src],
        Lang::C99,
        Link::CompileOnly,
        &["-Wstrict-prototypes"],
    );
}

#[test]
fn header_compiles_without_warnings_as_c11() {
    require_header();
    let src = include_twice_source("header_c11.c");
    build(
        "header_c11",
        &[src],
        Lang::C11,
        Link::CompileOnly,
        &["-Wstrict-prototypes"],
    );
}

#[test]
fn header_compiles_without_warnings_as_cxx17() {
    require_header();
    let src = include_twice_source("header_cxx17.cpp");
    build("header_cxx17", &[src], Lang::Cxx17, Link::CompileOnly, &[]);
}

#[test]
fn cxx17_program_including_header_links_statically_and_runs() {
    require_header();
    let exe = build(
        "header_cxx",
        &[example_source("header_cxx.cpp")],
        Lang::Cxx17,
        Link::Static,
        &[],
    );
    let out = run_ok(&exe, &[]);
    assert!(out.contains("header_cxx: ok"), "unexpected output:\n{out}");
}

#[test]
fn cxx17_program_including_header_links_dynamically_and_runs() {
    require_header();
    let exe = build(
        "header_cxx",
        &[example_source("header_cxx.cpp")],
        Lang::Cxx17,
        Link::Shared,
        &[],
    );
    let out = run_ok(&exe, &[]);
    assert!(out.contains("header_cxx: ok"), "unexpected output:\n{out}");
}

#[test]
fn header_declares_every_function_of_the_design_contract() {
    let declared = declared_functions(&header_text());
    let missing: Vec<&&str> = DESIGN_FUNCTIONS
        .iter()
        .filter(|f| !declared.iter().any(|d| d == *f))
        .collect();
    assert!(
        missing.is_empty(),
        "missing from quantize.h: {missing:?}; declared: {declared:?}"
    );
}

/// The block formats arrive with their own branch: until the header has any of them (the type
/// `quantize_block_format`, a `QUANTIZE_FORMAT_` constant or one of the functions) this only
/// notes their absence; from then on all four functions must be declared.
#[test]
fn header_declares_all_block_format_functions_once_it_has_any() {
    let text = header_text();
    let declared = declared_functions(&text);
    let has_any = text.contains("quantize_block_format")
        || text.contains("QUANTIZE_FORMAT_")
        || DESIGN_BLOCK_FUNCTIONS
            .iter()
            .any(|f| declared.iter().any(|d| d == f));
    if !has_any {
        eprintln!("note: quantize.h has no block formats yet (docs/contract.md §3.2)");
        return;
    }
    let missing: Vec<&&str> = DESIGN_BLOCK_FUNCTIONS
        .iter()
        .filter(|f| !declared.iter().any(|d| d == *f))
        .collect();
    assert!(missing.is_empty(), "missing from quantize.h: {missing:?}");
}

#[test]
fn header_names_follow_the_design_naming_rules() {
    let text = header_text();
    for f in declared_functions(&text) {
        assert!(
            ["quantize_", "dequantize_", "pack_", "unpack_"]
                .iter()
                .any(|p| f.starts_with(p)),
            "function {f} is not verb-first with a quantize/dequantize/pack/unpack prefix"
        );
    }
    let macros = defined_macros(&text);
    assert!(
        macros.iter().any(|m| m == "QUANTIZE_PACKED_LEN"),
        "no QUANTIZE_PACKED_LEN macro; macros: {macros:?}"
    );
    for m in macros {
        assert!(
            m.starts_with("QUANTIZE_"),
            "macro {m} lacks the QUANTIZE_ prefix"
        );
    }
}

#[test]
fn header_function_parser_finds_declarations_and_skips_everything_else() {
    // the parser of the link test, on a header shaped like cbindgen's output
    let sample = r#"
#ifndef QUANTIZE_H
#define QUANTIZE_H
#define QUANTIZE_PACKED_LEN(n) \
    ((n) / 2 + (n) % 2)
typedef int32_t quantize_status;
typedef struct quantize_error_stats {
  double mean_abs_error, max_abs_error;
  size_t max_abs_index;
} quantize_error_stats;
typedef void (*quantize_callback)(int);
#ifdef __cplusplus
extern "C" {
#endif // __cplusplus
/**
 * Quantizes (see quantize_fake(int) in this comment).
 */
quantize_status quantize_to_int4(const float *src,
                                 size_t n);
// const char *quantize_commented_out(void);
const char *quantize_version(void);
#ifdef __cplusplus
}  // extern "C"
#endif
#endif
"#;
    assert_eq!(
        declared_functions(sample),
        ["quantize_to_int4", "quantize_version"]
    );
    assert_eq!(
        defined_macros(sample),
        ["QUANTIZE_H", "QUANTIZE_PACKED_LEN"]
    );
}

/// A C file that takes the address of every function the header declares, so linking fails if
/// any of them is not exported; it prints how many it found.
fn every_symbol_source(functions: &[String]) -> PathBuf {
    let mut src = String::from(
        "#include <stdio.h>\n#include <string.h>\n#include \"quantize.h\"\n\n\
         typedef void (*quantize_any_fn)(void);\n\n\
         static const quantize_any_fn functions[] = {\n",
    );
    for f in functions {
        src.push_str(&format!("    (quantize_any_fn)&{f},\n"));
    }
    src.push_str("};\n\nstatic const char *const names[] = {\n");
    for f in functions {
        src.push_str(&format!("    \"{f}\",\n"));
    }
    src.push_str(
        "};\n\n\
         int main(void)\n{\n\
         \x20   size_t i, count = sizeof functions / sizeof functions[0];\n\
         \x20   unsigned long sum = 0;\n\
         \x20   for (i = 0; i < count; i++) {\n\
         \x20       unsigned char bytes[sizeof(quantize_any_fn)];\n\
         \x20       size_t j;\n\
         \x20       if (functions[i] == NULL) {\n\
         \x20           fprintf(stderr, \"%s has a NULL address\\n\", names[i]);\n\
         \x20           return 1;\n\
         \x20       }\n\
         \x20       memcpy(bytes, &functions[i], sizeof bytes);\n\
         \x20       for (j = 0; j < sizeof bytes; j++) sum = sum * 31u + bytes[j];\n\
         \x20   }\n\
         \x20   printf(\"linked %lu functions (%lx)\\n\", (unsigned long)count, sum);\n\
         \x20   return 0;\n}\n",
    );
    write_scratch("every_symbol.c", &src)
}

fn check_every_symbol_links(link: Link) {
    let functions = declared_functions(&header_text());
    assert!(
        functions.len() >= DESIGN_FUNCTIONS.len(),
        "found only {} functions in the header: {functions:?}",
        functions.len()
    );
    let src = every_symbol_source(&functions);
    let exe = build("every_symbol", &[src], Lang::C99, link, &[]);
    let out = run_ok(&exe, &[]);
    assert!(
        out.starts_with(&format!("linked {} functions", functions.len())),
        "unexpected output {out:?}"
    );
}

#[test]
fn every_function_declared_in_header_links_from_static_library() {
    check_every_symbol_links(Link::Static);
}

#[test]
fn every_function_declared_in_header_links_from_shared_library() {
    check_every_symbol_links(Link::Shared);
}

#[test]
fn header_version_macros_equal_crate_version() {
    require_header();
    let (major, minor, patch) = (
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
    );
    let number: u32 = major.parse::<u32>().expect("major") * 10000
        + minor.parse::<u32>().expect("minor") * 100
        + patch.parse::<u32>().expect("patch");
    let src = write_scratch(
        "header_version.c",
        &format!(
            "#include \"quantize.h\"\n\
             #if QUANTIZE_VERSION_MAJOR != {major}\n#error QUANTIZE_VERSION_MAJOR is not {major}\n#endif\n\
             #if QUANTIZE_VERSION_MINOR != {minor}\n#error QUANTIZE_VERSION_MINOR is not {minor}\n#endif\n\
             #if QUANTIZE_VERSION_PATCH != {patch}\n#error QUANTIZE_VERSION_PATCH is not {patch}\n#endif\n\
             #if QUANTIZE_VERSION_NUMBER != {number}\n#error QUANTIZE_VERSION_NUMBER is not {number}\n#endif\n\
             int quantize_version_check(void);\n\
             int quantize_version_check(void) {{ return 0; }}\n"
        ),
    );
    build("header_version", &[src], Lang::C99, Link::CompileOnly, &[]);
}
